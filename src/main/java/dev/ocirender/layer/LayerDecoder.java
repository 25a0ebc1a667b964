package dev.ocirender.layer;

import dev.ocirender.image.Digest;
import java.io.IOException;
import java.io.InputStream;

/** STUB: replaced by the layer-decoding work. */
public final class LayerDecoder {
  private LayerDecoder() {}

  public static InputStream decode(LayerBlob layer, InputStream raw, Digest verifyUncompressed) throws IOException {
    throw new UnsupportedOperationException("stub");
  }
}
