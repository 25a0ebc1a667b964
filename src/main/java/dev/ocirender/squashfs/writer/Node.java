package dev.ocirender.squashfs.writer;

import dev.ocirender.layer.EntryType;
import dev.ocirender.squashfs.SquashfsFormat;
import java.util.ArrayList;
import java.util.List;

/**
 * The compact metadata {@link SquashfsEntrySink} keeps per inode until {@link TableWriter} writes
 * the tables: no paths (a directory holds its children's names), no content, xattrs as a set id.
 * Hard links are one node reached through several {@link Child} names. Fields are as narrow as
 * the format's: owners and mtime are unsigned 32-bit values held in ints (read them with
 * {@link Integer#toUnsignedLong}); an image of a million small files keeps a million of these.
 */
abstract class Node {
  int mode;
  int uid;
  int gid;
  int mtime;
  /** Index into the sink's xattr sets, or -1. */
  int xattr = -1;
  int nlink = 1;
  /** Assigned by {@link TableWriter}: inode number (1-based) and inode reference once written. */
  int inodeNumber;
  long inodeRef = -1;

  /** The basic inode type (1..7), which directory entries use even for extended inodes. */
  abstract int basicType();

  record Child(byte[] name, Node node) {}

  static final class Dir extends Node {
    final List<Child> children = new ArrayList<>();
    boolean hasHeader;
    /** Its inode, made with its listing, until its parent writes it into the inode table. */
    byte[] inode;

    Dir() {
      mode = 0755; // a parent no entry described: as the merge implies it
    }

    @Override
    int basicType() {
      return SquashfsFormat.DIR;
    }
  }

  /**
   * A regular file and where its bytes are: full blocks (size words; 0 = sparse) from {@code start},
   * then a tail in fragment block {@code fragment} at {@code fragmentOffset}, or no tail (-1).
   */
  static final class File extends Node {
    /** The block list of every file without full blocks: shared, never written to. */
    static final int[] NO_BLOCKS = new int[0];

    final long size;
    long start;
    int[] sizes;
    int fragment = -1;
    int fragmentOffset;

    File(long size) {
      this.size = size;
    }

    @Override
    int basicType() {
      return SquashfsFormat.FILE;
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

  static final class Symlink extends Node {
    byte[] target;

    @Override
    int basicType() {
      return SquashfsFormat.SYMLINK;
    }
  }

  static final class Special extends Node {
    final EntryType type;
    int rdev;

    Special(EntryType type) {
      this.type = type;
    }

    @Override
    int basicType() {
      return switch (type) {
        case BLOCK_DEVICE -> SquashfsFormat.BLOCK_DEVICE;
        case CHAR_DEVICE -> SquashfsFormat.CHAR_DEVICE;
        case FIFO -> SquashfsFormat.FIFO;
        default -> throw new IllegalStateException("not a special file: " + type);
      };
    }
  }
}
