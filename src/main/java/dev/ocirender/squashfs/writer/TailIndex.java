package dev.ocirender.squashfs.writer;

import java.util.Arrays;

/**
 * The tails already packed into fragment blocks, by length and checksums: the candidates that
 * {@link SquashfsEntrySink} compares a new tail with before storing it again. One entry per
 * distinct tail, so an image of a million small files holds a million: kept in primitive arrays,
 * 20 bytes an entry stored densely (in chunks of {@value #CHUNK}, so the entries are never copied
 * to grow), found through open-addressing tables of entry numbers (linear probing, 4 bytes a slot,
 * load 0.375 to 0.75): 25 to 31 bytes a tail, where a {@code HashMap} of key objects took about 100.
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

  /** Per entry, in chunks: checksums, length, and fragment block index << 32 | offset. */
  private long[][] crcs = new long[4][];
  private int[][] lengths = new int[4][];
  private long[][] places = new long[4][];
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
        return places[e >>> CHUNK_SHIFT][e & CHUNK_MASK];
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
    int e = add(length, crcs, (long) fragment << 32 | (offset & 0xffffffffL));
    table[i] = e + 1;
    used[s]++;
  }

  private int add(int length, long crc, long place) {
    int c = size >>> CHUNK_SHIFT;
    if (c == lengths.length) {
      crcs = Arrays.copyOf(crcs, c * 2);
      lengths = Arrays.copyOf(lengths, c * 2);
      places = Arrays.copyOf(places, c * 2);
    }
    if (lengths[c] == null) {
      crcs[c] = new long[CHUNK];
      lengths[c] = new int[CHUNK];
      places[c] = new long[CHUNK];
    }
    int o = size & CHUNK_MASK;
    crcs[c][o] = crc;
    lengths[c][o] = length;
    places[c][o] = place;
    return size++;
  }

  private int lengthOf(int e) {
    return lengths[e >>> CHUNK_SHIFT][e & CHUNK_MASK];
  }

  private long crcsOf(int e) {
    return crcs[e >>> CHUNK_SHIFT][e & CHUNK_MASK];
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
