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

  /**
   * A layer work cache as a layer sees it ({@code dev.ocirender.layer.decoded.LayerCache}): it may
   * hold the decoded tar stream of a layer seen before, and it sees every fresh decoding of the
   * blob, to keep a copy.
   */
  public interface DecodeHook {
    /** This layer's decoded tar stream from the cache, or null when the cache holds none. */
    InputStream openCached(LayerBlob layer) throws IOException;

    /**
     * The stream to read in place of {@code decoded}, the layer just decoded from its blob (e.g.
     * one that copies it into the cache as it is read); closes {@code decoded} if it fails.
     */
    InputStream decoded(LayerBlob layer, InputStream decoded) throws IOException;

    /** Whether {@link #openCached} would find this layer now (a hint: it may be evicted meanwhile). */
    boolean holds(LayerBlob layer);

    /**
     * The layer missed by {@link #openCached} could not be opened for decoding (its blob or its
     * decoder failed before {@link #decoded} was called): whatever the miss reserved is let go.
     */
    default void notDecoded(LayerBlob layer) {}

    /**
     * Whether other renders may wait for this render's decoding of a layer (a shared cache's claim
     * on it): then a reader that pauses half way holds them up.
     */
    default boolean sharesDecodings() {
      return true;
    }
  }

  private final int index;
  private final Descriptor descriptor;
  private final Digest verifyUncompressed;
  private final Opener opener;
  private final DecodedSource decodedSource;
  private final DecodeHook hook;

  /**
   * @param index 0 for the oldest (base) layer
   * @param verifyUncompressed a digest the decoded tar bytes must have, or null when the opener
   *     already verifies the blob itself
   */
  public LayerBlob(int index, Descriptor descriptor, Digest verifyUncompressed, Opener opener) {
    this(index, descriptor, verifyUncompressed, opener, null, null);
  }

  private LayerBlob(int index, Descriptor descriptor, Digest verifyUncompressed, Opener opener,
      DecodedSource decodedSource, DecodeHook hook) {
    this.index = index;
    this.descriptor = Objects.requireNonNull(descriptor, "descriptor");
    this.verifyUncompressed = verifyUncompressed;
    this.opener = Objects.requireNonNull(opener, "opener");
    this.decodedSource = decodedSource;
    this.hook = hook;
  }

  /**
   * This layer, with {@link #openTar()} asking {@code source} first (see {@link DecodedSource});
   * a source this layer had already is asked next.
   */
  public LayerBlob withDecodedSource(DecodedSource source) {
    Objects.requireNonNull(source, "source");
    DecodedSource earlier = decodedSource;
    DecodedSource chained = earlier == null ? source : () -> {
      InputStream first = source.openDecoded();
      return first != null ? first : earlier.openDecoded();
    };
    return new LayerBlob(index, descriptor, verifyUncompressed, opener, chained, hook);
  }

  /** This layer, reading from and feeding a layer work cache (see {@link DecodeHook}). */
  public LayerBlob withDecodeHook(DecodeHook decodeHook) {
    return new LayerBlob(index, descriptor, verifyUncompressed, opener, decodedSource,
        Objects.requireNonNull(decodeHook, "decodeHook"));
  }

  /** Whether a layer work cache holds this layer decoded, so that opening it decodes nothing (a hint). */
  public boolean isCached() {
    return hook != null && hook.holds(this);
  }

  /**
   * Whether other renders may wait for this render's decoding of the layer (see
   * {@link DecodeHook#sharesDecodings}): a reader that may pause half way (a look-ahead) stays away
   * from it.
   */
  public boolean sharesDecoding() {
    return hook != null && hook.sharesDecodings();
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

  /**
   * The decoded tar stream of this layer: from its {@link DecodedSource} if that has it, else from
   * its layer work cache if that has it, else decoded.
   */
  public InputStream openTar() throws IOException {
    if (decodedSource != null) {
      InputStream decoded = decodedSource.openDecoded();
      if (decoded != null) {
        return decoded;
      }
    }
    if (hook != null) {
      InputStream cached = hook.openCached(this);
      if (cached != null) {
        // Checking and decompressing the cached frames on a thread of their own, like decoding.
        return new ReadAheadInputStream(cached, toString() + " cached");
      }
    }
    // Three stages on their own threads: reading and digesting the blob, decoding it, and the
    // caller's merge. On two cores decoding is the bottleneck and the other two hide behind it.
    return new ReadAheadInputStream(decodeTar(), toString());
  }

  /**
   * The blob decoded on the calling thread (the blob itself is read and digested on a thread of
   * its own): for a caller that is itself a decoding thread, such as a decode-ahead. A layer work
   * cache, if any, sees (and keeps) the decoded bytes as they are read.
   */
  public InputStream decodeTar() throws IOException {
    InputStream decoded;
    try {
      InputStream raw = new ReadAheadInputStream(opener.open(), toString() + " raw");
      decoded = new BlobFailureFirst(LayerDecoder.decode(this, raw, verifyUncompressed), raw);
    } catch (IOException | RuntimeException e) {
      if (hook != null) {
        hook.notDecoded(this);
      }
      throw e;
    }
    return hook == null ? decoded : hook.decoded(this, decoded);
  }

  /** For messages: {@code layer 2 (sha256:9f86d081884c)}. */
  @Override
  public String toString() {
    return "layer " + index + " (" + descriptor.digest().shortForm() + ")";
  }
}
