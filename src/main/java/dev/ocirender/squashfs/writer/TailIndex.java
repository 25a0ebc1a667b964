package dev.ocirender.squashfs.writer;

import java.io.IOException;
import java.util.Arrays;

/**
 * The tails already packed into fragment blocks, by length and CRC32C: the candidates that
 * {@link SquashfsEntrySink} compares a new tail with, byte for byte, before storing it again. One
 * entry per distinct tail, so an image of a million small files holds a million: kept in primitive
 * arrays, 12 bytes an entry stored densely (in chunks of {@value #CHUNK}, so the entries are never
 * copied to grow: the checksum, and length, offset and fragment block packed in one long, with the
 * fragment's bits past 24 in a byte array made only for images with that many fragment blocks),
 * found through open-addressing tables of entry numbers (linear probing, 4 bytes a slot, load 0.375
 * to 0.75): 17 to 23 bytes a tail, where a {@code HashMap} of key objects took about 100.
 *
 * <p>A 32-bit checksum can nominate a tail that differs (about once in 4 billion pairs of tails of
 * one length), so a key may have several entries and {@link #find} asks the caller about each in
 * turn; since a tail is only added when no entry held the same bytes, at most one can match, and
 * the result is the earlier copy of the same bytes whichever order they are asked in.
 * The slot table is split into {@value #SEGMENTS} segments that grow one at a time, so growing
 * never needs one allocation as large as the whole table. Not thread-safe.
 */
final class TailIndex {

  /** What {@link #find} returns when no tail recorded has the bytes asked for. */
  static final long ABSENT = -1L;

  /** Whether the tail stored in fragment block {@code fragment} at {@code offset} is the one sought. */
  interface Candidate {
    boolean matches(int fragment, int offset) throws IOException;
  }

  /**
   * Enough that a segment stays under half a G1 region of 1 MiB (the region size of heaps up to
   * 2 GiB) up to 16 million tails: a larger array is humongous and takes whole regions, which at a
   * million tails and 16 segments left half of 16 MiB unused.
   */
  private static final int SEGMENTS = 256;
  private static final int CHUNK_SHIFT = 12;
  private static final int CHUNK = 1 << CHUNK_SHIFT;
  private static final int CHUNK_MASK = CHUNK - 1;

  /** Per entry, in chunks: CRC32C; length | offset << 20 | low 24 bits of the fragment << 40. */
  private int[][] checks = new int[4][];
  private long[][] packed = new long[4][];
  /** Per entry, in chunks made when first needed: the fragment's bits past 24. */
  private byte[][] high = new byte[4][];
  private int size;

  /** Per segment: entry number + 1 per slot, 0 for a free slot; and how many are used. */
  private final int[][] slots = new int[SEGMENTS][];
  private final int[] used = new int[SEGMENTS];

  TailIndex() {
    for (int i = 0; i < SEGMENTS; i++) {
      slots[i] = new int[16];
    }
  }

  /**
   * Where the recorded tail of {@code length} bytes with CRC32C {@code check} that {@code candidate}
   * accepts is, or {@link #ABSENT}: each entry with this length and checksum is offered until one is.
   */
  long find(int length, int check, Candidate candidate) throws IOException {
    long h = hash(length, check);
    int[] table = slots[segment(h)];
    int mask = table.length - 1;
    for (int i = slot(h, mask); table[i] != 0; i = (i + 1) & mask) {
      int e = table[i] - 1;
      if (lengthOf(e) == length && checkOf(e) == check) {
        long place = placeOf(e);
        if (candidate.matches(fragment(place), offset(place))) {
          return place;
        }
      }
    }
    return ABSENT;
  }

  /** Records where a tail is; the caller found no recorded tail with the same bytes ({@link #find}). */
  void add(int length, int check, int fragment, int offset) {
    if (length <= 0) {
      throw new IllegalArgumentException("tail length " + length);
    }
    long h = hash(length, check);
    int s = segment(h);
    if ((used[s] + 1) * 4L > slots[s].length * 3L) {
      grow(s);
    }
    int[] table = slots[s];
    int mask = table.length - 1;
    int i = slot(h, mask);
    while (table[i] != 0) {
      i = (i + 1) & mask;
    }
    table[i] = append(length, check, fragment, offset) + 1;
    used[s]++;
  }

  private int append(int length, int check, int fragment, int offset) {
    if (length >= 1 << 20 || offset < 0 || offset >= 1 << 20 || fragment < 0) {
      throw new IllegalArgumentException("tail of " + length + " bytes at " + offset + " in fragment " + fragment);
    }
    int c = size >>> CHUNK_SHIFT;
    if (c == checks.length) {
      checks = Arrays.copyOf(checks, c * 2);
      packed = Arrays.copyOf(packed, c * 2);
      high = Arrays.copyOf(high, c * 2);
    }
    if (checks[c] == null) {
      checks[c] = new int[CHUNK];
      packed[c] = new long[CHUNK];
    }
    int o = size & CHUNK_MASK;
    checks[c][o] = check;
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

  private int checkOf(int e) {
    return checks[e >>> CHUNK_SHIFT][e & CHUNK_MASK];
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

  private static long hash(int length, int check) {
    return ((long) length << 32 | (check & 0xffffffffL)) * 0x9E3779B97F4A7C15L;
  }

  /** The top bits pick the segment; the slot within it comes from the next ones. */
  private static int segment(long hash) {
    return (int) (hash >>> 56);
  }

  private static int slot(long hash, int mask) {
    return (int) (hash >>> 24) & mask;
  }

  private void grow(int s) {
    int[] old = slots[s];
    int[] table = new int[old.length * 2];
    int mask = table.length - 1;
    for (int v : old) {
      if (v != 0) {
        int e = v - 1;
        int i = slot(hash(lengthOf(e), checkOf(e)), mask);
        while (table[i] != 0) {
          i = (i + 1) & mask;
        }
        table[i] = v;
      }
    }
    slots[s] = table;
  }
}
