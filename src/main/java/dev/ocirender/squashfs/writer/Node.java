package dev.ocirender.squashfs.writer;

import dev.ocirender.layer.EntryType;
import dev.ocirender.squashfs.SquashfsFormat;
import java.util.Arrays;

/**
 * The compact metadata {@link SquashfsEntrySink} keeps per inode until {@link TableWriter} writes
 * the tables: no paths (a directory holds its children's names), no content, xattrs as a set id.
 * Hard links are one node reached through several names. Fields are as narrow as
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

  /**
   * A directory: its children (nodes, and their names packed into one byte array: a name costs its
   * bytes and an int, not an object) in arrival order until {@link #sortByName}.
   */
  static final class Dir extends Node {
    private Node[] nodes = new Node[4];
    /** End of child i's name in {@link #names}; it starts where child i - 1's ends. */
    private int[] nameEnds = new int[4];
    private byte[] names = new byte[32];
    private int count;
    boolean hasHeader;
    /** Its inode, made with its listing, until its parent writes it into the inode table. */
    byte[] inode;

    Dir() {
      mode = 0755; // a parent no entry described: as the merge implies it
    }

    void add(byte[] name, Node node) {
      if (count == nodes.length) {
        int n = count + (count >> 1) + 1;
        nodes = Arrays.copyOf(nodes, n);
        nameEnds = Arrays.copyOf(nameEnds, n);
      }
      int from = count == 0 ? 0 : nameEnds[count - 1];
      if (from + name.length > names.length) {
        names = Arrays.copyOf(names, Math.max(from + name.length, names.length + (names.length >> 1)));
      }
      System.arraycopy(name, 0, names, from, name.length);
      nodes[count] = node;
      nameEnds[count] = from + name.length;
      count++;
    }

    int size() {
      return count;
    }

    Node node(int i) {
      return nodes[i];
    }

    private int nameStart(int i) {
      return i == 0 ? 0 : nameEnds[i - 1];
    }

    int nameLength(int i) {
      return nameEnds[i] - nameStart(i);
    }

    byte[] name(int i) {
      return Arrays.copyOfRange(names, nameStart(i), nameEnds[i]);
    }

    boolean nameEquals(int i, byte[] name) {
      return Arrays.equals(names, nameStart(i), nameEnds[i], name, 0, name.length);
    }

    void writeName(int i, MetadataWriter.Le out) {
      out.bytes(names, nameStart(i), nameLength(i));
    }

    /** Sorts the children by unsigned name bytes (stable), and trims the arrays to size. */
    void sortByName() {
      Integer[] order = new Integer[count];
      for (int i = 0; i < count; i++) {
        order[i] = i;
      }
      Arrays.sort(order, (a, b) -> Arrays.compareUnsigned(names, nameStart(a), nameEnds[a], names, nameStart(b), nameEnds[b]));
      Node[] sortedNodes = new Node[count];
      int[] sortedEnds = new int[count];
      byte[] sortedNames = new byte[count == 0 ? 0 : nameEnds[count - 1]];
      int at = 0;
      for (int k = 0; k < count; k++) {
        int i = order[k];
        int len = nameLength(i);
        System.arraycopy(names, nameStart(i), sortedNames, at, len);
        at += len;
        sortedEnds[k] = at;
        sortedNodes[k] = nodes[i];
      }
      nodes = sortedNodes;
      nameEnds = sortedEnds;
      names = sortedNames;
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
