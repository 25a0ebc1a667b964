package dev.ocirender.testing;

import com.github.luben.zstd.ZstdOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.util.Arrays;
import java.util.zip.GZIPOutputStream;
import org.apache.commons.compress.compressors.bzip2.BZip2CompressorOutputStream;
import org.tukaani.xz.LZMA2Options;
import org.tukaani.xz.XZOutputStream;

/**
 * How a test layer's tar bytes are stored as a blob, with the media type an image manifest would
 * give it.
 *
 * <p>bzip2 and xz have no registered OCI media type; their blobs carry the plain tar media type, as
 * the layers of {@code docker save} archives carry none, so a decoder has to recognise them by their
 * magic bytes. This class only compresses; it never decodes (that is the code under test).
 */
public enum Compression {
  NONE("application/vnd.oci.image.layer.v1.tar"),
  GZIP("application/vnd.oci.image.layer.v1.tar+gzip"),
  /**
   * Two gzip members concatenated, split in the middle of the tar stream (usually inside a header
   * or a file's data), as parallel compressors (pigz, some registries' re-compression) produce.
   * A decoder that stops after the first member loses the rest of the layer.
   */
  GZIP_MULTI_MEMBER("application/vnd.oci.image.layer.v1.tar+gzip"),
  ZSTD("application/vnd.oci.image.layer.v1.tar+zstd"),
  BZIP2("application/vnd.oci.image.layer.v1.tar"),
  XZ("application/vnd.oci.image.layer.v1.tar");

  private final String mediaType;

  Compression(String mediaType) {
    this.mediaType = mediaType;
  }

  public String mediaType() {
    return mediaType;
  }

  /** Compresses a whole tar stream. */
  public byte[] compress(byte[] tar) {
    try {
      return switch (this) {
        case NONE -> tar.clone();
        case GZIP -> gzip(tar);
        case GZIP_MULTI_MEMBER -> {
          int half = tar.length / 2 + 7; // off the 512-byte grid on purpose
          half = Math.min(half, tar.length);
          byte[] first = gzip(Arrays.copyOfRange(tar, 0, half));
          byte[] second = gzip(Arrays.copyOfRange(tar, half, tar.length));
          byte[] both = Arrays.copyOf(first, first.length + second.length);
          System.arraycopy(second, 0, both, first.length, second.length);
          yield both;
        }
        case ZSTD -> through(tar, ZstdOutputStream::new);
        case BZIP2 -> through(tar, BZip2CompressorOutputStream::new);
        case XZ -> through(tar, out -> new XZOutputStream(out, new LZMA2Options()));
      };
    } catch (IOException e) {
      throw new UncheckedIOException("compressing a test layer with " + this, e);
    }
  }

  private static byte[] gzip(byte[] data) throws IOException {
    return through(data, GZIPOutputStream::new);
  }

  private interface Wrapper {
    OutputStream wrap(OutputStream out) throws IOException;
  }

  private static byte[] through(byte[] data, Wrapper wrapper) throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (OutputStream out = wrapper.wrap(bytes)) {
      out.write(data);
    }
    return bytes.toByteArray();
  }
}
