package dev.ocirender.layer;

import dev.ocirender.image.Descriptor;
import dev.ocirender.image.Digest;
import java.io.IOException;
import java.io.InputStream;
import java.util.Objects;

/**
 * One layer of a resolved image: its position, its descriptor, and a way to (re)open its bytes.
 *
 * <p>Re-openable on purpose: the merge never keeps file content in memory, so content it needs a
 * second time (a hard link promoted after its target was hidden) is read again from the blob.
 * {@link #openTar()} yields the decoded tar stream; the blob's own digest and size are verified by
 * the opener, and when the source knows the layer's uncompressed digest (its diff ID) only, as in
 * {@code docker save} archives, that digest is verified on the decoded bytes instead.
 */
public final class LayerBlob {

  /** Opens the raw (still compressed) blob, verified against the descriptor by the source. */
  @FunctionalInterface
  public interface Opener {
    InputStream open() throws IOException;
  }

  private final int index;
  private final Descriptor descriptor;
  private final Digest verifyUncompressed;
  private final Opener opener;

  /**
   * @param index 0 for the oldest (base) layer
   * @param verifyUncompressed a digest the decoded tar bytes must have, or null when the opener
   *     already verifies the blob itself
   */
  public LayerBlob(int index, Descriptor descriptor, Digest verifyUncompressed, Opener opener) {
    this.index = index;
    this.descriptor = Objects.requireNonNull(descriptor, "descriptor");
    this.verifyUncompressed = verifyUncompressed;
    this.opener = Objects.requireNonNull(opener, "opener");
  }

  public int index() {
    return index;
  }

  public Descriptor descriptor() {
    return descriptor;
  }

  /**
   * The digest the decoded tar bytes must have, or null. Exposed so a wrapper (the renderer counts
   * bytes read) can re-create a layer around a different opener without losing this check.
   */
  public Digest verifyUncompressed() {
    return verifyUncompressed;
  }

  /** The raw blob bytes as stored (compressed), verified by the source. */
  public InputStream openRaw() throws IOException {
    return opener.open();
  }

  /** The decoded tar stream of this layer. */
  public InputStream openTar() throws IOException {
    // Three stages on their own threads: reading and digesting the blob, decoding it, and the
    // caller's merge. On two cores decoding is the bottleneck and the other two hide behind it.
    InputStream raw = new ReadAheadInputStream(opener.open(), toString() + " raw");
    return new ReadAheadInputStream(LayerDecoder.decode(this, raw, verifyUncompressed), toString());
  }

  /** For messages: {@code layer 2 (sha256:9f86d081884c)}. */
  @Override
  public String toString() {
    return "layer " + index + " (" + descriptor.digest().shortForm() + ")";
  }
}
