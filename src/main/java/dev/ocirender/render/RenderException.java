package dev.ocirender.render;

import java.io.IOException;

/**
 * One image could not be rendered. The message is one line that names the image first, then the
 * layer and entry when they are known, e.g.
 * {@code oci:/x:v1: layer 2 (sha256:9f86d081884c): entry 'etc/x': path escapes the image root}.
 * The cause keeps the original exception for {@code --debug} and dead-letter records.
 */
public final class RenderException extends IOException {
  private static final long serialVersionUID = 1L;

  private final String reference;

  public RenderException(String reference, String detail, Throwable cause) {
    super(oneLine(reference + ": " + detail), cause);
    this.reference = reference;
  }

  /** The image reference as the user gave it. */
  public String reference() {
    return reference;
  }

  /**
   * A one-line description of {@code t} for an error message. File-system exceptions from
   * {@code java.nio} often carry only a path as their message, so the reason is spelled out.
   */
  public static String describe(Throwable t) {
    String message = t.getMessage();
    if (t instanceof java.nio.file.NoSuchFileException e) {
      message = "no such file: " + e.getFile();
    } else if (t instanceof java.nio.file.AccessDeniedException e) {
      message = "permission denied: " + e.getFile();
    } else if (t instanceof java.nio.file.FileAlreadyExistsException e) {
      message = "already exists: " + e.getFile();
    } else if (t instanceof java.nio.file.NotDirectoryException e) {
      message = "not a directory: " + e.getFile();
    } else if (message == null || message.isBlank()) {
      message = t.getClass().getSimpleName();
    }
    return oneLine(message);
  }

  static String oneLine(String s) {
    return s.strip().replaceAll("\\s*[\\r\\n]+\\s*", " ");
  }
}
