package dev.ocirender.squashfs.writer;

import com.github.luben.zstd.Zstd;
import com.github.luben.zstd.ZstdCompressCtx;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.zip.Deflater;
import org.tukaani.xz.LZMA2Options;
import org.tukaani.xz.UnsupportedOptionsException;
import org.tukaani.xz.XZ;
import org.tukaani.xz.XZOutputStream;

/**
 * Compresses one squashfs block (data, fragment or metadata) with one algorithm. Not thread-safe:
 * each worker thread owns an instance, because the native and {@link Deflater} contexts behind it
 * are expensive to create and must not be shared.
 *
 * <p>Returns null when compression would not make the block smaller; the caller then stores it raw
 * with the "uncompressed" flag, as the format allows.
 */
abstract class BlockCompressor implements AutoCloseable {

  /** The compressed bytes, or null if they would not be smaller than {@code len}. */
  abstract byte[] compress(byte[] src, int off, int len);

  /**
   * Compresses into {@code dst}, whose length is at least {@link #maxCompressedLength(int)} of
   * {@code len}, and returns the compressed length, or -1 if it would not be smaller than {@code
   * len}. The data writer uses this with pooled buffers, so that a block costs no allocation.
   */
  int compressInto(byte[] src, int off, int len, byte[] dst) {
    byte[] c = compress(src, off, len);
    if (c == null) {
      return -1;
    }
    System.arraycopy(c, 0, dst, 0, c.length);
    return c.length;
  }

  /** The output buffer size {@link #compressInto} needs for {@code len} bytes of input. */
  int maxCompressedLength(int len) {
    return len;
  }

  @Override
  public void close() {}

  static BlockCompressor create(SquashfsCompression c, int level, int blockSize) {
    return switch (c) {
      case ZSTD -> new ZstdBlocks(level);
      case GZIP -> new ZlibBlocks(level);
      case XZ -> new XzBlocks(level, blockSize);
      case LZ4 -> Lz4Blocks.create(level);
    };
  }

  /**
   * The compressor options block that follows the superblock, or null when the compressor's
   * defaults apply and none is written.
   */
  static byte[] options(SquashfsCompression c, int level) {
    ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
    switch (c) {
      case ZSTD -> b.putInt(level);
      case GZIP -> b.putInt(level).putShort((short) 15).putShort((short) 0);
      case LZ4 -> b.putInt(1).putInt(level == 1 ? 1 : 0); // version 1 ("legacy" block format), HC flag
      case XZ -> {
        return null;
      }
    }
    return Arrays.copyOf(b.array(), b.position());
  }

  private static final class ZstdBlocks extends BlockCompressor {
    private final ZstdCompressCtx ctx;

    ZstdBlocks(int level) {
      ctx = new ZstdCompressCtx().setLevel(level);
    }

    @Override
    byte[] compress(byte[] src, int off, int len) {
      byte[] dst = new byte[(int) Zstd.compressBound(len)];
      int n = ctx.compressByteArray(dst, 0, dst.length, src, off, len);
      return n < len ? Arrays.copyOf(dst, n) : null;
    }

    @Override
    int compressInto(byte[] src, int off, int len, byte[] dst) {
      int n = ctx.compressByteArray(dst, 0, dst.length, src, off, len);
      return n < len ? n : -1;
    }

    @Override
    int maxCompressedLength(int len) {
      return (int) Zstd.compressBound(len);
    }

    @Override
    public void close() {
      ctx.close();
    }
  }

  /** squashfs "gzip" is a zlib stream (RFC 1950), not a gzip file. */
  private static final class ZlibBlocks extends BlockCompressor {
    private final Deflater deflater;

    ZlibBlocks(int level) {
      deflater = new Deflater(level);
    }

    @Override
    byte[] compress(byte[] src, int off, int len) {
      deflater.reset();
      deflater.setInput(src, off, len);
      deflater.finish();
      byte[] dst = new byte[len];
      int n = 0;
      while (!deflater.finished()) {
        if (n == dst.length) {
          return null; // not smaller
        }
        n += deflater.deflate(dst, n, dst.length - n);
      }
      return n < len ? Arrays.copyOf(dst, n) : null;
    }

    @Override
    public void close() {
      deflater.end();
    }
  }

  /** An .xz container with CRC32 check, the one the kernel's decoder is built for. */
  private static final class XzBlocks extends BlockCompressor {
    private final LZMA2Options options;

    XzBlocks(int level, int blockSize) {
      try {
        options = new LZMA2Options(level);
        options.setDictSize(Math.max(LZMA2Options.DICT_SIZE_MIN, blockSize));
      } catch (UnsupportedOptionsException e) {
        throw new IllegalArgumentException(e.getMessage(), e);
      }
    }

    @Override
    byte[] compress(byte[] src, int off, int len) {
      ByteArrayOutputStream out = new ByteArrayOutputStream(len / 2 + 64);
      try (XZOutputStream xz = new XZOutputStream(out, options, XZ.CHECK_CRC32)) {
        xz.write(src, off, len);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      return out.size() < len ? out.toByteArray() : null;
    }
  }
}
