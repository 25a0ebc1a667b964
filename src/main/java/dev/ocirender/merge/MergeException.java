package dev.ocirender.merge;

import java.io.IOException;

/** A layer that cannot be merged; the message names the layer and the entry. */
public class MergeException extends IOException {
  private static final long serialVersionUID = 1L;

  public MergeException(String message, Throwable cause) {
    super(message, cause);
  }

  public MergeException(String message) {
    super(message);
  }
}
