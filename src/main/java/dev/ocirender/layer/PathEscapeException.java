package dev.ocirender.layer;

import java.io.IOException;

/** A tar entry whose name (or hard-link target) climbs above the image root with {@code ..}. */
public final class PathEscapeException extends IOException {
  private static final long serialVersionUID = 1L;

  public PathEscapeException(String path) {
    super("path escapes the image root: " + path);
  }
}
