package dev.ocirender.layer;

import dev.ocirender.image.Digest;
import dev.ocirender.image.MediaTypes;
import dev.ocirender.image.VerifyingInputStream;
import dev.ocirender.io.Streams;
import dev.ocirender.layer.inflate.GzipDecoding;
import java.io.EOFException;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.Objects;

/**
 * Turns a layer blob into its tar stream: picks the decompressor from the layer's media type (or,
 * for generic, missing and uncompressed-tar types, from the blob's magic bytes) and optionally verifies the decoded
 * bytes against the layer's uncompressed digest (diff ID).
 *
 * <p>Strict where a wrong guess would silently produce a different filesystem: a declared
 * compression that the bytes contradict, foreign/non-distributable layers (whose content lives
 * elsewhere by definition) and unknown media types all fail with a {@link LayerFormatException}
 * naming the layer. Corrupt or truncated compressed data fails the same way, naming the layer and
 * the compression. Failures of the raw blob stream itself (I/O, blob digest mismatch) pass through
 * unchanged so they are not mistaken for corruption.
 *
 * <p>When the decoder reports its end, the rest of the raw blob is read too (trailing bytes after
 * the last compressed member are ignored, as {@code gzip -d} does), so that the source's digest
 * check over the whole blob completes. Does not parse tar: that is {@link LayerTarReader}.
 */
public final class LayerDecoder {

  private LayerDecoder() {}

  /**
   * @param raw the blob as stored; closed when the returned stream is closed
   * @param verifyUncompressed a digest the decoded bytes must have, or null
   * @throws LayerFormatException for unsupported media types or a compression the bytes contradict
   */
  public static InputStream decode(LayerBlob layer, InputStream raw, Digest verifyUncompressed) throws IOException {
    Objects.requireNonNull(raw, "raw");
    String mediaType = layer.descriptor().mediaType();
    Compression declared = declaredCompression(layer, mediaType);
    RawInput source = new RawInput(raw);
    Compression actual;
    try {
      byte[] head = new byte[Compression.MAGIC_BYTES];
      actual = Compression.sniff(head, source.peek(head));
      if (declared != null && declared != actual) {
        throw new LayerFormatException(layer + ": media type " + mediaType + " declares "
            + declared.displayName() + " data, but the blob's first bytes are those of "
            + (actual == Compression.NONE ? "neither gzip, zstd, bzip2 nor xz" : actual.displayName()));
      }
    } catch (IOException | RuntimeException e) {
      source.close();
      throw e;
    }
    InputStream decoded = actual == Compression.NONE ? new Decoded(source, source, layer, actual)
        : openDecoder(source, layer, actual);
    return verifyUncompressed == null ? decoded
        : new VerifyingInputStream(decoded, verifyUncompressed, -1, layer + " uncompressed");
  }

  /**
   * Whether decoding this layer is cheap next to merging it: a zstd layer, a gzip layer when ISA-L
   * decodes gzip here ({@link GzipDecoding#usesIsal()}: about 2 ns a byte), or a plain tar. Then
   * keeping decoded bytes for later (a decode-ahead's spill: about as dear as decoding them again)
   * costs more than it saves. False for the JDK's zlib, bzip2, xz, and media types that leave the
   * compression to the blob's first bytes.
   */
  public static boolean decodesCheaply(LayerBlob layer) {
    String mediaType = layer.descriptor().mediaType();
    if (mediaType == null) {
      return false;
    }
    return switch (mediaType) {
      case MediaTypes.OCI_LAYER_TAR_GZIP, MediaTypes.DOCKER_LAYER_TAR_GZIP -> GzipDecoding.usesIsal();
      case MediaTypes.OCI_LAYER_TAR_ZSTD -> true;
      default -> false;
    };
  }

  /** The compression a media type declares; null when the type says nothing and bytes decide. */
  static Compression declaredCompression(LayerBlob layer, String mediaType) throws LayerFormatException {
    if (mediaType == null) {
      return null;
    }
    switch (mediaType) {
      case "", "application/octet-stream", "application/x-tar":
        return null;
      case MediaTypes.OCI_LAYER_TAR, MediaTypes.DOCKER_LAYER_TAR:
        // Like containerd and Docker, which sniff every layer: bzip2 and xz layers have no media
        // type of their own, and older tools label compressed layers as plain tar. A real tar
        // cannot start with any of the magic numbers, so trusting the bytes here is safe.
        return null;
      case MediaTypes.OCI_LAYER_TAR_GZIP, MediaTypes.DOCKER_LAYER_TAR_GZIP:
        return Compression.GZIP;
      case MediaTypes.OCI_LAYER_TAR_ZSTD:
        return Compression.ZSTD;
      default:
        break;
    }
    // Beyond the registered types, any vendor variant of a foreign layer is refused for the same reason.
    if (MediaTypes.isNondistributable(mediaType) || mediaType.contains("nondistributable") || mediaType.contains("foreign")) {
      throw new LayerFormatException(layer + ": foreign (non-distributable) layer of media type " + mediaType
          + " is not supported: its content is not part of the image");
    }
    throw new LayerFormatException(layer + ": unsupported layer media type " + mediaType);
  }

  private static InputStream openDecoder(RawInput source, LayerBlob layer, Compression compression) throws IOException {
    try {
      return new Decoded(compression.decoder(source), source, layer, compression);
    } catch (IOException e) {
      try {
        source.close();
      } catch (IOException suppressed) {
        e.addSuppressed(suppressed);
      }
      throw Decoded.translate(e, source, layer, compression);
    }
  }

  /**
   * The decompressor's output with its failures translated into messages naming the layer, and
   * with the raw blob read to its end once the decompressor is done.
   */
  private static final class Decoded extends FilterInputStream {
    private final RawInput source;
    private final LayerBlob layer;
    private final Compression compression;

    Decoded(InputStream decoder, RawInput source, LayerBlob layer, Compression compression) {
      super(decoder);
      this.source = source;
      this.layer = layer;
      this.compression = compression;
    }

    @Override
    public int read() throws IOException {
      return Streams.readByte(this);
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      int n;
      try {
        n = in.read(b, off, len);
        if (n < 0) {
          source.drain();
        }
      } catch (IOException e) {
        throw translate(e, source, layer, compression);
      }
      return n;
    }

    @Override
    public long skip(long n) throws IOException {
      return Streams.skipByReading(this, n);
    }

    @Override
    public boolean markSupported() {
      return false;
    }

    static IOException translate(IOException e, RawInput source, LayerBlob layer, Compression compression) {
      if (source.failure != null) {
        // The blob stream itself failed (I/O, digest): report that, not "corrupt data".
        return source.failure;
      }
      if (e instanceof LayerFormatException) {
        return e;
      }
      String what = e instanceof EOFException ? "truncated " : "corrupt ";
      return new LayerFormatException(layer + ": " + what + compression.displayName() + " data: " + e.getMessage(), e);
    }
  }

  /**
   * The raw blob as the decompressors see it: buffered, able to show its first bytes, aware of its
   * own failures, and honest in {@link #available()}.
   *
   * <p>The honesty matters: {@link java.util.zip.GZIPInputStream} looks for another gzip member only
   * if {@code available()} is non-zero after a member's trailer; a network or verifying stream that
   * answers 0 there would silently lose every member but the first. So {@code available()} blocks
   * to find out, and answers 0 only at the true end.
   */
  private static final class RawInput extends InputStream {
    private static final int BUFFER_SIZE = 64 * 1024;
    /** Reads this large go straight to the caller's array. */
    private static final int DIRECT_READ_MIN = 8 * 1024;

    private final InputStream in;
    private final byte[] buf = new byte[BUFFER_SIZE];
    private int pos;
    private int limit;
    private boolean ended;
    IOException failure;

    RawInput(InputStream in) {
      this.in = in;
    }

    /** Copies up to {@code head.length} leading bytes without consuming them; returns the count. */
    int peek(byte[] head) throws IOException {
      while (limit - pos < head.length && !ended) {
        fillMore();
      }
      int n = Math.min(head.length, limit - pos);
      System.arraycopy(buf, pos, head, 0, n);
      return n;
    }

    @Override
    public int read() throws IOException {
      if (pos == limit && !fillFresh()) {
        return -1;
      }
      return buf[pos++] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      Objects.checkFromIndexSize(off, len, b.length);
      if (len == 0) {
        return 0;
      }
      if (pos == limit) {
        if (ended) {
          return -1;
        }
        if (len >= DIRECT_READ_MIN) {
          return readIn(b, off, len);
        }
        if (!fillFresh()) {
          return -1;
        }
      }
      int n = Math.min(len, limit - pos);
      System.arraycopy(buf, pos, b, off, n);
      pos += n;
      return n;
    }

    @Override
    public int available() throws IOException {
      if (pos == limit && !ended) {
        fillFresh();
      }
      return limit - pos;
    }

    void drain() throws IOException {
      pos = limit;
      while (!ended) {
        readIn(buf, 0, buf.length);
      }
      pos = 0;
      limit = 0;
    }

    @Override
    public void close() throws IOException {
      in.close();
    }

    private boolean fillFresh() throws IOException {
      pos = 0;
      limit = 0;
      while (limit == 0 && !ended) {
        fillMore();
      }
      return limit > 0;
    }

    private void fillMore() throws IOException {
      if (pos > 0) {
        System.arraycopy(buf, pos, buf, 0, limit - pos);
        limit -= pos;
        pos = 0;
      }
      int n = readIn(buf, limit, buf.length - limit);
      if (n > 0) {
        limit += n;
      }
    }

    private int readIn(byte[] b, int off, int len) throws IOException {
      try {
        int n = in.read(b, off, len);
        if (n < 0) {
          ended = true;
        }
        return n;
      } catch (IOException e) {
        failure = e;
        throw e;
      }
    }
  }
}
