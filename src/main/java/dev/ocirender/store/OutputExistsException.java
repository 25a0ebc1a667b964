package dev.ocirender.store;

import java.io.IOException;

/**
 * Publishing lost a race: the output already existed (or changed) when the store tried to put the
 * new one in place, so nothing was overwritten.
 */
public final class OutputExistsException extends IOException {
  private static final long serialVersionUID = 1L;

  public OutputExistsException(String message, Throwable cause) {
    super(message, cause);
  }
}
