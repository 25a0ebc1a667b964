package dev.ocirender.squashfs.reader;

import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Reads squashfs metadata blocks: a little-endian 16-bit header (bit 15 set: stored uncompressed;
 * low 15 bits: the size on disk), then at most 8 KiB of data that decompresses to at most 8 KiB.
 * The inode, directory, fragment, id, xattr and export tables are sequences of these. Keeps a small
 * LRU cache of decompressed blocks, so walking directories and their inodes reads each block once
 * in the common case.
 */
final class MetadataReader {

  static final int BLOCK_SIZE = 8192;
  private static final int CACHE_BLOCKS = 256;

  /** One decompressed block and where the next one starts. */
  record Block(byte[] data, long next) {}

  private final ImageFile file;
  private final Codec codec;
  private final byte[] raw = new byte[BLOCK_SIZE];
  private final Map<Long, Block> cache = new LinkedHashMap<>(CACHE_BLOCKS * 2, 0.75f, true) {
    @Override
    protected boolean removeEldestEntry(Map.Entry<Long, Block> eldest) {
      return size() > CACHE_BLOCKS;
    }
  };

  MetadataReader(ImageFile file, Codec codec) {
    this.file = file;
    this.codec = codec;
  }

  Block block(long pos, String what) throws IOException {
    Block b = cache.get(pos);
    if (b != null) {
      return b;
    }
    byte[] header = new byte[2];
    file.readFully(pos, header, 0, 2, what + ": metadata block header");
    int h = (header[0] & 0xff) | (header[1] & 0xff) << 8;
    int size = h & 0x7fff;
    boolean compressed = (h & 0x8000) == 0;
    if (size == 0 || size > BLOCK_SIZE) {
      throw new SquashfsFormatException(what + ": metadata block at offset " + pos + " claims " + size
          + " bytes on disk (must be 1.." + BLOCK_SIZE + ")");
    }
    file.readFully(pos + 2, raw, 0, size, what + ": metadata block");
    byte[] data;
    if (compressed) {
      byte[] out = new byte[BLOCK_SIZE];
      int n;
      try {
        n = codec.decompress(raw, size, out);
      } catch (IOException e) {
        throw new SquashfsFormatException(what + ": metadata block at offset " + pos + ": " + e.getMessage(), e);
      }
      if (n == 0) {
        throw new SquashfsFormatException(what + ": metadata block at offset " + pos + " decompresses to nothing");
      }
      data = n == BLOCK_SIZE ? out : java.util.Arrays.copyOf(out, n);
    } else {
      data = java.util.Arrays.copyOf(raw, size);
    }
    b = new Block(data, pos + 2 + size);
    cache.put(pos, b);
    return b;
  }

  /** A read position in a metadata stream: the absolute position of a block and an offset into its data. */
  Cursor cursor(long blockPos, int offset, String what) throws IOException {
    return cursor(blockPos, offset, what, Long.MAX_VALUE);
  }

  /** As {@link #cursor(long, int, String)}, never reading a block at or past {@code end} (the table's end). */
  Cursor cursor(long blockPos, int offset, String what, long end) throws IOException {
    Cursor c = new Cursor(what, end);
    c.seek(blockPos, offset);
    return c;
  }

  final class Cursor {
    private final String what;
    private final long end;
    private long blockPos;
    private Block block;
    private int offset;

    private Cursor(String what, long end) {
      this.what = what;
      this.end = end;
    }

    private Block load(long pos) throws IOException {
      if (pos >= end) {
        throw new SquashfsFormatException(what + ": runs past the end of its table (offset " + end + ")");
      }
      return block(pos, what);
    }

    void seek(long pos, int off) throws IOException {
      this.blockPos = pos;
      this.block = load(pos);
      if (off < 0 || off > block.data.length) { // == length: the position just past this block's data
        throw new SquashfsFormatException(what + ": offset " + off + " lies outside the metadata block at " + pos
            + " (" + block.data.length + " bytes)");
      }
      this.offset = off;
    }

    long blockPos() {
      return blockPos;
    }

    int offset() {
      return offset;
    }

    void read(byte[] dst, int off, int len) throws IOException {
      while (len > 0) {
        if (offset >= block.data.length) {
          blockPos = block.next;
          block = load(blockPos);
          offset = 0;
        }
        int n = Math.min(len, block.data.length - offset);
        System.arraycopy(block.data, offset, dst, off, n);
        offset += n;
        off += n;
        len -= n;
      }
    }

    void skip(long n) throws IOException {
      while (n > 0) {
        if (offset >= block.data.length) {
          blockPos = block.next;
          block = load(blockPos);
          offset = 0;
        }
        int k = (int) Math.min(n, block.data.length - offset);
        offset += k;
        n -= k;
      }
    }

    private final byte[] scratch = new byte[8];

    int u8() throws IOException {
      read(scratch, 0, 1);
      return scratch[0] & 0xff;
    }

    int u16() throws IOException {
      read(scratch, 0, 2);
      return (scratch[0] & 0xff) | (scratch[1] & 0xff) << 8;
    }

    long u32() throws IOException {
      read(scratch, 0, 4);
      return (scratch[0] & 0xffL) | (scratch[1] & 0xffL) << 8 | (scratch[2] & 0xffL) << 16 | (scratch[3] & 0xffL) << 24;
    }

    long u64() throws IOException {
      return u32() | u32() << 32;
    }

    byte[] bytes(int n) throws IOException {
      byte[] b = new byte[n];
      read(b, 0, n);
      return b;
    }
  }
}
