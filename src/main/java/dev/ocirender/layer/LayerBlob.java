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

  /**
   * Something that may already hold this layer's decoded tar stream (a decode-ahead, a cache):
   * returns it, or null to have the blob decoded as usual.
   */
  @FunctionalInterface
  public interface DecodedSource {
    InputStream openDecoded() throws IOException;
  }

  private final int index;
  private final Descriptor descriptor;
  private final Digest verifyUncompressed;
  private final Opener opener;
  private final DecodedSource decodedSource;

  /**
   * @param index 0 for the oldest (base) layer
   * @param verifyUncompressed a digest the decoded tar bytes must have, or null when the opener
   *     already verifies the blob itself
   */
  public LayerBlob(int index, Descriptor descriptor, Digest verifyUncompressed, Opener opener) {
    this(index, descriptor, verifyUncompressed, opener, null);
  }

  private LayerBlob(int index, Descriptor descriptor, Digest verifyUncompressed, Opener opener,
      DecodedSource decodedSource) {
    this.index = index;
    this.descriptor = Objects.requireNonNull(descriptor, "descriptor");
    this.verifyUncompressed = verifyUncompressed;
    this.opener = Objects.requireNonNull(opener, "opener");
    this.decodedSource = decodedSource;
  }

  /** This layer, with {@link #openTar()} asking {@code source} first (see {@link DecodedSource}). */
  public LayerBlob withDecodedSource(DecodedSource source) {
    return new LayerBlob(index, descriptor, verifyUncompressed, opener, Objects.requireNonNull(source, "source"));
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

  /** The decoded tar stream of this layer: from its {@link DecodedSource} if that has it, else decoded. */
  public InputStream openTar() throws IOException {
    if (decodedSource != null) {
      InputStream decoded = decodedSource.openDecoded();
      if (decoded != null) {
        return decoded;
      }
    }
    // Three stages on their own threads: reading and digesting the blob, decoding it, and the
    // caller's merge. On two cores decoding is the bottleneck and the other two hide behind it.
    return new ReadAheadInputStream(decodeTar(), toString());
  }

  /**
   * The blob decoded on the calling thread (the blob itself is read and digested on a thread of
   * its own): for a caller that is itself a decoding thread, such as a decode-ahead.
   */
  public InputStream decodeTar() throws IOException {
    InputStream raw = new ReadAheadInputStream(opener.open(), toString() + " raw");
    return new BlobFailureFirst(LayerDecoder.decode(this, raw, verifyUncompressed), raw);
  }

  /** For messages: {@code layer 2 (sha256:9f86d081884c)}. */
  @Override
  public String toString() {
    return "layer " + index + " (" + descriptor.digest().shortForm() + ")";
  }
}
