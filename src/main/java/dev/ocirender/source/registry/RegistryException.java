package dev.ocirender.source.registry;

import dev.ocirender.source.ImageSourceException;

/**
 * A registry refused or failed a request: HTTP errors, authentication failures, and retries given up.
 * The message says the action and the subject (registry, repository, digest) and the last cause, e.g.
 * {@code pulling blob sha256:… from 127.0.0.1:5000/app: gave up after 6 attempts: HTTP 503 Service Unavailable}.
 * Messages never contain credentials or tokens.
 */
public class RegistryException extends ImageSourceException {
  private static final long serialVersionUID = 1L;

  private final int status;

  public RegistryException(String message) {
    this(message, 0, null);
  }

  public RegistryException(String message, int status, Throwable cause) {
    super(message, cause);
    this.status = status;
  }

  /** The HTTP status that caused this, or 0 when it was not an HTTP status. */
  public int status() {
    return status;
  }
}
