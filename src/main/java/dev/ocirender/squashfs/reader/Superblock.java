package dev.ocirender.squashfs.reader;

import static dev.ocirender.squashfs.SquashfsFormat.FLAG_NO_XATTRS;
import static dev.ocirender.squashfs.SquashfsFormat.MAGIC;
import static dev.ocirender.squashfs.SquashfsFormat.SUPERBLOCK_SIZE;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The 96-byte squashfs 4.0 superblock at offset 0 (little-endian), validated against the image
 * size: every table start must lie inside the image, and the block size must be a power of two
 * between 4 KiB and 1 MiB that agrees with its logarithm.
 *
 * <p>Layout (Linux {@code Documentation/filesystems/squashfs.rst}, squashfs-tools-ng
 * {@code doc/format.adoc}): magic, inode count, mkfs time, block size, fragment count, compressor
 * id, block log, flags, id count, version major and minor, root inode reference, bytes used, then
 * the starts of the id, xattr-id, inode, directory, fragment and export tables.
 */
public record Superblock(
    long inodeCount, long mkfsTime, int blockSize, long fragmentCount, int compressor, int blockLog,
    int flags, int idCount, int versionMajor, int versionMinor, long rootInode, long bytesUsed,
    long idTableStart, long xattrIdTableStart, long inodeTableStart, long directoryTableStart,
    long fragmentTableStart, long exportTableStart) {

  /** A table start of all ones: the table is absent. */
  public static final long ABSENT = -1L;

  static Superblock parse(byte[] raw, long fileSize) throws SquashfsFormatException {
    if (raw.length < SUPERBLOCK_SIZE) {
      throw new SquashfsFormatException("superblock: image is " + fileSize + " bytes, shorter than the 96-byte superblock");
    }
    ByteBuffer b = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
    int magic = b.getInt(0);
    if (magic != MAGIC) {
      throw new SquashfsFormatException(String.format("superblock: magic 0x%08x is not squashfs (\"hsqs\")", magic));
    }
    Superblock s = new Superblock(
        Integer.toUnsignedLong(b.getInt(4)), Integer.toUnsignedLong(b.getInt(8)), b.getInt(12),
        Integer.toUnsignedLong(b.getInt(16)), Short.toUnsignedInt(b.getShort(20)), Short.toUnsignedInt(b.getShort(22)),
        Short.toUnsignedInt(b.getShort(24)), Short.toUnsignedInt(b.getShort(26)), Short.toUnsignedInt(b.getShort(28)),
        Short.toUnsignedInt(b.getShort(30)), b.getLong(32), b.getLong(40), b.getLong(48), b.getLong(56),
        b.getLong(64), b.getLong(72), b.getLong(80), b.getLong(88));
    s.validate(fileSize);
    return s;
  }

  private void validate(long fileSize) throws SquashfsFormatException {
    if (versionMajor != 4 || versionMinor != 0) {
      throw new SquashfsFormatException("superblock: squashfs version " + versionMajor + "." + versionMinor
          + " is not supported (only 4.0)");
    }
    if (blockSize < 4096 || blockSize > (1 << 20) || Integer.bitCount(blockSize) != 1 || (1 << blockLog) != blockSize) {
      throw new SquashfsFormatException("superblock: invalid block size " + blockSize + " (log " + blockLog + ")");
    }
    if (bytesUsed < SUPERBLOCK_SIZE || Long.compareUnsigned(bytesUsed, fileSize) > 0) {
      throw new SquashfsFormatException("superblock: image truncated or damaged: it says " + Long.toUnsignedString(bytesUsed)
          + " bytes are used, the file has " + fileSize);
    }
    requireInside("inode table", inodeTableStart);
    requireInside("directory table", directoryTableStart);
    requireInside("id table", idTableStart);
    if (Long.compareUnsigned(directoryTableStart, inodeTableStart) < 0) {
      throw new SquashfsFormatException("superblock: directory table start " + Long.toUnsignedString(directoryTableStart)
          + " lies before the inode table start " + Long.toUnsignedString(inodeTableStart));
    }
    if (fragmentCount > 0) {
      requireInside("fragment table", fragmentTableStart);
    }
    if (xattrIdTableStart != ABSENT) {
      requireInside("xattr id table", xattrIdTableStart);
    }
    if (exportTableStart != ABSENT) {
      requireInside("export table", exportTableStart);
    }
    if (idCount == 0) {
      throw new SquashfsFormatException("superblock: id count is 0 (every image has at least one uid/gid)");
    }
  }

  private void requireInside(String table, long start) throws SquashfsFormatException {
    if (start < SUPERBLOCK_SIZE || Long.compareUnsigned(start, bytesUsed) >= 0) {
      throw new SquashfsFormatException("superblock: " + table + " start " + Long.toUnsignedString(start)
          + " lies outside the image (96.." + bytesUsed + ")");
    }
  }

  public boolean hasXattrs() {
    return xattrIdTableStart != ABSENT && (flags & FLAG_NO_XATTRS) == 0;
  }
}
