package dev.ocirender.layer.decoded;

import com.sun.jna.LastErrorException;
import com.sun.jna.Library;
import com.sun.jna.Native;
import dev.ocirender.io.NativeLibraries;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Locale;

/**
 * Temporary files that never have a name: Linux {@code open(dir, O_TMPFILE)}.
 *
 * <p>Why: a named temporary file, even one unlinked right after it is opened, is in its directory
 * for a moment (longer when the JVM stops the opening thread at a safepoint between the two calls),
 * so a crash then leaves it behind and anyone listing the directory sees it. An unnamed file is
 * never in the directory. Where this is not available (another system or CPU, a file system
 * without O_TMPFILE, no /proc), {@link #open} returns null and the caller makes a named file.
 */
final class UnnamedFile {

  private interface LibC extends Library {
    int open(String path, int flags, int mode) throws LastErrorException;

    int close(int fd) throws LastErrorException;
  }

  private static final int O_RDWR = 02;
  private static final int O_TMPFILE = tmpfileFlag();
  private static final LibC LIBC = O_TMPFILE == 0 ? null : load();

  private UnnamedFile() {}

  /** O_TMPFILE (which includes O_DIRECTORY, whose value differs between CPUs), or 0 if unknown here. */
  private static int tmpfileFlag() {
    if (!System.getProperty("os.name", "").toLowerCase(Locale.ROOT).equals("linux")) {
      return 0;
    }
    return switch (System.getProperty("os.arch", "")) {
      case "amd64", "x86_64" -> 020000000 | 0200000;
      case "aarch64" -> 020000000 | 040000;
      default -> 0;
    };
  }

  private static LibC load() {
    NativeLibraries.prepare();
    try {
      return Native.load("c", LibC.class);
    } catch (Throwable t) {
      return null; // no JNA native support here: named files instead
    }
  }

  /** A new empty file in {@code dir} with no name, open for reading and writing; null if not possible here. */
  static FileChannel open(Path dir) {
    if (LIBC == null) {
      return null;
    }
    int fd;
    try {
      fd = LIBC.open(dir.toString(), O_TMPFILE | O_RDWR, 0600);
    } catch (LastErrorException e) {
      return null; // e.g. EOPNOTSUPP: this file system has no O_TMPFILE
    }
    try {
      // The /proc link opens the same (nameless) file; FileChannel has no way to adopt a raw fd.
      return FileChannel.open(Path.of("/proc/self/fd/" + fd), StandardOpenOption.READ, StandardOpenOption.WRITE);
    } catch (IOException e) {
      return null;
    } finally {
      try {
        LIBC.close(fd);
      } catch (LastErrorException e) {
        // the channel holds its own descriptor
      }
    }
  }
}
