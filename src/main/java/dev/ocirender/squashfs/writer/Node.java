package dev.ocirender.squashfs.writer;

import dev.ocirender.layer.EntryType;
import dev.ocirender.squashfs.SquashfsFormat;
import java.util.ArrayList;
import java.util.List;

/**
 * The compact metadata {@link SquashfsEntrySink} keeps per inode until {@link TableWriter} writes
 * the tables: no paths (a directory holds its children's names), no content, xattrs as a set id.
 * Hard links are one node reached through several {@link Child} names.
 */
abstract class Node {
  int mode;
  long uid;
  long gid;
  long mtime;
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

    Dir() {
      mode = 0755; // a parent no entry described: as the merge implies it
    }

    @Override
    int basicType() {
      return SquashfsFormat.DIR;
    }
  }

  static final class File extends Node {
    FileData data;

    @Override
    int basicType() {
      return SquashfsFormat.FILE;
    }
  }

  /** Where a file's bytes are: blocks (sizes; 0 = sparse) from start, then a fragment tail. */
  static final class FileData {
    final long size;
    long start;
    int[] sizes;
    long sparseBytes;
    int fragment = -1;
    int fragmentOffset;

    FileData(long size) {
      this.size = size;
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
