package dev.ocirender.squashfs.writer;

import java.util.Arrays;

/**
 * Every directory entry the squashfs writer keeps until {@link TableWriter} writes the tables, as
 * one serialized record per name in pooled byte storage: no object per entry. An image of a million
 * small files keeps a million records of about 19 bytes (a name of 8 bytes), where a node object
 * with its name and child link took about 100.
 *
 * <p>A record is addressed by its position (a long) in the pool. It holds, in this order: a kind
 * byte with flags ({@link #F_LINKED} is the one field changed after the record is written); the
 * name's length - 1 and its bytes; how far back the previous child of the same directory starts (0
 * for none: the children of a directory form a list, newest first, so a directory keeps only its
 * last child's position); then by kind: a subdirectory's index in the writer's list of directories;
 * the position of the record of the inode a hard link names; or an inode: its permission bits,
 * owner and group as one index into a {@link Dictionary} of such triples, its mtime as a distance
 * from the first one written, its xattr set id if flagged, and then a file's size, its {@link
 * Node.FileBlocks} index if it has full blocks, and its fragment and offset if it has a tail; a
 * symlink's target; or a device's type and number. Numbers are variable-length (7 bits a byte),
 * so small ones cost one byte.
 *
 * <p>The pool is a list of 64 KiB chunks; a record starts a new chunk rather than straddle one, so
 * its first bytes and its name always lie in one array (a record larger than a chunk, only possible
 * with a long symlink target, starts a chunk and runs on into the next ones). Not thread-safe.
 */
final class NodeStore {

  static final int FILE = 1;
  static final int SYMLINK = 2;
  static final int SPECIAL = 3;
  static final int DIR = 4;
  static final int LINK = 5;
  static final int KIND_MASK = 0x7;
  static final int F_XATTR = 0x10;
  /** The inode has more than one name; its link count is in the writer's {@link LinkTable}. */
  static final int F_LINKED = 0x20;
  static final int F_BLOCKS = 0x40;
  static final int F_FRAGMENT = 0x80;

  static final long NONE = -1L;

  private static final int SHIFT = 16;
  private static final int CHUNK = 1 << SHIFT;
  private static final int MASK = CHUNK - 1;

  private byte[][] chunks = new byte[8][];
  private long end;

  /** The record being built. */
  private byte[] rec = new byte[512];
  private final byte[] varBuf = new byte[10];
  private int recLength;

  /** The first mtime written: the others are written as their distance from it. */
  private long mtimeBase;
  private boolean haveMtimeBase;

  /** The read position of {@link #seek} and the readers after it. */
  private long cursor;

  // ---- building a record

  /** Starts a record of {@code kind | flags} named {@code name}; its fields follow, then {@link #commit}. */
  void begin(int kindAndFlags, byte[] name) {
    recLength = 0;
    ensure(2 + name.length);
    rec[recLength++] = (byte) kindAndFlags;
    rec[recLength++] = (byte) (name.length - 1);
    System.arraycopy(name, 0, rec, recLength, name.length);
    recLength += name.length;
  }

  void u8(int v) {
    ensure(1);
    rec[recLength++] = (byte) v;
  }

  void u32(int v) {
    ensure(4);
    for (int i = 0; i < 4; i++) {
      rec[recLength++] = (byte) (v >>> (8 * i));
    }
  }

  void var(long v) {
    ensure(10);
    while ((v & ~0x7fL) != 0) {
      rec[recLength++] = (byte) (v & 0x7f | 0x80);
      v >>>= 7;
    }
    rec[recLength++] = (byte) v;
  }

  void bytes(byte[] b) {
    ensure(b.length);
    System.arraycopy(b, 0, rec, recLength, b.length);
    recLength += b.length;
  }

  /**
   * Writes an mtime as its distance (zigzag, variable-length) from the first one written: the
   * entries of a layer mostly share an mtime or have close ones, so it usually takes a byte.
   */
  void mtime(int mtime) {
    if (!haveMtimeBase) {
      mtimeBase = Integer.toUnsignedLong(mtime);
      haveMtimeBase = true;
    }
    long d = Integer.toUnsignedLong(mtime) - mtimeBase;
    var(d << 1 ^ d >> 63);
  }

  private void ensure(int more) {
    if (recLength + more > rec.length) {
      rec = Arrays.copyOf(rec, Math.max(rec.length * 2, recLength + more));
    }
  }

  /**
   * Appends the record built since {@link #begin}, after sibling {@code previous} ({@link #NONE}
   * for the first child); returns its position. It goes at the pool's end, or at the next chunk
   * when it might straddle one (counting the widest distance back).
   */
  long commit(long previous) {
    int nameEnd = 2 + (rec[1] & 0xff) + 1;
    int room = CHUNK - (int) (end & MASK);
    long at = recLength + 10 > room && room < CHUNK ? end + room : end;
    long back = previous == NONE ? 0 : at - previous;
    byte[] var = varBuf;
    int n = 0;
    while ((back & ~0x7fL) != 0) {
      var[n++] = (byte) (back & 0x7f | 0x80);
      back >>>= 7;
    }
    var[n++] = (byte) back;
    end = at;
    put(rec, 0, nameEnd);
    put(var, 0, n);
    put(rec, nameEnd, recLength - nameEnd);
    return at;
  }

  private void put(byte[] b, int off, int len) {
    while (len > 0) {
      int c = (int) (end >>> SHIFT);
      if (c == chunks.length) {
        chunks = Arrays.copyOf(chunks, chunks.length * 2);
      }
      if (chunks[c] == null) {
        chunks[c] = new byte[CHUNK];
      }
      int o = (int) (end & MASK);
      int k = Math.min(len, CHUNK - o);
      System.arraycopy(b, off, chunks[c], o, k);
      off += k;
      len -= k;
      end += k;
    }
  }

  // ---- reading

  int kindAndFlags(long p) {
    return chunks[(int) (p >>> SHIFT)][(int) (p & MASK)] & 0xff;
  }

  int kind(long p) {
    return kindAndFlags(p) & KIND_MASK;
  }

  void addFlags(long p, int flags) {
    chunks[(int) (p >>> SHIFT)][(int) (p & MASK)] |= (byte) flags;
  }

  int nameLength(long p) {
    return (chunks[(int) (p >>> SHIFT)][(int) (p + 1 & MASK)] & 0xff) + 1;
  }

  /** The chunk holding the record at {@code p}, with its name at {@link #nameOffset}. */
  byte[] chunk(long p) {
    return chunks[(int) (p >>> SHIFT)];
  }

  int nameOffset(long p) {
    return (int) (p & MASK) + 2;
  }

  byte[] name(long p) {
    int off = nameOffset(p);
    return Arrays.copyOfRange(chunk(p), off, off + nameLength(p));
  }

  boolean nameEquals(long p, byte[] name) {
    int off = nameOffset(p);
    return Arrays.equals(chunk(p), off, off + nameLength(p), name, 0, name.length);
  }

  static int compareNames(NodeStore s, long a, long b) {
    int oa = s.nameOffset(a);
    int ob = s.nameOffset(b);
    return Arrays.compareUnsigned(s.chunk(a), oa, oa + s.nameLength(a), s.chunk(b), ob, ob + s.nameLength(b));
  }

  /**
   * Positions the reader after the record's name and distance back, and returns the previous
   * sibling's position, or {@link #NONE}.
   */
  long seek(long p) {
    cursor = p + 2 + nameLength(p);
    long back = var();
    return back == 0 ? NONE : p - back;
  }

  int u8() {
    int v = chunks[(int) (cursor >>> SHIFT)][(int) (cursor & MASK)] & 0xff;
    cursor++;
    return v;
  }

  int u32() {
    return u8() | u8() << 8 | u8() << 16 | u8() << 24;
  }

  long var() {
    long v = 0;
    for (int shift = 0; ; shift += 7) {
      int b = u8();
      v |= (long) (b & 0x7f) << shift;
      if (b < 0x80) {
        return v;
      }
    }
  }

  /** An mtime written by {@link #mtime(int)}. */
  int mtime() {
    long z = var();
    return (int) (mtimeBase + (z >>> 1 ^ -(z & 1)));
  }

  int varInt() {
    return (int) var();
  }

  byte[] bytes(int n) {
    byte[] b = new byte[n];
    for (int i = 0; i < n; i++) {
      b[i] = (byte) u8();
    }
    return b;
  }

}
