package dev.ocirender.squashfs.writer;

/**
 * The tails already packed into fragment blocks, by length and checksums: the candidates that
 * {@link SquashfsEntrySink} compares a new tail with before storing it again. One entry per
 * distinct tail, so an image of a million small files holds a million: kept in primitive arrays
 * (open addressing, linear probing), about 27 bytes per tail, where a {@code HashMap} of key
 * objects took about 70. The first tail stored under a key stays its candidate, as with {@code
 * putIfAbsent}. Not thread-safe.
 */
final class TailIndex {

  /** What {@link #find} returns when no tail has this length and these checksums. */
  static final long ABSENT = -1L;

  private long[] crcs = new long[1024];
  /** Tail lengths; 0 marks a free slot (an empty tail is never stored). */
  private int[] lengths = new int[1024];
  /** Fragment block index << 32 | offset in the block. */
  private long[] places = new long[1024];
  private int size;

  /** Where the first tail of {@code length} bytes with checksums {@code crcs} is, or {@link #ABSENT}. */
  long find(int length, long crcs) {
    int mask = lengths.length - 1;
    for (int i = slot(length, crcs, mask); lengths[i] != 0; i = (i + 1) & mask) {
      if (lengths[i] == length && this.crcs[i] == crcs) {
        return places[i];
      }
    }
    return ABSENT;
  }

  /** Records where a tail is, unless a tail with the same length and checksums is recorded. */
  void putIfAbsent(int length, long crcs, int fragment, int offset) {
    if (length <= 0) {
      throw new IllegalArgumentException("tail length " + length);
    }
    if ((size + 1) * 4L > lengths.length * 3L) {
      grow();
    }
    int mask = lengths.length - 1;
    int i = slot(length, crcs, mask);
    for (; lengths[i] != 0; i = (i + 1) & mask) {
      if (lengths[i] == length && this.crcs[i] == crcs) {
        return;
      }
    }
    lengths[i] = length;
    this.crcs[i] = crcs;
    places[i] = (long) fragment << 32 | (offset & 0xffffffffL);
    size++;
  }

  static int fragment(long place) {
    return (int) (place >>> 32);
  }

  static int offset(long place) {
    return (int) place;
  }

  private static int slot(int length, long crcs, int mask) {
    long h = (crcs ^ length) * 0x9E3779B97F4A7C15L;
    return (int) (h >>> 32) & mask;
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
        int i = slot(oldLengths[j], oldCrcs[j], mask);
        while (lengths[i] != 0) {
          i = (i + 1) & mask;
        }
        lengths[i] = oldLengths[j];
        crcs[i] = oldCrcs[j];
        places[i] = oldPlaces[j];
      }
    }
  }

  int size() {
    return size;
  }
}
