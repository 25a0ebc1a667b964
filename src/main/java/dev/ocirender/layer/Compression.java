package dev.ocirender.layer;

import com.github.luben.zstd.ZstdInputStreamNoFinalizer;
import dev.ocirender.layer.inflate.GzipDecoding;
import java.io.IOException;
import java.io.InputStream;
import org.apache.commons.compress.compressors.bzip2.BZip2CompressorInputStream;
import org.tukaani.xz.XZInputStream;

/**
 * The compressions a layer blob may use, how to recognise each by its first bytes, and which
 * library decodes it (gzip: ISA-L or the JDK, see {@link GzipDecoding}). Every decoder reads all members/frames/streams of a concatenated input, as
 * {@code gzip -d}, {@code zstd -d} and {@code xz -d} do; image builders do produce those.
 *
 * <p>Only decoding: choosing a compression from a media type, and turning decoder failures into
 * messages that name the layer, is {@link LayerDecoder}'s job.
 */
public enum Compression {
  NONE("uncompressed tar"),
  GZIP("gzip"),
  ZSTD("zstd"),
  BZIP2("bzip2"),
  XZ("xz");

  /** How many leading bytes {@link #sniff} looks at. */
  public static final int MAGIC_BYTES = 10;

  private final String displayName;

  Compression(String displayName) {
    this.displayName = displayName;
  }

  /** "gzip", "zstd", ..., for messages. */
  public String displayName() {
    return displayName;
  }

  /**
   * Recognises a compressed stream by its magic bytes; anything unrecognised is taken for a plain
   * tar (which has no magic at offset 0: it starts with the first entry's name).
   */
  public static Compression sniff(byte[] head, int length) {
    if (startsWith(head, length, 0x1f, 0x8b)) {
      return GZIP;
    }
    if (startsWith(head, length, 0x28, 0xb5, 0x2f, 0xfd) || isZstdSkippableFrame(head, length)) {
      return ZSTD;
    }
    if (startsWith(head, length, 0xfd, '7', 'z', 'X', 'Z', 0x00)) {
      return XZ;
    }
    // "BZh" alone could begin a tar member's name, so also require the block size digit and the
    // magic of a first block (pi) or of an empty stream's end (sqrt(pi)).
    if (length >= 10 && startsWith(head, length, 'B', 'Z', 'h') && head[3] >= '1' && head[3] <= '9'
        && (startsWithAt(head, 4, 0x31, 0x41, 0x59, 0x26, 0x53, 0x59)
            || startsWithAt(head, 4, 0x17, 0x72, 0x45, 0x38, 0x50, 0x90))) {
      return BZIP2;
    }
    return NONE;
  }

  /**
   * A zstd skippable frame: magic 0x184D2A50 to 0x184D2A5F, little-endian. Some zstd writers put one
   * (metadata) before the first data frame; zstd decoders skip it, and containerd's detection
   * accepts it. No tar starts so: its first name would begin with byte 0x18 at offset 3.
   */
  private static boolean isZstdSkippableFrame(byte[] head, int length) {
    return length >= 4 && (head[0] & 0xf0) == 0x50 && (head[1] & 0xff) == 0x2a && (head[2] & 0xff) == 0x4d
        && (head[3] & 0xff) == 0x18;
  }

  /** Wraps {@code in} in this compression's decoder; reads the format's header, so it may throw. */
  public InputStream decoder(InputStream in) throws IOException {
    return switch (this) {
      case NONE -> in;
      case GZIP -> GzipDecoding.open(in);
      case ZSTD -> new ZstdInputStreamNoFinalizer(in);
      case BZIP2 -> new BZip2CompressorInputStream(in, true);
      case XZ -> new XZInputStream(in);
    };
  }

  private static boolean startsWith(byte[] head, int length, int... magic) {
    return length >= magic.length && startsWithAt(head, 0, magic);
  }

  private static boolean startsWithAt(byte[] head, int at, int... magic) {
    for (int i = 0; i < magic.length; i++) {
      if ((head[at + i] & 0xff) != magic[i]) {
        return false;
      }
    }
    return true;
  }
}
