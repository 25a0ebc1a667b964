package dev.ocirender.squashfs.reader;

import static dev.ocirender.squashfs.SquashfsFormat.BLOCK_DEVICE;
import static dev.ocirender.squashfs.SquashfsFormat.CHAR_DEVICE;
import static dev.ocirender.squashfs.SquashfsFormat.DIR;
import static dev.ocirender.squashfs.SquashfsFormat.EXTENDED;
import static dev.ocirender.squashfs.SquashfsFormat.EXT_BLOCK_DEVICE;
import static dev.ocirender.squashfs.SquashfsFormat.EXT_CHAR_DEVICE;
import static dev.ocirender.squashfs.SquashfsFormat.EXT_DIR;
import static dev.ocirender.squashfs.SquashfsFormat.EXT_FIFO;
import static dev.ocirender.squashfs.SquashfsFormat.EXT_FILE;
import static dev.ocirender.squashfs.SquashfsFormat.EXT_SOCKET;
import static dev.ocirender.squashfs.SquashfsFormat.EXT_SYMLINK;
import static dev.ocirender.squashfs.SquashfsFormat.FIFO;
import static dev.ocirender.squashfs.SquashfsFormat.FILE;
import static dev.ocirender.squashfs.SquashfsFormat.FLAG_NO_FRAGMENTS;
import static dev.ocirender.squashfs.SquashfsFormat.SOCKET;
import static dev.ocirender.squashfs.SquashfsFormat.SUPERBLOCK_SIZE;
import static dev.ocirender.squashfs.SquashfsFormat.SYMLINK;

import dev.ocirender.layer.EntryHeader;
import dev.ocirender.layer.EntryPath;
import dev.ocirender.layer.EntryType;
import dev.ocirender.squashfs.SquashfsFormat;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Reads a squashfs 4.0 image into the entries of its filesystem, in pure Java, without mounting or
 * extracting anything: the superblock, metadata blocks, inode table (basic and extended inodes of
 * every type), directory table (with directory indexes), fragment, id and xattr tables (with
 * out-of-line values), sparse blocks and uncompressed blocks, for gzip, lzma, xz, lz4 and zstd
 * images. The export table is not needed and not read.
 *
 * <p>{@link #walk} delivers every path once as an {@link EntryHeader}, parents before children;
 * the second and later paths of a non-directory inode arrive as {@link EntryType#HARDLINK} to the
 * first. A file's content is a stream that decompresses one block at a time: memory is bounded by
 * the block size and the metadata, never by a file.
 *
 * <p>Defensive: every offset and count is checked against the image size and the format's limits
 * before it is used, so a damaged image fails with a {@link SquashfsFormatException} naming what
 * was being read, never a hang or an allocation larger than the image warrants. Directory loops
 * are detected. Format facts from Linux {@code Documentation/filesystems/squashfs.rst} and
 * squashfs-tools-ng {@code doc/format.adoc}. Not thread-safe.
 */
public final class SquashfsReader implements Closeable {

  /** Receives the filesystem from {@link #walk}. */
  public interface Visitor {
    /** One path; {@code content} yields exactly {@code header.size()} bytes for files, else null. */
    void entry(EntryHeader header, InputStream content) throws IOException;

    /** A socket (no {@link EntryType} for it, and no tar or image can carry one); ignored by default. */
    default void socket(EntryPath path) throws IOException {}
  }

  private static final long NO_FRAGMENT = 0xFFFFFFFFL;
  private static final long NO_XATTR = 0xFFFFFFFFL;
  private static final int MAX_NAME = 256;
  private static final int MAX_SYMLINK = 65535;
  private static final int MAX_XATTR_VALUE = 65536;
  private static final int MAX_DIR_ENTRIES_PER_HEADER = 256;
  private static final String[] XATTR_PREFIXES = {"user.", "trusted.", "security."};

  private final Path path;
  private final ImageFile file;
  private final Superblock sb;
  private final Codec codec;
  private final MetadataReader meta;
  private final long[] ids;
  private final XattrTable xattrs;
  private final Map<Long, byte[]> fragmentCache = new LinkedHashMap<>(8, 0.75f, true) {
    @Override
    protected boolean removeEldestEntry(Map.Entry<Long, byte[]> eldest) {
      return size() > 4;
    }
  };
  private final byte[] rawBlock;
  /** Where the directory table ends: the nearest table start after it, or the end of the image. */
  private final long directoryTableEnd;
  /** Extended directory inodes read that carry a directory index (for tests). */
  long directoryIndexes;

  private SquashfsReader(Path path, ImageFile file) throws IOException {
    this.path = path;
    this.file = file;
    byte[] head = new byte[(int) Math.min(SUPERBLOCK_SIZE, file.size())];
    file.readFully(0, head, 0, head.length, "superblock");
    this.sb = Superblock.parse(head, file.size());
    file.limit(sb.bytesUsed());
    this.codec = Codec.forId(sb.compressor());
    this.meta = new MetadataReader(file, codec);
    this.rawBlock = new byte[sb.blockSize()];
    long end = sb.bytesUsed();
    for (long t : new long[] {sb.fragmentTableStart(), sb.exportTableStart(), sb.idTableStart(), sb.xattrIdTableStart()}) {
      if (t != Superblock.ABSENT && Long.compareUnsigned(t, sb.directoryTableStart()) > 0 && Long.compareUnsigned(t, end) < 0) {
        end = t;
      }
    }
    this.directoryTableEnd = end;
    this.ids = readIdTable();
    this.xattrs = sb.hasXattrs() ? new XattrTable() : null;
  }

  /** Opens an image and reads its superblock and id table. */
  public static SquashfsReader open(Path image) throws IOException {
    ImageFile f = new ImageFile(image);
    try {
      return new SquashfsReader(image, f);
    } catch (IOException | RuntimeException e) {
      f.close();
      throw e;
    }
  }

  /** Whether {@code head} (at least 4 bytes) starts like a squashfs image. */
  public static boolean isSquashfs(byte[] head, int length) {
    return length >= 4 && head[0] == 'h' && head[1] == 's' && head[2] == 'q' && head[3] == 's';
  }

  public Superblock superblock() {
    return sb;
  }

  /** "gzip", "xz", ...: the compressor of the image's blocks. */
  public String compressor() {
    return codec.name;
  }

  @Override
  public void close() throws IOException {
    codec.close();
    file.close();
  }

  // ---------------------------------------------------------------------------------------------
  // Tables

  private long[] readIdTable() throws IOException {
    int count = sb.idCount();
    int blocks = (count * 4 + MetadataReader.BLOCK_SIZE - 1) / MetadataReader.BLOCK_SIZE;
    long[] pointers = readPointers(sb.idTableStart(), blocks, "id table");
    long[] out = new long[count];
    for (int i = 0; i < count; i++) {
      int block = i * 4 / MetadataReader.BLOCK_SIZE;
      if (i * 4 % MetadataReader.BLOCK_SIZE == 0) {
        cursorForTable(pointers[block], 0, "id table");
      }
      out[i] = idCursor.u32();
    }
    idCursor = null;
    return out;
  }

  private MetadataReader.Cursor idCursor;

  /**
   * For each entry of the export table, in order, the number the inode it points at carries (a
   * correct table has entry i pointing at inode i + 1); empty when the image has no export table.
   */
  public long[] exportedInodeNumbers() throws IOException {
    if (sb.exportTableStart() == Superblock.ABSENT) {
      return new long[0];
    }
    if (sb.inodeCount() > Integer.MAX_VALUE / 8) {
      throw new SquashfsFormatException("export table: " + sb.inodeCount() + " inodes");
    }
    int count = (int) sb.inodeCount();
    int blocks = (count * 8 + MetadataReader.BLOCK_SIZE - 1) / MetadataReader.BLOCK_SIZE;
    long[] pointers = readPointers(sb.exportTableStart(), blocks, "export table");
    long[] out = new long[count];
    MetadataReader.Cursor c = null;
    for (int i = 0; i < count; i++) {
      if (i * 8 % MetadataReader.BLOCK_SIZE == 0) {
        c = meta.cursor(checkedTablePointer(pointers[i * 8 / MetadataReader.BLOCK_SIZE], "export table"), 0, "export table");
      }
      out[i] = readInode(c.u64(), "export table entry " + i).number;
    }
    return out;
  }

  private void cursorForTable(long pointer, int offset, String what) throws IOException {
    idCursor = meta.cursor(checkedTablePointer(pointer, what), offset, what);
  }

  private long checkedTablePointer(long pointer, String what) throws SquashfsFormatException {
    if (pointer < SUPERBLOCK_SIZE || Long.compareUnsigned(pointer, sb.bytesUsed()) >= 0) {
      throw new SquashfsFormatException(what + ": metadata block pointer " + Long.toUnsignedString(pointer)
          + " lies outside the image");
    }
    return pointer;
  }

  /** An on-disk array of {@code count} little-endian 64-bit block pointers at {@code start}. */
  private long[] readPointers(long start, int count, String what) throws IOException {
    byte[] raw = new byte[count * 8];
    file.readFully(start, raw, 0, raw.length, what + " (block pointers)");
    long[] out = new long[count];
    for (int i = 0; i < count; i++) {
      long v = 0;
      for (int k = 7; k >= 0; k--) {
        v = v << 8 | (raw[i * 8 + k] & 0xff);
      }
      out[i] = v;
    }
    return out;
  }

  private long readPointer(long start, long index, String what) throws IOException {
    byte[] raw = new byte[8];
    file.readFully(start + index * 8, raw, 0, 8, what + " (block pointer " + index + ")");
    long v = 0;
    for (int k = 7; k >= 0; k--) {
      v = v << 8 | (raw[k] & 0xff);
    }
    return checkedTablePointer(v, what);
  }

  private long id(int index, String what) throws SquashfsFormatException {
    if (index >= ids.length) {
      throw new SquashfsFormatException(what + ": id index " + index + " beyond the id table (" + ids.length + " ids)");
    }
    return ids[index];
  }

  /** The decompressed fragment block {@code index}. */
  private byte[] fragment(long index, String what) throws IOException {
    byte[] cached = fragmentCache.get(index);
    if (cached != null) {
      return cached;
    }
    if (index >= sb.fragmentCount()) {
      throw new SquashfsFormatException(what + ": fragment index " + index + " beyond the fragment table ("
          + sb.fragmentCount() + " fragments)");
    }
    long entry = index * 16;
    long pointer = readPointer(sb.fragmentTableStart(), entry / MetadataReader.BLOCK_SIZE, "fragment table");
    MetadataReader.Cursor c = meta.cursor(pointer, (int) (entry % MetadataReader.BLOCK_SIZE), "fragment table entry " + index);
    long start = c.u64();
    long word = c.u32();
    byte[] data = readDataBlock(start, word, sb.blockSize(), -1, what + ": fragment block " + index);
    fragmentCache.put(index, data);
    return data;
  }

  /**
   * Reads one data or fragment block described by a size word (bit 24: stored uncompressed; low 24
   * bits: size on disk). With {@code expected} >= 0 the block must decompress to exactly that.
   */
  private byte[] readDataBlock(long start, long word, int max, int expected, String what) throws IOException {
    byte[] out = new byte[max];
    int n = readDataBlock(start, word, out, expected, what);
    return n == max ? out : Arrays.copyOf(out, n);
  }

  /** As above, into {@code out} (whose length is the most the block may hold); returns the length. */
  private int readDataBlock(long start, long word, byte[] out, int expected, String what) throws IOException {
    if ((word & ~0x1FFFFFFL) != 0) {
      throw new SquashfsFormatException(what + ": invalid block size word 0x" + Long.toHexString(word));
    }
    int onDisk = (int) (word & 0xFFFFFF);
    if (onDisk == 0 || onDisk > sb.blockSize()) {
      throw new SquashfsFormatException(what + ": block of " + onDisk + " bytes on disk (must be 1.." + sb.blockSize() + ")");
    }
    int n;
    if ((word & 0x1000000L) != 0) {
      if (onDisk > out.length) {
        throw new SquashfsFormatException(what + ": uncompressed block of " + onDisk + " bytes, at most " + out.length);
      }
      file.readFully(start, out, 0, onDisk, what);
      n = onDisk;
    } else {
      file.readFully(start, rawBlock, 0, onDisk, what);
      try {
        n = codec.decompress(rawBlock, onDisk, out);
      } catch (IOException e) {
        throw new SquashfsFormatException(what + " at offset " + start + ": " + e.getMessage(), e);
      }
    }
    if (expected >= 0 && n != expected) {
      throw new SquashfsFormatException(what + " at offset " + start + ": holds " + n + " bytes, expected " + expected);
    }
    return n;
  }

  /** The xattr id table (16-byte entries: key-value reference, count, size) and the key-value area. */
  private final class XattrTable {
    private final long kvStart;
    private final long count;
    private final Map<Long, Map<String, byte[]>> cache = new LinkedHashMap<>(64, 0.75f, true) {
      @Override
      protected boolean removeEldestEntry(Map.Entry<Long, Map<String, byte[]>> eldest) {
        return size() > 1024;
      }
    };

    XattrTable() throws IOException {
      byte[] raw = new byte[16];
      file.readFully(sb.xattrIdTableStart(), raw, 0, 16, "xattr id table header");
      long kv = 0;
      for (int k = 7; k >= 0; k--) {
        kv = kv << 8 | (raw[k] & 0xff);
      }
      long n = (raw[8] & 0xffL) | (raw[9] & 0xffL) << 8 | (raw[10] & 0xffL) << 16 | (raw[11] & 0xffL) << 24;
      if (kv < SUPERBLOCK_SIZE || Long.compareUnsigned(kv, sb.xattrIdTableStart()) > 0) {
        throw new SquashfsFormatException("xattr id table: key-value area start " + Long.toUnsignedString(kv)
            + " lies outside the image");
      }
      this.kvStart = kv;
      this.count = n;
    }

    Map<String, byte[]> get(long index, String what) throws IOException {
      Map<String, byte[]> cached = cache.get(index);
      if (cached != null) {
        return cached;
      }
      if (index >= count) {
        throw new SquashfsFormatException(what + ": xattr index " + index + " beyond the xattr id table (" + count + " entries)");
      }
      long entry = index * 16;
      long pointer = readPointer(sb.xattrIdTableStart() + 16, entry / MetadataReader.BLOCK_SIZE, "xattr id table");
      MetadataReader.Cursor c = meta.cursor(pointer, (int) (entry % MetadataReader.BLOCK_SIZE), "xattr id table entry " + index);
      long ref = c.u64();
      long pairs = c.u32();
      long totalSize = c.u32();
      if (pairs > totalSize) {
        throw new SquashfsFormatException(what + ": xattr entry " + index + " claims " + pairs + " pairs in " + totalSize + " bytes");
      }
      MetadataReader.Cursor kv = kvCursor(ref, what + ": xattrs");
      Map<String, byte[]> out = new TreeMap<>();
      for (long i = 0; i < pairs; i++) {
        int type = kv.u16();
        int nameSize = kv.u16();
        int prefix = type & 0xff;
        if (prefix >= XATTR_PREFIXES.length || (type & ~0x1ff) != 0) {
          throw new SquashfsFormatException(what + ": unknown xattr key type 0x" + Integer.toHexString(type));
        }
        if (nameSize > MAX_NAME) {
          throw new SquashfsFormatException(what + ": xattr name of " + nameSize + " bytes (at most " + MAX_NAME + ")");
        }
        String name = XATTR_PREFIXES[prefix] + new String(kv.bytes(nameSize), StandardCharsets.UTF_8);
        long valueSize = kv.u32();
        byte[] value;
        if ((type & 0x100) != 0) {
          if (valueSize != 8) {
            throw new SquashfsFormatException(what + ": out-of-line xattr " + name + " has a reference of " + valueSize + " bytes");
          }
          MetadataReader.Cursor ool = kvCursor(kv.u64(), what + ": out-of-line xattr value " + name);
          value = ool.bytes(boundedValue(ool.u32(), name, what));
        } else {
          value = kv.bytes(boundedValue(valueSize, name, what));
        }
        out.put(name, value);
      }
      cache.put(index, out);
      return out;
    }

    private int boundedValue(long size, String name, String what) throws SquashfsFormatException {
      if (size > MAX_XATTR_VALUE) {
        throw new SquashfsFormatException(what + ": xattr " + name + " value of " + size + " bytes (at most " + MAX_XATTR_VALUE + ")");
      }
      return (int) size;
    }

    private MetadataReader.Cursor kvCursor(long ref, String what) throws IOException {
      long block = ref >>> 16;
      long pos = kvStart + block;
      if (Long.compareUnsigned(pos, sb.xattrIdTableStart()) >= 0 || pos < kvStart) {
        throw new SquashfsFormatException(what + ": reference 0x" + Long.toHexString(ref) + " lies outside the xattr area");
      }
      return meta.cursor(pos, (int) (ref & 0xffff), what, sb.xattrIdTableStart());
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Inodes

  /** A parsed inode (only the fields its type has are set). */
  static final class Inode {
    long ref;
    int type;
    int mode;
    long uid;
    long gid;
    long mtime;
    long number;
    long nlink = 1;
    long xattr = NO_XATTR;
    // directories
    long dirBlock;
    int dirOffset;
    long dirSize;
    // files
    long blocksStart;
    long fileSize;
    long fragment = NO_FRAGMENT;
    long fragmentOffset;
    long blockListPos;
    int blockListOffset;
    // symlinks, devices
    byte[] symlink;
    long rdev;

    int basicType() {
      return SquashfsFormat.basicType(type);
    }
  }

  Inode readInode(long ref, String what) throws IOException {
    long block = ref >>> 16;
    int offset = (int) (ref & 0xffff);
    long pos = sb.inodeTableStart() + block;
    if (block > sb.bytesUsed() || Long.compareUnsigned(pos, sb.directoryTableStart()) >= 0) {
      throw new SquashfsFormatException(what + ": inode reference 0x" + Long.toHexString(ref) + " lies outside the inode table");
    }
    MetadataReader.Cursor c = meta.cursor(pos, offset, what + ": inode", sb.directoryTableStart());
    Inode n = new Inode();
    n.ref = ref;
    n.type = c.u16();
    n.mode = c.u16();
    n.uid = id(c.u16(), what);
    n.gid = id(c.u16(), what);
    n.mtime = c.u32();
    n.number = c.u32();
    switch (n.type) {
      case DIR -> {
        n.dirBlock = c.u32();
        n.nlink = c.u32();
        n.dirSize = c.u16();
        n.dirOffset = c.u16();
        c.u32(); // parent inode number
      }
      case EXT_DIR -> {
        n.nlink = c.u32();
        n.dirSize = c.u32();
        n.dirBlock = c.u32();
        c.u32(); // parent inode number
        int indexCount = c.u16();
        n.dirOffset = c.u16();
        n.xattr = c.u32();
        long previous = -1;
        if (indexCount > 0) {
          directoryIndexes++;
        }
        for (int i = 0; i < indexCount; i++) {
          long index = c.u32(); // byte offset into the listing of this index's header
          c.u32(); // start of its metadata block, relative to the directory table
          long nameSize = c.u32() + 1;
          if (nameSize > MAX_NAME || index <= previous && i > 0 || index > n.dirSize) {
            throw new SquashfsFormatException(what + ": directory index " + i + " is damaged (offset " + index
                + ", name of " + nameSize + " bytes, listing of " + n.dirSize + ")");
          }
          previous = index;
          c.skip(nameSize);
        }
      }
      case FILE -> {
        n.blocksStart = c.u32();
        n.fragment = c.u32();
        n.fragmentOffset = c.u32();
        n.fileSize = c.u32();
        n.blockListPos = c.blockPos();
        n.blockListOffset = c.offset();
      }
      case EXT_FILE -> {
        n.blocksStart = c.u64();
        n.fileSize = c.u64();
        c.u64(); // bytes saved by sparse blocks
        n.nlink = c.u32();
        n.fragment = c.u32();
        n.fragmentOffset = c.u32();
        n.xattr = c.u32();
        n.blockListPos = c.blockPos();
        n.blockListOffset = c.offset();
        if (n.fileSize < 0) {
          throw new SquashfsFormatException(what + ": file size " + Long.toUnsignedString(n.fileSize) + " is absurd");
        }
      }
      case SYMLINK, EXT_SYMLINK -> {
        n.nlink = c.u32();
        long size = c.u32();
        if (size > MAX_SYMLINK) {
          throw new SquashfsFormatException(what + ": symlink target of " + size + " bytes (at most " + MAX_SYMLINK + ")");
        }
        n.symlink = c.bytes((int) size);
        if (n.type == EXT_SYMLINK) {
          n.xattr = c.u32();
        }
      }
      case BLOCK_DEVICE, CHAR_DEVICE, EXT_BLOCK_DEVICE, EXT_CHAR_DEVICE -> {
        n.nlink = c.u32();
        n.rdev = c.u32();
        if (n.type > EXTENDED) {
          n.xattr = c.u32();
        }
      }
      case FIFO, SOCKET, EXT_FIFO, EXT_SOCKET -> {
        n.nlink = c.u32();
        if (n.type > EXTENDED) {
          n.xattr = c.u32();
        }
      }
      default -> throw new SquashfsFormatException(what + ": unknown inode type " + n.type);
    }
    if (n.basicType() == FILE) {
      if (n.fragment != NO_FRAGMENT && (sb.flags() & FLAG_NO_FRAGMENTS) != 0 && sb.fragmentCount() == 0) {
        throw new SquashfsFormatException(what + ": file uses fragment " + n.fragment + " but the image has none");
      }
      if (n.fragment != NO_FRAGMENT && n.fragmentOffset >= sb.blockSize()) {
        throw new SquashfsFormatException(what + ": fragment offset " + n.fragmentOffset + " beyond the block size");
      }
    }
    return n;
  }

  private EntryHeader header(Inode n, EntryPath p, String what) throws IOException {
    EntryType type = switch (n.basicType()) {
      case DIR -> EntryType.DIRECTORY;
      case FILE -> EntryType.FILE;
      case SYMLINK -> EntryType.SYMLINK;
      case BLOCK_DEVICE -> EntryType.BLOCK_DEVICE;
      case CHAR_DEVICE -> EntryType.CHAR_DEVICE;
      case FIFO -> EntryType.FIFO;
      default -> null;
    };
    EntryHeader.Builder b = EntryHeader.builder(type, p)
        .mode(n.mode & EntryHeader.MODE_MASK).uid(n.uid).gid(n.gid).mtime(n.mtime, 0);
    if (type == EntryType.FILE) {
      b.size(n.fileSize);
    } else if (type == EntryType.SYMLINK) {
      b.symlinkTarget(n.symlink);
    } else if (type == EntryType.BLOCK_DEVICE || type == EntryType.CHAR_DEVICE) {
      // Linux's new_encode_dev: minor low byte, major, then the minor's upper bits.
      b.device((int) ((n.rdev >>> 8) & 0xfff), (int) ((n.rdev & 0xff) | ((n.rdev >>> 12) & 0xfff00)));
    }
    if (n.xattr != NO_XATTR) {
      if (xattrs == null) {
        throw new SquashfsFormatException(what + ": inode names xattr " + n.xattr + " but the image has no xattr table");
      }
      for (Map.Entry<String, byte[]> e : xattrs.get(n.xattr, what).entrySet()) {
        b.xattr(e.getKey(), e.getValue());
      }
    }
    return b.build();
  }

  // ---------------------------------------------------------------------------------------------
  // Directories and the walk

  private record DirEntry(byte[] name, long inodeRef, int type) {}

  private List<DirEntry> list(Inode dir, String what) throws IOException {
    if (dir.dirSize < 3) {
      throw new SquashfsFormatException(what + ": directory size " + dir.dirSize + " is below the minimum of 3");
    }
    long size = dir.dirSize - 3;
    List<DirEntry> out = new ArrayList<>();
    if (size == 0) {
      return out;
    }
    long pos = sb.directoryTableStart() + dir.dirBlock;
    if (dir.dirBlock >= sb.bytesUsed() || pos >= sb.bytesUsed()) {
      throw new SquashfsFormatException(what + ": directory listing start " + dir.dirBlock + " lies outside the directory table");
    }
    // A metadata block of at least 3 bytes on disk holds at most 8 KiB of listing.
    long most = ((sb.bytesUsed() - pos) / 3 + 1) * MetadataReader.BLOCK_SIZE;
    if (size > most) {
      throw new SquashfsFormatException(what + ": directory listing of " + size + " bytes cannot fit in the image");
    }
    MetadataReader.Cursor c = meta.cursor(pos, dir.dirOffset, what + ": directory listing", directoryTableEnd);
    long read = 0;
    Set<String> seen = new HashSet<>();
    while (read < size) {
      if (size - read < 12) {
        throw new SquashfsFormatException(what + ": directory listing ends inside a header");
      }
      long count = c.u32() + 1;
      long start = c.u32();
      long base = c.u32();
      read += 12;
      if (count > MAX_DIR_ENTRIES_PER_HEADER) {
        throw new SquashfsFormatException(what + ": directory header claims " + count + " entries (at most 256)");
      }
      for (long i = 0; i < count; i++) {
        if (size - read < 8) {
          throw new SquashfsFormatException(what + ": directory listing ends inside an entry");
        }
        int offset = c.u16();
        c.u16(); // inode number delta
        int type = c.u16();
        int nameLen = c.u16() + 1;
        read += 8;
        if (nameLen > MAX_NAME || size - read < nameLen) {
          throw new SquashfsFormatException(what + ": directory entry name of " + nameLen + " bytes overruns the listing");
        }
        byte[] name = c.bytes(nameLen);
        read += nameLen;
        if (!validName(name)) {
          throw new SquashfsFormatException(what + ": invalid directory entry name \"" + EntryPath.display(name) + "\"");
        }
        if (type < 1 || type > 7) {
          throw new SquashfsFormatException(what + ": directory entry " + EntryPath.display(name) + " has invalid type " + type);
        }
        if (!seen.add(new String(name, StandardCharsets.ISO_8859_1))) {
          throw new SquashfsFormatException(what + ": directory lists " + EntryPath.display(name) + " twice");
        }
        out.add(new DirEntry(name, start << 16 | offset, type));
      }
    }
    return out;
  }

  private static boolean validName(byte[] name) {
    if (name.length == 0 || (name.length == 1 && name[0] == '.') || (name.length == 2 && name[0] == '.' && name[1] == '.')) {
      return false;
    }
    for (byte b : name) {
      if (b == '/' || b == 0) {
        return false;
      }
    }
    return true;
  }

  /**
   * Delivers every path of the image to {@code visitor}: the root first, every directory before
   * its children, each directory's children in listing order.
   */
  public void walk(Visitor visitor) throws IOException {
    Inode root = readInode(sb.rootInode(), "root directory");
    if (root.basicType() != DIR) {
      throw new SquashfsFormatException("root directory: the root inode is of type " + root.type + ", not a directory");
    }
    visitor.entry(header(root, EntryPath.ROOT, "root directory"), null);
    Set<Long> visitedDirs = new HashSet<>();
    visitedDirs.add(root.ref);
    Map<Long, EntryPath> linked = new HashMap<>();
    Deque<Object[]> pending = new ArrayDeque<>();
    pending.push(new Object[] {EntryPath.ROOT, root});
    while (!pending.isEmpty()) {
      Object[] next = pending.pop();
      EntryPath dirPath = (EntryPath) next[0];
      Inode dir = (Inode) next[1];
      String dirWhat = dirPath.isRoot() ? "root directory" : "directory " + dirPath;
      List<DirEntry> entries = list(dir, dirWhat);
      List<Object[]> subdirs = new ArrayList<>();
      for (DirEntry e : entries) {
        EntryPath p = dirPath.child(e.name());
        String what = "path " + p;
        Inode n = readInode(e.inodeRef(), what);
        if (n.basicType() != e.type()) {
          throw new SquashfsFormatException(what + ": directory entry says type " + e.type() + ", its inode is of type " + n.type);
        }
        if (n.basicType() == DIR) {
          if (!visitedDirs.add(n.ref) || visitedDirs.size() > sb.inodeCount()) {
            throw new SquashfsFormatException(what + ": directory loop or a directory listed twice (inode 0x"
                + Long.toHexString(n.ref) + ")");
          }
          visitor.entry(header(n, p, what), null);
          subdirs.add(new Object[] {p, n});
          continue;
        }
        if (n.basicType() == 7) {
          visitor.socket(p);
          continue;
        }
        if (n.nlink > 1) {
          EntryPath first = linked.putIfAbsent(n.ref, p);
          if (first != null) {
            visitor.entry(EntryHeader.builder(EntryType.HARDLINK, p).linkTarget(first).build(), null);
            continue;
          }
        }
        EntryHeader h = header(n, p, what);
        if (h.type() == EntryType.FILE) {
          try (InputStream content = new FileContent(n, what)) {
            visitor.entry(h, content);
          }
        } else {
          visitor.entry(h, null);
        }
      }
      for (int i = subdirs.size() - 1; i >= 0; i--) {
        pending.push(subdirs.get(i));
      }
    }
  }

  /** Opens the content of the file at {@code ref}, for callers that hold an inode reference. */
  InputStream content(Inode n, String what) throws IOException {
    return new FileContent(n, what);
  }

  /** A file's content: its blocks (sparse ones as zeros) and then its fragment tail, one block in memory. */
  private final class FileContent extends InputStream {
    private final Inode n;
    private final String what;
    private final long blockCount;
    private final long tail;
    private final MetadataReader.Cursor blockList;
    private long blockIndex;
    private long dataPos;
    private boolean fragmentDone;
    private final byte[] blockBuf = new byte[sb.blockSize()];
    private byte[] buf = blockBuf;
    private int pos;
    private int limit;

    FileContent(Inode n, String what) throws IOException {
      this.n = n;
      this.what = what;
      int bs = sb.blockSize();
      boolean hasFragment = n.fragment != NO_FRAGMENT;
      this.blockCount = hasFragment ? n.fileSize / bs : (n.fileSize + bs - 1) / bs;
      this.tail = hasFragment ? n.fileSize - blockCount * bs : 0;
      this.fragmentDone = !hasFragment;
      this.dataPos = n.blocksStart;
      this.blockList = blockCount == 0 ? null
          : meta.cursor(n.blockListPos, n.blockListOffset, what + ": block list", sb.directoryTableStart());
    }

    private boolean fill() throws IOException {
      int bs = sb.blockSize();
      if (blockIndex < blockCount) {
        long word = blockList.u32();
        int expected = (int) Math.min(bs, n.fileSize - blockIndex * bs);
        buf = blockBuf;
        if (word == 0) {
          Arrays.fill(blockBuf, 0, expected, (byte) 0); // a sparse block
        } else {
          readDataBlock(dataPos, word, blockBuf, expected, what + ": data block " + blockIndex);
          dataPos += word & 0xFFFFFF;
        }
        pos = 0;
        limit = expected;
        blockIndex++;
        return true;
      }
      if (!fragmentDone) {
        fragmentDone = true;
        byte[] frag = fragment(n.fragment, what);
        if (n.fragmentOffset + tail > frag.length) {
          throw new SquashfsFormatException(what + ": tail of " + tail + " bytes at offset " + n.fragmentOffset
              + " overruns fragment block " + n.fragment + " (" + frag.length + " bytes)");
        }
        buf = frag;
        pos = (int) n.fragmentOffset;
        limit = (int) (n.fragmentOffset + tail);
        return limit > pos;
      }
      return false;
    }

    @Override
    public int read() throws IOException {
      while (pos >= limit) {
        if (!fill()) {
          return -1;
        }
      }
      return buf[pos++] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      if (len == 0) {
        return 0;
      }
      while (pos >= limit) {
        if (!fill()) {
          return -1;
        }
      }
      int k = Math.min(len, limit - pos);
      System.arraycopy(buf, pos, b, off, k);
      pos += k;
      return k;
    }
  }

  @Override
  public String toString() {
    return path.toString();
  }
}
