package dev.ocirender.layer;

import java.util.Arrays;

/**
 * Where the data of a sparse tar entry lies in the expanded file: an ordered list of
 * (offset, length) segments; everything between them is a hole that reads as zeros.
 *
 * <p>All GNU sparse encodings (old GNU {@code 'S'} headers, PAX 0.0, 0.1 and 1.0) are decoded into
 * this one form; the archive stores the segments' bytes back to back. Validation makes sure a
 * hostile map cannot make the expansion overlap, run backwards or exceed the declared size.
 */
final class SparseMap {

  /** More segments than this is a damaged or hostile map (real files have far fewer). */
  static final int MAX_SEGMENTS = 1 << 22;

  private long[] offsets = new long[8];
  private long[] lengths = new long[8];
  private int count;
  private boolean lengthPending;

  void add(long offset, long length) {
    addOffset(offset);
    addLength(length);
  }

  void addOffset(long offset) {
    if (count == MAX_SEGMENTS) {
      throw new IllegalArgumentException("sparse map has more than " + MAX_SEGMENTS + " segments");
    }
    if (count == offsets.length) {
      offsets = Arrays.copyOf(offsets, count * 2);
      lengths = Arrays.copyOf(lengths, count * 2);
    }
    offsets[count] = offset;
    lengthPending = true;
  }

  void addLength(long length) {
    lengths[count++] = length;
    lengthPending = false;
  }

  int count() {
    return count;
  }

  long offset(int i) {
    return offsets[i];
  }

  long length(int i) {
    return lengths[i];
  }

  void clear() {
    count = 0;
    lengthPending = false;
  }

  /**
   * Checks that the segments are in order, do not overlap, stay within {@code realSize}, and that
   * their lengths add up to exactly the {@code storedSize} bytes the archive holds for them.
   */
  void validate(long realSize, long storedSize) {
    if (lengthPending) {
      throw new IllegalArgumentException("sparse map ends with an offset but no length");
    }
    if (realSize < 0) {
      throw new IllegalArgumentException("negative sparse file size " + realSize);
    }
    long end = 0;
    long total = 0;
    for (int i = 0; i < count; i++) {
      long off = offsets[i];
      long len = lengths[i];
      if (off < 0 || len < 0 || off < end || len > realSize - off) {
        throw new IllegalArgumentException("bad sparse map segment " + i + " (offset " + off + ", length " + len
            + ", file size " + realSize + ")");
      }
      end = off + len;
      total += len;
    }
    if (total != storedSize) {
      throw new IllegalArgumentException("sparse map covers " + total + " bytes but the archive stores " + storedSize);
    }
  }
}
