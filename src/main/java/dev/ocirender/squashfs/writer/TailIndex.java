package dev.ocirender.squashfs.writer;

import java.util.Arrays;

/**
 * The tails already packed into fragment blocks, by length and checksums: the candidates that
 * {@link SquashfsEntrySink} compares a new tail with before storing it again. One entry per
 * distinct tail, so an image of a million small files holds a million: kept in primitive arrays,
 * 16 bytes an entry stored densely (in chunks of {@value #CHUNK}, so the entries are never copied
 * to grow: the checksums, and length, offset and fragment block packed in one long, with the
 * fragment's bits past 24 in a byte array made only for images with that many fragment blocks),
 * found through open-addressing tables of entry numbers (linear probing, 4 bytes a slot, load 0.375
 * to 0.75): 21 to 27 bytes a tail, where a {@code HashMap} of key objects took about 100.
 * The slot table is split into {@value #SEGMENTS} segments that grow one at a time, so growing
 * never needs one allocation as large as the whole table. The first tail stored under a key stays
 * its candidate, as with {@code putIfAbsent}. Not thread-safe.
 */
final class TailIndex {

  /** What {@link #find} returns when no tail has this length and these checksums. */
  static final long ABSENT = -1L;

  private static final int SEGMENTS = 16;
  private static final int CHUNK_SHIFT = 12;
  private static final int CHUNK = 1 << CHUNK_SHIFT;
  private static final int CHUNK_MASK = CHUNK - 1;

  /** Per entry, in chunks: checksums; length | offset << 20 | low 24 bits of the fragment << 40. */
  private long[][] crcs = new long[4][];
  private long[][] packed = new long[4][];
  /** Per entry, in chunks made when first needed: the fragment's bits past 24. */
  private byte[][] high = new byte[4][];
  private int size;

  /** Per segment: entry number + 1 per slot, 0 for a free slot; and how many are used. */
  private final int[][] slots = new int[SEGMENTS][];
  private final int[] used = new int[SEGMENTS];

  TailIndex() {
    for (int i = 0; i < SEGMENTS; i++) {
      slots[i] = new int[64];
    }
  }

  /** Where the first tail of {@code length} bytes with checksums {@code crcs} is, or {@link #ABSENT}. */
  long find(int length, long crcs) {
    long h = hash(length, crcs);
    int[] table = slots[segment(h)];
    int mask = table.length - 1;
    for (int i = slot(h, mask); table[i] != 0; i = (i + 1) & mask) {
      int e = table[i] - 1;
      if (lengthOf(e) == length && crcsOf(e) == crcs) {
        return placeOf(e);
      }
    }
    return ABSENT;
  }

  /** Records where a tail is, unless a tail with the same length and checksums is recorded. */
  void putIfAbsent(int length, long crcs, int fragment, int offset) {
    if (length <= 0) {
      throw new IllegalArgumentException("tail length " + length);
    }
    long h = hash(length, crcs);
    int s = segment(h);
    if ((used[s] + 1) * 4L > slots[s].length * 3L) {
      grow(s);
    }
    int[] table = slots[s];
    int mask = table.length - 1;
    int i = slot(h, mask);
    for (; table[i] != 0; i = (i + 1) & mask) {
      int e = table[i] - 1;
      if (lengthOf(e) == length && crcsOf(e) == crcs) {
        return;
      }
    }
    int e = add(length, crcs, fragment, offset);
    table[i] = e + 1;
    used[s]++;
  }

  private int add(int length, long crc, int fragment, int offset) {
    if (length >= 1 << 20 || offset < 0 || offset >= 1 << 20 || fragment < 0) {
      throw new IllegalArgumentException("tail of " + length + " bytes at " + offset + " in fragment " + fragment);
    }
    int c = size >>> CHUNK_SHIFT;
    if (c == crcs.length) {
      crcs = Arrays.copyOf(crcs, c * 2);
      packed = Arrays.copyOf(packed, c * 2);
      high = Arrays.copyOf(high, c * 2);
    }
    if (crcs[c] == null) {
      crcs[c] = new long[CHUNK];
      packed[c] = new long[CHUNK];
    }
    int o = size & CHUNK_MASK;
    crcs[c][o] = crc;
    packed[c][o] = length | (long) offset << 20 | (long) (fragment & 0xffffff) << 40;
    if (fragment >>> 24 != 0) {
      if (high[c] == null) {
        high[c] = new byte[CHUNK];
      }
      high[c][o] = (byte) (fragment >>> 24);
    }
    return size++;
  }

  private int lengthOf(int e) {
    return (int) packed[e >>> CHUNK_SHIFT][e & CHUNK_MASK] & 0xfffff;
  }

  private long crcsOf(int e) {
    return crcs[e >>> CHUNK_SHIFT][e & CHUNK_MASK];
  }

  /** Fragment block index << 32 | offset of entry {@code e}. */
  private long placeOf(int e) {
    int c = e >>> CHUNK_SHIFT;
    int o = e & CHUNK_MASK;
    long p = packed[c][o];
    long fragment = p >>> 40 | (high[c] == null ? 0 : (high[c][o] & 0xffL) << 24);
    return fragment << 32 | (p >>> 20 & 0xfffff);
  }

  static int fragment(long place) {
    return (int) (place >>> 32);
  }

  static int offset(long place) {
    return (int) place;
  }

  private static long hash(int length, long crcs) {
    return (crcs ^ length) * 0x9E3779B97F4A7C15L;
  }

  /** The top bits pick the segment; the slot within it comes from the next ones. */
  private static int segment(long hash) {
    return (int) (hash >>> 60);
  }

  private static int slot(long hash, int mask) {
    return (int) (hash >>> 28) & mask;
  }

  private void grow(int s) {
    int[] old = slots[s];
    int[] table = new int[old.length * 2];
    int mask = table.length - 1;
    for (int v : old) {
      if (v != 0) {
        int e = v - 1;
        int i = slot(hash(lengthOf(e), crcsOf(e)), mask);
        while (table[i] != 0) {
          i = (i + 1) & mask;
        }
        table[i] = v;
      }
    }
    slots[s] = table;
  }
}
