package dev.ocirender.image;

/**
 * One-line error text, shared by every layer that wraps an exception with its own context (the
 * merge adds layer and entry, the renderer adds the image). Lives in the lowest package so that
 * all of them describe causes the same way.
 */
public final class Messages {
  private Messages() {}

  /**
   * A one-line description of {@code t}. File-system exceptions from {@code java.nio} often carry
   * only a path as their message, so the reason is spelled out.
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

  /**
   * {@code context + ": " + detail}, unless {@code detail} already begins with that context (an
   * inner layer added it): each context appears once, e.g. never
   * {@code layer 2 (sha256:…): layer 2 (sha256:…): …}.
   */
  public static String within(String context, String detail) {
    String prefix = context + ": ";
    return detail.startsWith(prefix) ? detail : prefix + detail;
  }

  /** {@code detail} without a leading {@code context + ": "}, so a caller can put it back in its place. */
  public static String withoutContext(String context, String detail) {
    String prefix = context + ": ";
    return detail.startsWith(prefix) ? detail.substring(prefix.length()) : detail;
  }

  /** Folds line breaks (and the blanks around them) into single spaces. */
  public static String oneLine(String s) {
    return s.strip().replaceAll("\\s*[\\r\\n]+\\s*", " ");
  }
}
