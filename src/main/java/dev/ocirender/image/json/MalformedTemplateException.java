package dev.ocirender.image.json;

import java.io.IOException;

/**
 * JSON that parsed but does not make a valid document of its kind: a descriptor without a digest,
 * a malformed digest, a negative size. Sources catch it and say which blob it came from.
 */
public final class MalformedTemplateException extends IOException {
  private static final long serialVersionUID = 1L;

  public MalformedTemplateException(String message) {
    super(message);
  }

  public MalformedTemplateException(String message, Throwable cause) {
    super(message, cause);
  }
}
