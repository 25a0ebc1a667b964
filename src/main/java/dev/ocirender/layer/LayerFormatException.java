package dev.ocirender.layer;

import java.io.IOException;

/**
 * A layer whose bytes are not what they claim to be: a corrupt or truncated tar archive, malformed
 * PAX records, a bad sparse map, corrupt compressed data, or a media type we cannot decode.
 *
 * <p>The message always names the subject: the entry ({@code entry 'usr/bin/x': ...}) or the layer
 * ({@code layer 1 (sha256:...): ...}). It is an {@link IOException} because it surfaces while
 * streaming, next to genuine I/O failures, and fails the image the same way.
 */
public class LayerFormatException extends IOException {
  private static final long serialVersionUID = 1L;

  public LayerFormatException(String message) {
    super(message);
  }

  public LayerFormatException(String message, Throwable cause) {
    super(message, cause);
  }
}
