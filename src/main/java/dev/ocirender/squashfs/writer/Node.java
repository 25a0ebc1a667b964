package dev.ocirender.squashfs.writer;

/**
 * The objects {@link SquashfsEntrySink} keeps besides the {@link NodeStore} records: one per
 * directory, and one per regular file that has full blocks (so at least a block of content each).
 * Files without full blocks, symlinks and devices have no object, only their record.
 */
final class Node {

  private Node() {}

  /**
   * A directory: its metadata (until its entry arrives, that of a parent no entry described, as the
   * merge implies it) and its children, a list of {@link NodeStore} records from {@link #lastChild}
   * back. Owners and mtime are unsigned 32-bit values held in ints.
   */
  static final class Dir {
    int mode = 0755;
    int uid;
    int gid;
    int mtime;
    /** Index into the sink's xattr sets, or -1. */
    int xattr = -1;
    boolean hasHeader;
    long lastChild = NodeStore.NONE;
    int count;

    // Set by TableWriter.
    /** Its children's records sorted by name, while the tables are written. */
    long[] sorted;
    /** The inode number before its children's: they are numbered from here + 1 on. */
    int base;
    int inodeNumber;
    long inodeRef = -1;
    /** Its inode, made with its listing, until its parent writes it into the inode table. */
    byte[] inode;
  }

  /**
   * Where a regular file's full blocks are: size words (0 = sparse) of blocks stored from {@code
   * start}. Filled in as the blocks are written; {@code start} moves when the run turns out to
   * repeat an earlier one.
   */
  static final class FileBlocks {
    long start;
    final int[] sizes;

    FileBlocks(int blocks) {
      this.sizes = new int[blocks];
    }

    /** Bytes of full blocks stored sparse (only whole blocks of zeros are, with size word 0). */
    long sparseBytes(int blockSize) {
      long n = 0;
      for (int s : sizes) {
        if (s == 0) {
          n += blockSize;
        }
      }
      return n;
    }
  }
}
