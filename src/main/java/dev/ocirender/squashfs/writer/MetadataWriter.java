package dev.ocirender.squashfs.writer;

import java.io.ByteArrayOutputStream;
import java.util.Arrays;

/**
 * Builds one squashfs metadata area (inode table, directory table, or the entries of a lookup
 * table) in memory: bytes are cut into 8 KiB blocks, each compressed (or kept raw when that is not
 * smaller) behind a 2-byte header.
 *
 * <p>{@link #reference()} gives the position of the next byte as the format's references want it:
 * the start of its block within this area, shifted left 16, plus the offset inside the block. Block
 * starts are relative to the area; the caller adds the area's file offset where the format wants
 * absolute ones. Not thread-safe; holds the compressed area in memory, which is metadata-sized.
 */
final class MetadataWriter {

  static final int BLOCK = 8192;

  private final BlockCompressor compressor;
  private final ByteArrayOutputStream out = new ByteArrayOutputStream();
  private final byte[] current = new byte[BLOCK];
  private int fill;
  private long uncompressed;

  MetadataWriter(BlockCompressor compressor) {
    this.compressor = compressor;
  }

  /** Start of the current block (relative to the area) << 16 | offset in it. */
  long reference() {
    return ((long) out.size() << 16) | fill;
  }

  /** Area-relative start of the block that holds the next byte. */
  long blockStart() {
    return out.size();
  }

  int blockOffset() {
    return fill;
  }

  /** Uncompressed bytes written so far. */
  long uncompressedSize() {
    return uncompressed;
  }

  void write(byte[] b) {
    write(b, 0, b.length);
  }

  void write(byte[] b, int off, int len) {
    while (len > 0) {
      int n = Math.min(len, BLOCK - fill);
      System.arraycopy(b, off, current, fill, n);
      fill += n;
      off += n;
      len -= n;
      uncompressed += n;
      if (fill == BLOCK) {
        flushBlock();
      }
    }
  }

  private void flushBlock() {
    byte[] c = compressor.compress(current, 0, fill);
    if (c != null) {
      out.write(c.length & 0xff);
      out.write(c.length >>> 8);
      out.write(c, 0, c.length);
    } else {
      int h = fill | 0x8000;
      out.write(h & 0xff);
      out.write(h >>> 8);
      out.write(current, 0, fill);
    }
    fill = 0;
  }

  /** Flushes the last partial block and returns the whole area. */
  byte[] finish() {
    if (fill > 0) {
      flushBlock();
    }
    return out.toByteArray();
  }

  /**
   * Writes {@code entries} (fixed-size table entries, already serialised) as metadata blocks and
   * returns the area plus the list of absolute block positions the superblock's table pointer
   * refers to: the layout of the id, fragment, export and xattr-id tables.
   */
  static byte[][] lookupTable(BlockCompressor compressor, byte[] entries, long areaStart) {
    MetadataWriter w = new MetadataWriter(compressor);
    int blocks = (entries.length + BLOCK - 1) / BLOCK;
    long[] starts = new long[blocks];
    for (int i = 0; i < blocks; i++) {
      starts[i] = areaStart + w.blockStart();
      w.write(entries, i * BLOCK, Math.min(BLOCK, entries.length - i * BLOCK));
    }
    byte[] area = w.finish();
    Le index = new Le(blocks * 8);
    for (long s : starts) {
      index.u64(s);
    }
    return new byte[][] {area, index.toByteArray()};
  }

  /** A little-endian byte builder for table entries and inodes. */
  static final class Le {
    private byte[] buf;
    private int n;

    Le(int capacity) {
      buf = new byte[Math.max(16, capacity)];
    }

    private void ensure(int more) {
      if (n + more > buf.length) {
        buf = Arrays.copyOf(buf, Math.max(buf.length * 2, n + more));
      }
    }

    Le u8(int v) {
      ensure(1);
      buf[n++] = (byte) v;
      return this;
    }

    Le u16(int v) {
      ensure(2);
      buf[n++] = (byte) v;
      buf[n++] = (byte) (v >>> 8);
      return this;
    }

    Le u32(long v) {
      ensure(4);
      for (int i = 0; i < 4; i++) {
        buf[n++] = (byte) (v >>> (8 * i));
      }
      return this;
    }

    Le u64(long v) {
      ensure(8);
      for (int i = 0; i < 8; i++) {
        buf[n++] = (byte) (v >>> (8 * i));
      }
      return this;
    }

    Le bytes(byte[] b) {
      return bytes(b, 0, b.length);
    }

    Le bytes(byte[] b, int off, int len) {
      ensure(len);
      System.arraycopy(b, off, buf, n, len);
      n += len;
      return this;
    }

    int size() {
      return n;
    }

    void reset() {
      n = 0;
    }

    byte[] array() {
      return buf;
    }

    byte[] toByteArray() {
      return Arrays.copyOf(buf, n);
    }
  }
}
