package dev.ocirender.squashfs.reader;

import com.github.luben.zstd.ZstdDecompressCtx;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;
import net.jpountz.lz4.LZ4Factory;
import net.jpountz.lz4.LZ4SafeDecompressor;
import org.tukaani.xz.BasicArrayCache;
import org.tukaani.xz.LZMAInputStream;
import org.tukaani.xz.XZInputStream;

/**
 * Decompresses one squashfs block (metadata or data) into a caller's buffer whose length is the
 * most the block may hold; more output than that is damage, never a larger allocation. Compressor
 * ids: 1 gzip (zlib stream), 2 lzma (legacy .lzma), 3 lzo (not supported), 4 xz, 5 lz4 (raw block),
 * 6 zstd. Not thread-safe: one instance per reading thread. The squashfs writer reads its own
 * fragment blocks back through this too, when it checks a de-duplication candidate.
 */
public abstract class Codec implements AutoCloseable {

  /** For xz/lzma: squashfs dictionaries never exceed the 1 MiB block size, so this is generous. */
  private static final int XZ_MEMORY_LIMIT_KIB = 64 * 1024;

  final String name;

  private Codec(String name) {
    this.name = name;
  }

  /** Decompresses {@code src[0..srcLen)} into {@code dst}; returns the output length. */
  public abstract int decompress(byte[] src, int srcLen, byte[] dst) throws IOException;

  @Override
  public void close() {}

  /** The codec for a superblock compressor id. */
  public static Codec forId(int id) throws SquashfsFormatException {
    return switch (id) {
      case 1 -> new Gzip();
      case 2 -> new Stream("lzma") {
        @Override
        InputStream open(InputStream in) throws IOException {
          return new LZMAInputStream(in, XZ_MEMORY_LIMIT_KIB);
        }
      };
      case 3 -> throw new SquashfsFormatException("superblock: compressor lzo is not supported (gzip, lzma, xz, lz4 and zstd are)");
      case 4 -> new Stream("xz") {
        @Override
        InputStream open(InputStream in) throws IOException {
          return new XZInputStream(in, XZ_MEMORY_LIMIT_KIB, true, BasicArrayCache.getInstance());
        }
      };
      case 5 -> new Lz4();
      case 6 -> new Zstd();
      default -> throw new SquashfsFormatException("superblock: unknown compressor id " + id);
    };
  }

  private static final class Gzip extends Codec {
    private final Inflater inflater = new Inflater();

    Gzip() {
      super("gzip");
    }

    @Override
    public int decompress(byte[] src, int srcLen, byte[] dst) throws IOException {
      inflater.reset();
      inflater.setInput(src, 0, srcLen);
      int n = 0;
      try {
        while (!inflater.finished()) {
          int r = inflater.inflate(dst, n, dst.length - n);
          n += r;
          if (r == 0 && !inflater.finished()) {
            if (n == dst.length) {
              throw new IOException("gzip data decompresses to more than " + dst.length + " bytes");
            }
            throw new IOException("gzip data is truncated");
          }
        }
      } catch (DataFormatException e) {
        throw new IOException("corrupt gzip data: " + e.getMessage(), e);
      }
      return n;
    }

    @Override
    public void close() {
      inflater.end();
    }
  }

  private abstract static class Stream extends Codec {
    Stream(String name) {
      super(name);
    }

    abstract InputStream open(InputStream in) throws IOException;

    @Override
    public int decompress(byte[] src, int srcLen, byte[] dst) throws IOException {
      try (InputStream in = open(new ByteArrayInputStream(src, 0, srcLen))) {
        int n = 0;
        while (n < dst.length) {
          int r = in.read(dst, n, dst.length - n);
          if (r < 0) {
            return n;
          }
          n += r;
        }
        if (in.read() >= 0) {
          throw new IOException(name + " data decompresses to more than " + dst.length + " bytes");
        }
        return n;
      } catch (IOException e) {
        throw e;
      } catch (RuntimeException e) {
        throw new IOException("corrupt " + name + " data: " + e, e);
      }
    }
  }

  private static final class Lz4 extends Codec {
    private final LZ4SafeDecompressor lz4 = LZ4Factory.fastestInstance().safeDecompressor();

    Lz4() {
      super("lz4");
    }

    @Override
    public int decompress(byte[] src, int srcLen, byte[] dst) throws IOException {
      try {
        return lz4.decompress(src, 0, srcLen, dst, 0, dst.length);
      } catch (RuntimeException e) {
        throw new IOException("corrupt lz4 data: " + e.getMessage(), e);
      }
    }
  }

  private static final class Zstd extends Codec {
    private final ZstdDecompressCtx ctx = new ZstdDecompressCtx();

    Zstd() {
      super("zstd");
    }

    @Override
    public int decompress(byte[] src, int srcLen, byte[] dst) throws IOException {
      try {
        return ctx.decompressByteArray(dst, 0, dst.length, src, 0, srcLen);
      } catch (RuntimeException e) {
        throw new IOException("corrupt zstd data: " + e.getMessage(), e);
      }
    }

    @Override
    public void close() {
      ctx.close();
    }
  }
}
