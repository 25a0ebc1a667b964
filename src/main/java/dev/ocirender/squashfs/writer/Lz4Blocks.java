package dev.ocirender.squashfs.writer;

import java.util.Arrays;
import net.jpountz.lz4.LZ4Compressor;
import net.jpountz.lz4.LZ4Factory;

/** Raw LZ4 blocks (no frame), as squashfs stores them; level 1 selects LZ4 HC. */
final class Lz4Blocks extends BlockCompressor {
  private final LZ4Compressor compressor;

  private Lz4Blocks(LZ4Compressor compressor) {
    this.compressor = compressor;
  }

  static Lz4Blocks create(int level) {
    LZ4Factory f = LZ4Factory.fastestInstance();
    return new Lz4Blocks(level == 1 ? f.highCompressor() : f.fastCompressor());
  }

  @Override
  byte[] compress(byte[] src, int off, int len) {
    byte[] dst = new byte[compressor.maxCompressedLength(len)];
    int n = compressor.compress(src, off, len, dst, 0, dst.length);
    return n < len ? Arrays.copyOf(dst, n) : null;
  }

  @Override
  int compressInto(byte[] src, int off, int len, byte[] dst) {
    int n = compressor.compress(src, off, len, dst, 0, dst.length);
    return n < len ? n : -1;
  }

  @Override
  int maxCompressedLength(int len) {
    return compressor.maxCompressedLength(len);
  }
}
