package dev.ocirender.squashfs.writer;

import java.util.Arrays;

/**
 * The distinct uids and gids (unsigned 32-bit values in ints), each with a small index in the order
 * first seen: an entry's record holds the index in a byte or two instead of two 4-byte ids.
 * {@link TableWriter} maps the indexes to the id table's, which is sorted. Not thread-safe.
 */
final class IdDictionary {

  /** squashfs's id table has 16-bit indexes. */
  static final int MAX_IDS = 65536;

  private int[] ids = new int[8];
  private int size;
  private int[] keys = new int[16];
  /** Index + 1 per key, 0 for a free place. */
  private int[] indexes = new int[16];
  private int lastId;
  private int lastIndex = -1;

  /** The index of {@code id}, added when new. */
  int index(int id) {
    if (id == lastId && lastIndex >= 0) {
      return lastIndex;
    }
    int mask = keys.length - 1;
    int i = hash(id, mask);
    for (; indexes[i] != 0; i = (i + 1) & mask) {
      if (keys[i] == id) {
        lastId = id;
        lastIndex = indexes[i] - 1;
        return lastIndex;
      }
    }
    if (size == ids.length) {
      ids = Arrays.copyOf(ids, size * 2);
    }
    ids[size] = id;
    keys[i] = id;
    indexes[i] = ++size;
    if (size * 2 > keys.length) {
      rehash();
    }
    lastId = id;
    lastIndex = size - 1;
    return lastIndex;
  }

  int size() {
    return size;
  }

  int id(int index) {
    return ids[index];
  }

  private static int hash(int id, int mask) {
    return (id * 0x9E3779B9 >>> 16) & mask;
  }

  private void rehash() {
    keys = new int[keys.length * 2];
    indexes = new int[keys.length];
    int mask = keys.length - 1;
    for (int k = 0; k < size; k++) {
      int i = hash(ids[k], mask);
      while (indexes[i] != 0) {
        i = (i + 1) & mask;
      }
      keys[i] = ids[k];
      indexes[i] = k + 1;
    }
  }
}
