package dev.ocirender.source;

import java.io.IOException;

/**
 * An image cannot be resolved or read as asked: a missing tag or blob, no manifest for the platform,
 * malformed JSON, an unsupported transport. The message says the action and the subject, starting
 * with the reference as the user gave it, e.g.
 * {@code oci:/x/img:v1: no manifest for platform linux/s390x; available: linux/amd64, linux/arm64/v8}.
 *
 * <p>Content that does not match its digest or size is reported by
 * {@link dev.ocirender.image.VerifyingInputStream.DigestMismatchException} instead, so callers can
 * tell corrupt data from a wrong request.
 */
public class ImageSourceException extends IOException {
  private static final long serialVersionUID = 1L;

  public ImageSourceException(String message) {
    super(message);
  }

  public ImageSourceException(String message, Throwable cause) {
    super(message, cause);
  }
}
