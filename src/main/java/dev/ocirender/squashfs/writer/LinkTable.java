package dev.ocirender.squashfs.writer;

import java.util.Arrays;

/**
 * The inodes with more than one name (hard links), by their {@link NodeStore} record position:
 * link count, and the inode number and reference {@link TableWriter} gives them where first met.
 * Only these inodes are here, so an image without hard links keeps nothing; primitive arrays and
 * open addressing, no boxing. Not thread-safe.
 */
final class LinkTable {

  private long[] keys = new long[16];
  /** Slot + 1 per key, 0 for a free place. */
  private int[] slots = new int[16];
  private int size;
  int[] nlink = new int[8];
  int[] number = new int[8];
  long[] ref = new long[8];

  /** The slot of the inode at {@code record}, made (link count 1, not numbered) when absent. */
  int slot(long record) {
    int mask = keys.length - 1;
    for (int i = hash(record, mask); ; i = (i + 1) & mask) {
      if (slots[i] == 0) {
        if ((size + 1) * 2 > keys.length) {
          grow();
          return slot(record);
        }
        if (size == nlink.length) {
          nlink = Arrays.copyOf(nlink, size * 2);
          number = Arrays.copyOf(number, size * 2);
          ref = Arrays.copyOf(ref, size * 2);
        }
        keys[i] = record;
        slots[i] = ++size;
        nlink[size - 1] = 1;
        ref[size - 1] = -1;
        return size - 1;
      }
      if (keys[i] == record) {
        return slots[i] - 1;
      }
    }
  }

  private static int hash(long key, int mask) {
    return (int) ((key * 0x9E3779B97F4A7C15L) >>> 32) & mask;
  }

  private void grow() {
    long[] oldKeys = keys;
    int[] oldSlots = slots;
    keys = new long[oldKeys.length * 2];
    slots = new int[oldKeys.length * 2];
    int mask = keys.length - 1;
    for (int j = 0; j < oldKeys.length; j++) {
      if (oldSlots[j] != 0) {
        int i = hash(oldKeys[j], mask);
        while (slots[i] != 0) {
          i = (i + 1) & mask;
        }
        keys[i] = oldKeys[j];
        slots[i] = oldSlots[j];
      }
    }
  }
}
