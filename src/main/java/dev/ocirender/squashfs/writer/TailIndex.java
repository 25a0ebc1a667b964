package dev.ocirender.squashfs.writer;

/**
 * The tails already packed into fragment blocks, by length and checksums: the candidates that
 * {@link SquashfsEntrySink} compares a new tail with before storing it again. One entry per
 * distinct tail, so an image of a million small files holds a million: kept in primitive arrays
 * (open addressing, linear probing; 20 bytes a slot, 27 to 53 bytes a tail), where a {@code
 * HashMap} of key objects took about 100. The table is split into {@value #SEGMENTS} segments that
 * grow one at a time, so growing never needs one allocation as large as the whole table (at a
 * million tails that spike was 60 MB). The first tail stored under a key stays its candidate, as
 * with {@code putIfAbsent}. Not thread-safe.
 */
final class TailIndex {

  /** What {@link #find} returns when no tail has this length and these checksums. */
  static final long ABSENT = -1L;

  private static final int SEGMENTS = 16;

  private final Segment[] segments = new Segment[SEGMENTS];

  TailIndex() {
    for (int i = 0; i < SEGMENTS; i++) {
      segments[i] = new Segment();
    }
  }

  /** Where the first tail of {@code length} bytes with checksums {@code crcs} is, or {@link #ABSENT}. */
  long find(int length, long crcs) {
    long h = hash(length, crcs);
    return segments[segment(h)].find(length, crcs, h);
  }

  /** Records where a tail is, unless a tail with the same length and checksums is recorded. */
  void putIfAbsent(int length, long crcs, int fragment, int offset) {
    if (length <= 0) {
      throw new IllegalArgumentException("tail length " + length);
    }
    long h = hash(length, crcs);
    segments[segment(h)].putIfAbsent(length, crcs, h, (long) fragment << 32 | (offset & 0xffffffffL));
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

  private static final class Segment {
    private long[] crcs = new long[64];
    /** Tail lengths; 0 marks a free slot (an empty tail is never stored). */
    private int[] lengths = new int[64];
    /** Fragment block index << 32 | offset in the block. */
    private long[] places = new long[64];
    private int size;

    long find(int length, long crcs, long hash) {
      int mask = lengths.length - 1;
      for (int i = slot(hash, mask); lengths[i] != 0; i = (i + 1) & mask) {
        if (lengths[i] == length && this.crcs[i] == crcs) {
          return places[i];
        }
      }
      return ABSENT;
    }

    void putIfAbsent(int length, long crcs, long hash, long place) {
      if ((size + 1) * 4L > lengths.length * 3L) {
        grow();
      }
      int mask = lengths.length - 1;
      int i = slot(hash, mask);
      for (; lengths[i] != 0; i = (i + 1) & mask) {
        if (lengths[i] == length && this.crcs[i] == crcs) {
          return;
        }
      }
      lengths[i] = length;
      this.crcs[i] = crcs;
      places[i] = place;
      size++;
    }

    private void grow() {
      long[] oldCrcs = crcs;
      int[] oldLengths = lengths;
      long[] oldPlaces = places;
      int capacity = oldLengths.length * 2;
      crcs = new long[capacity];
      lengths = new int[capacity];
      places = new long[capacity];
      int mask = capacity - 1;
      for (int j = 0; j < oldLengths.length; j++) {
        if (oldLengths[j] != 0) {
          int i = slot(hash(oldLengths[j], oldCrcs[j]), mask);
          while (lengths[i] != 0) {
            i = (i + 1) & mask;
          }
          lengths[i] = oldLengths[j];
          crcs[i] = oldCrcs[j];
          places[i] = oldPlaces[j];
        }
      }
    }
  }
}
