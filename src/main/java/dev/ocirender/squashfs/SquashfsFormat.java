package dev.ocirender.squashfs;

/**
 * The numbers of the squashfs 4.0 format that the {@code reader} and the {@code writer} share: the
 * superblock's magic, size and flags, and the inode types. One place, so that the two sides cannot
 * drift apart and neither spells a type as a bare number.
 *
 * <p>Source: Linux {@code Documentation/filesystems/squashfs.rst} and {@code fs/squashfs/squashfs_fs.h},
 * squashfs-tools-ng {@code doc/format.adoc}.
 */
public final class SquashfsFormat {

  /** "hsqs", read as a little-endian int. */
  public static final int MAGIC = 0x73717368;
  public static final int SUPERBLOCK_SIZE = 96;

  // Superblock flags.
  public static final int FLAG_NO_FRAGMENTS = 0x0010;
  public static final int FLAG_DUPLICATES = 0x0040;
  public static final int FLAG_EXPORTABLE = 0x0080;
  public static final int FLAG_NO_XATTRS = 0x0200;
  public static final int FLAG_COMPRESSOR_OPTIONS = 0x0400;

  // Basic inode types; directory entries always carry these, even for an extended inode.
  public static final int DIR = 1;
  public static final int FILE = 2;
  public static final int SYMLINK = 3;
  public static final int BLOCK_DEVICE = 4;
  public static final int CHAR_DEVICE = 5;
  public static final int FIFO = 6;
  public static final int SOCKET = 7;
  /** An extended inode's type is its basic type plus this. */
  public static final int EXTENDED = 7;
  public static final int EXT_DIR = DIR + EXTENDED;
  public static final int EXT_FILE = FILE + EXTENDED;
  public static final int EXT_SYMLINK = SYMLINK + EXTENDED;
  public static final int EXT_BLOCK_DEVICE = BLOCK_DEVICE + EXTENDED;
  public static final int EXT_CHAR_DEVICE = CHAR_DEVICE + EXTENDED;
  public static final int EXT_FIFO = FIFO + EXTENDED;
  public static final int EXT_SOCKET = SOCKET + EXTENDED;

  private SquashfsFormat() {}

  /** The basic type of an inode type, basic or extended. */
  public static int basicType(int type) {
    return type > EXTENDED ? type - EXTENDED : type;
  }
}
