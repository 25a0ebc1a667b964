package dev.ocirender.squashfs.writer;

import java.util.Arrays;

/**
 * Distinct long keys, each with a small index in the order first seen, so that a {@link NodeStore}
 * record holds a byte or two instead of the key: the writer keeps one of uids and gids (unsigned
 * 32-bit values; {@link TableWriter} maps the indexes to the id table's, which is sorted) and one
 * of an inode's permission bits with its owner's and group's indexes, which few values cover in
 * most images. Open addressing, no boxing. Not thread-safe.
 */
final class Dictionary {

  private long[] values = new long[8];
  private int size;
  private long[] keys = new long[16];
  /** Index + 1 per key, 0 for a free place. */
  private int[] indexes = new int[16];
  private long lastKey;
  private int lastIndex = -1;

  /** The index of {@code key}, added when new. */
  int index(long key) {
    if (key == lastKey && lastIndex >= 0) {
      return lastIndex;
    }
    int mask = keys.length - 1;
    int i = hash(key, mask);
    for (; indexes[i] != 0; i = (i + 1) & mask) {
      if (keys[i] == key) {
        lastKey = key;
        lastIndex = indexes[i] - 1;
        return lastIndex;
      }
    }
    if (size == values.length) {
      values = Arrays.copyOf(values, size * 2);
    }
    values[size] = key;
    keys[i] = key;
    indexes[i] = ++size;
    if (size * 2 > keys.length) {
      rehash();
    }
    lastKey = key;
    lastIndex = size - 1;
    return lastIndex;
  }

  int size() {
    return size;
  }

  /** The key of {@code index}. */
  long key(int index) {
    return values[index];
  }

  private static int hash(long key, int mask) {
    return (int) ((key * 0x9E3779B97F4A7C15L) >>> 32) & mask;
  }

  private void rehash() {
    keys = new long[keys.length * 2];
    indexes = new int[keys.length];
    int mask = keys.length - 1;
    for (int k = 0; k < size; k++) {
      int i = hash(values[k], mask);
      while (indexes[i] != 0) {
        i = (i + 1) & mask;
      }
      keys[i] = values[k];
      indexes[i] = k + 1;
    }
  }
}
