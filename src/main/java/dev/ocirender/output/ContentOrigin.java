package dev.ocirender.output;

import dev.ocirender.image.Digest;
import dev.ocirender.layer.LayerBlob;
import java.util.Objects;

/**
 * Where a regular file's content comes from: the {@code ordinal}-th entry of a content-addressed
 * layer, {@code size} bytes long. Layer blobs are verified against their digest, and decoding is a
 * function of the blob, so this names the bytes exactly without hashing them: a sink that caches
 * work per content (the squashfs writer's compressed blocks) keys it by this.
 *
 * <p>The merge hands it beside the content stream ({@link EntrySink#accept(dev.ocirender.layer.EntryHeader,
 * java.io.InputStream, ContentOrigin)}); sinks that do not cache ignore it. It is absent (null)
 * wherever the merge cannot vouch for it.
 *
 * @param layer the digest that pins the layer's bytes: its decoded (diff ID) digest when that is
 *     what the source verifies, else the blob's descriptor digest
 * @param ordinal the entry's 0-based position among the entries of the layer's tar stream
 * @param size the content length
 */
public record ContentOrigin(Digest layer, long ordinal, long size) {

  public ContentOrigin {
    Objects.requireNonNull(layer, "layer");
    if (ordinal < 0 || size < 0) {
      throw new IllegalArgumentException("content origin needs ordinal and size >= 0, not " + ordinal + ", " + size);
    }
  }

  /** The origin of entry {@code ordinal} of {@code layer}. */
  public static ContentOrigin of(LayerBlob layer, long ordinal, long size) {
    Digest pinned = layer.verifyUncompressed() != null ? layer.verifyUncompressed() : layer.descriptor().digest();
    return new ContentOrigin(pinned, ordinal, size);
  }
}
