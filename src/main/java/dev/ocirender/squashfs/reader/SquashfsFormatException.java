package dev.ocirender.squashfs.reader;

import java.io.IOException;

/**
 * A squashfs image that cannot be read: not squashfs, a version or compressor we do not read, or
 * damage. The message names what was being read (which table, which inode or path, which offset).
 */
public final class SquashfsFormatException extends IOException {
  private static final long serialVersionUID = 1L;

  public SquashfsFormatException(String message) {
    super(message);
  }

  public SquashfsFormatException(String message, Throwable cause) {
    super(message, cause);
  }
}
