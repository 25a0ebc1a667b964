package dev.ocirender.render;

import dev.ocirender.image.Messages;
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
    super(Messages.oneLine(Messages.within(reference, detail)), cause);
    this.reference = reference;
  }

  /** The image reference as the user gave it. */
  public String reference() {
    return reference;
  }

}
