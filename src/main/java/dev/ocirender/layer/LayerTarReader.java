package dev.ocirender.layer;

import dev.ocirender.io.Streams;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * Reads the entries of a layer's (decoded) tar stream, one at a time, with names and extended
 * attributes kept as bytes.
 *
 * <p>Ours rather than Commons Compress because a layer's metadata must survive byte-exact: Commons
 * Compress turns PAX values into UTF-8 strings, which corrupts binary xattrs such as
 * {@code security.capability} and non-UTF-8 names. Understood: v7, POSIX ustar (name prefix), old
 * GNU (long names {@code 'L'}/{@code 'K'}, base-256 numbers, old sparse {@code 'S'}), PAX local and
 * global headers (path, linkpath, size, uid, gid, uname, gname, mtime with nanoseconds, devices,
 * {@code SCHILY.xattr.*}, {@code LIBARCHIVE.xattr.*}) and GNU sparse PAX 0.0, 0.1 and 1.0. Sparse
 * files are delivered expanded. Access and change times, GNU incremental dump directories'
 * contents, volume labels and multi-volume continuations are deliberately ignored: an image's
 * filesystem has no use for them. {@code hdrcharset} needs no handling because names stay bytes.
 *
 * <p>Pull model: {@link #next()} until null; {@link #content()} is the current entry's bounded
 * stream, valid until the next call to {@link #next()}. The reader has its own 64 KiB buffer and the
 * content stream copies straight out of it (or reads directly into the caller's array for large
 * reads), so reading a layer costs little more than decompressing it.
 *
 * <p>Where readers disagree, this one reads as GNU tar does (and Go's {@code archive/tar}, which
 * agrees with it on all of these): the size field of a header-only type (directory, symlink, hard
 * link, device, FIFO) is ignored, since no data follows such a header; of several PAX extended
 * headers in a row only the last applies; a GNU long name or link ends at its first NUL; PAX
 * numbers may have any number of leading zeros. A NUL that survives in a name (PAX {@code path},
 * {@code linkpath}) or in a PAX keyword is refused: no filesystem can hold it, and refusing it here
 * makes every output format refuse it alike, before anything is written. {@link LayerLimits}
 * bounds names, depth, extended headers and xattrs as entries stream.
 *
 * <p>End of archive is a zero block (normally two); an archive that simply stops at a header
 * boundary is accepted too. Whatever follows the end marker (record padding, junk) is read and
 * discarded, so that a digest computed over the whole stream by the caller sees every byte.
 *
 * <p>Not thread-safe. Every damage is a {@link LayerFormatException} naming the entry; after any
 * exception the reader is unusable.
 */
public final class LayerTarReader implements Closeable {

  private static final int BUFFER_SIZE = 64 * 1024;
  /** A caller's read at least this large bypasses our buffer: one copy fewer. */
  private static final int DIRECT_READ_MIN = 16 * 1024;
  private static final int BLOCK = TarBlock.SIZE;

  private final InputStream in;
  private final LayerLimits limits;
  private final byte[] buf = new byte[BUFFER_SIZE];
  private int pos;
  private int limit;
  private long inputBytes;
  private boolean inputEnded;

  private final byte[] header = new byte[BLOCK];
  private final PaxHeaders globals = new PaxHeaders();
  private final PaxHeaders local = new PaxHeaders();
  private byte[] longName;
  private byte[] longLink;

  private long ordinal = -1;
  private EntryHeader current;
  private byte[] rawName;
  private EntryData data;
  private InputStream content;
  private long padding;
  private boolean ended;
  private boolean broken;
  private boolean closed;

  public LayerTarReader(InputStream tar) {
    this(tar, LayerLimits.DEFAULT);
  }

  public LayerTarReader(InputStream tar, LayerLimits limits) {
    this.in = Objects.requireNonNull(tar, "tar");
    this.limits = Objects.requireNonNull(limits, "limits");
  }

  /**
   * Advances to the next entry, skipping whatever of the previous entry's content was not read.
   *
   * @return the entry's metadata, or null at the end of the archive
   * @throws PathEscapeException if the entry's name or hard-link target climbs above the root
   * @throws LayerFormatException if the archive is damaged (the message names the entry)
   */
  public EntryHeader next() throws IOException {
    if (closed) {
      throw new IOException("tar reader is closed");
    }
    if (broken) {
      throw new IOException("tar reader failed earlier and cannot continue");
    }
    if (ended) {
      return null;
    }
    try {
      skipRestOfEntry();
      current = null;
      rawName = null;
      data = null;
      content = null;
      EntryHeader h = readEntry();
      if (h == null) {
        ended = true;
        drain();
        return null;
      }
      ordinal++;
      current = h;
      return h;
    } catch (IOException | RuntimeException e) {
      broken = true;
      throw e;
    }
  }

  /**
   * The current entry's name exactly as the archive gives it (after long-name and PAX processing,
   * before normalisation). Callers must not modify the array.
   */
  public byte[] rawName() {
    requireCurrent();
    return rawName;
  }

  /**
   * The current entry's content: exactly {@code header.size()} bytes, sparse files expanded; empty
   * for every type but {@link EntryType#FILE}. Valid until {@link #next()}; closing it is harmless.
   */
  public InputStream content() {
    requireCurrent();
    if (content == null) {
      content = InputStream.nullInputStream();
    }
    return content;
  }

  /** The 0-based index of the current entry among those returned by {@link #next()}; -1 before. */
  public long ordinal() {
    return ordinal;
  }

  /**
   * Reads the rest of the underlying stream (so that a digest over it completes) unless the reader
   * failed, then closes it. A caller that stops early therefore still pays for reading the rest.
   */
  @Override
  public void close() throws IOException {
    if (closed) {
      return;
    }
    closed = true;
    try {
      if (!broken && !ended) {
        drain();
      }
    } finally {
      in.close();
    }
  }

  private void requireCurrent() {
    if (current == null) {
      throw new IllegalStateException("no current entry: call next() first");
    }
  }

  // ---- archive structure ----------------------------------------------------------------------

  private EntryHeader readEntry() throws IOException {
    local.clear();
    longName = null;
    longLink = null;
    boolean pendingExtension = false;
    while (true) {
      long headerOffset = offset();
      int avail = fill(BLOCK);
      if (avail == 0 || (avail >= BLOCK && TarBlock.isZero(buf, pos))) {
        if (pendingExtension) {
          throw new LayerFormatException("entry #" + (ordinal + 1) + ": archive ends after its extended header, at byte "
              + headerOffset);
        }
        pos += Math.min(avail, BLOCK);
        return null;
      }
      if (avail < BLOCK) {
        throw new LayerFormatException("entry #" + (ordinal + 1) + " (header at byte " + headerOffset
            + "): truncated tar header, " + avail + " of " + BLOCK + " bytes");
      }
      System.arraycopy(buf, pos, header, 0, BLOCK);
      pos += BLOCK;
      if (!TarBlock.checksumMatches(header)) {
        throw new LayerFormatException("entry " + headerName() + " (header at byte " + headerOffset
            + "): bad header checksum");
      }
      long size;
      try {
        size = numeric(TarBlock.SIZE_FIELD, 12, "size");
      } catch (IllegalArgumentException e) {
        throw new LayerFormatException("entry " + headerName() + ": " + e.getMessage(), e);
      }
      if (size < 0) {
        throw new LayerFormatException("entry " + headerName() + ": negative size " + size);
      }
      byte typeflag = header[TarBlock.TYPEFLAG];
      switch (typeflag) {
        case 'x', 'X' -> {
          // Of several extended headers in a row only the last one applies, as in GNU tar,
          // bsdtar and Go (merging them would splice two names together).
          local.clear();
          parsePax(local, readMetadata(size));
          pendingExtension = true;
        }
        case 'g' -> parsePax(globals, readMetadata(size));
        case 'L' -> {
          longName = upToNul(readMetadata(size));
          pendingExtension = true;
        }
        case 'K' -> {
          longLink = upToNul(readMetadata(size));
          pendingExtension = true;
        }
        case 'V' -> skipData(size); // a volume label names the archive, not a file
        default -> {
          return buildEntry(typeflag, size);
        }
      }
    }
  }

  private EntryHeader buildEntry(byte typeflag, long storedSize) throws IOException {
    TarBlock.Format format = TarBlock.format(header);
    rawName = chooseName(format);
    try {
      return buildEntry(typeflag, storedSize, format);
    } catch (IllegalArgumentException e) {
      throw new LayerFormatException(label() + ": " + e.getMessage(), e);
    }
  }

  private EntryHeader buildEntry(byte typeflag, long headerSize, TarBlock.Format format) throws IOException {
    EntryType type = entryType(typeflag, rawName);
    if (indexOfNul(rawName) >= 0) {
      throw new IllegalArgumentException("name contains a NUL byte, which no filesystem can hold");
    }
    EntryPath path = EntryPath.normalize(rawName);
    checkPath(path, "path");
    EntryHeader.Builder b = EntryHeader.builder(type, path);
    b.mode((int) numeric(TarBlock.MODE, 8, "mode") & EntryHeader.MODE_MASK);
    b.uid(paxOrField("uid", TarBlock.UID, 8));
    b.gid(paxOrField("gid", TarBlock.GID, 8));
    b.userName(owner("uname", TarBlock.UNAME, format));
    b.groupName(owner("gname", TarBlock.GNAME, format));
    byte[] mtime = pax("mtime");
    if (mtime != null) {
      long[] t = PaxHeaders.time("mtime", mtime);
      b.mtime(t[0], (int) t[1]);
    } else {
      b.mtime(numeric(TarBlock.MTIME, 12, "mtime"), 0);
    }
    if (type == EntryType.CHAR_DEVICE || type == EntryType.BLOCK_DEVICE) {
      b.device(deviceNumber("SCHILY.devmajor", TarBlock.DEVMAJOR, format),
          deviceNumber("SCHILY.devminor", TarBlock.DEVMINOR, format));
    }
    if (type == EntryType.HARDLINK || type == EntryType.SYMLINK) {
      byte[] link = linkName();
      if (indexOfNul(link) >= 0) {
        throw new IllegalArgumentException("link target contains a NUL byte, which no filesystem can hold");
      }
      if (type == EntryType.HARDLINK) {
        EntryPath target = EntryPath.normalize(link);
        checkPath(target, "hard-link target");
        b.linkTarget(target);
      } else {
        if (link.length > limits.maxSymlinkTargetBytes()) {
          throw new IllegalArgumentException("symlink target of " + link.length + " bytes exceeds the limit of "
              + limits.maxSymlinkTargetBytes() + " bytes");
        }
        b.symlinkTarget(link);
      }
    }
    if (!globals.xattrs().isEmpty() || !local.xattrs().isEmpty()) {
      Map<String, byte[]> xattrs = new TreeMap<>(globals.xattrs());
      xattrs.putAll(local.xattrs());
      checkXattrs(xattrs);
      for (Map.Entry<String, byte[]> x : xattrs.entrySet()) {
        b.xattr(x.getKey(), x.getValue());
      }
    }

    byte[] paxSize = pax("size");
    long storedSize = paxSize != null ? PaxHeaders.decimal("size", paxSize) : headerSize;
    if (storedSize < 0) {
      throw new IllegalArgumentException("negative size " + storedSize);
    }
    // Old GNU sparse maps continue in extension blocks between the header and the data.
    SparseMap sparse = typeflag == 'S' ? readOldGnuSparseMap() : null;
    long realSize = typeflag == 'S' ? numeric(TarBlock.GNU_REALSIZE, 12, "realsize") : storedSize;

    if (isHeaderOnly(typeflag)) {
      // POSIX: these types carry no data, whatever their size field says; GNU tar, bsdtar, Go and
      // Python all ignore it. Honouring it would swallow the headers that follow.
      storedSize = 0;
      sparse = null;
    }
    data = new EntryData(storedSize);
    padding = (BLOCK - storedSize % BLOCK) % BLOCK;

    if (sparse == null && !isHeaderOnly(typeflag) && isPaxSparse()) {
      sparse = new SparseMap();
      realSize = paxSparseMap(sparse);
    }
    if (sparse != null) {
      long mapBytes = 0;
      if (isPaxSparse1()) {
        mapBytes = readSparse1Map(sparse);
      }
      sparse.validate(realSize, storedSize - mapBytes);
    }
    if (type == EntryType.FILE) {
      b.size(sparse != null ? realSize : storedSize);
      content = sparse != null ? new SparseInputStream(data, sparse, realSize) : data;
    }
    return b.build();
  }

  private byte[] chooseName(TarBlock.Format format) {
    // Precedence: the real name of a GNU sparse 0.1/1.0 file (its header name is a made-up
    // GNUSparseFile.PID path), then PAX path, then a GNU long name, then the header fields.
    byte[] sparseName = local.get("GNU.sparse.name");
    if (sparseName != null && sparseName.length > 0) {
      return sparseName;
    }
    byte[] path = pax("path");
    if (path != null) {
      return path;
    }
    if (longName != null) {
      return longName;
    }
    byte[] name = TarBlock.string(header, TarBlock.NAME, TarBlock.NAME_LEN);
    if (format == TarBlock.Format.USTAR) {
      int prefixLength = TarBlock.stringLength(header, TarBlock.PREFIX, TarBlock.PREFIX_LEN);
      if (prefixLength > 0) {
        byte[] joined = new byte[prefixLength + 1 + name.length];
        System.arraycopy(header, TarBlock.PREFIX, joined, 0, prefixLength);
        joined[prefixLength] = '/';
        System.arraycopy(name, 0, joined, prefixLength + 1, name.length);
        return joined;
      }
    }
    return name;
  }

  private byte[] linkName() {
    byte[] path = pax("linkpath");
    if (path != null) {
      return path;
    }
    if (longLink != null) {
      return longLink;
    }
    return TarBlock.string(header, TarBlock.LINKNAME, TarBlock.NAME_LEN);
  }

  /** The current entry for messages; made only when a message needs it. */
  private String label() {
    return "entry " + EntryPath.quote(rawName);
  }

  /** Types whose header is the whole entry: no data follows, whatever the size field says. */
  private static boolean isHeaderOnly(byte typeflag) {
    return typeflag >= '1' && typeflag <= '6';
  }

  /**
   * Checks a normalised path against the limits in one pass over its bytes (linear in its length,
   * whatever its depth).
   */
  private void checkPath(EntryPath path, String what) {
    byte[] p = path.bytes();
    if (p.length > limits.maxPathBytes()) {
      throw new IllegalArgumentException(what + " of " + p.length + " bytes exceeds the limit of "
          + limits.maxPathBytes() + " bytes");
    }
    int depth = p.length == 0 ? 0 : 1;
    int start = 0;
    for (int i = 0; i <= p.length; i++) {
      if (i == p.length || p[i] == '/') {
        if (i - start > limits.maxNameBytes()) {
          throw new IllegalArgumentException(what + " has a component of " + (i - start)
              + " bytes, beyond the limit of " + limits.maxNameBytes() + " bytes per name: "
              + EntryPath.quote(Arrays.copyOfRange(p, start, i)));
        }
        if (i < p.length) {
          depth++;
        }
        start = i + 1;
      }
    }
    if (depth > limits.maxPathDepth()) {
      throw new IllegalArgumentException(what + " is " + depth + " levels deep, beyond the limit of "
          + limits.maxPathDepth());
    }
  }

  private void checkXattrs(Map<String, byte[]> xattrs) {
    if (xattrs.size() > limits.maxXattrs()) {
      throw new IllegalArgumentException(xattrs.size() + " extended attributes exceed the limit of "
          + limits.maxXattrs() + " per entry");
    }
    long total = 0;
    for (Map.Entry<String, byte[]> x : xattrs.entrySet()) {
      if (x.getValue().length > limits.maxXattrValueBytes()) {
        throw new IllegalArgumentException("extended attribute " + EntryPath.quote(x.getKey().getBytes(StandardCharsets.UTF_8))
            + " has a value of " + x.getValue().length + " bytes, beyond the limit of " + limits.maxXattrValueBytes());
      }
      total += x.getKey().length() + x.getValue().length;
    }
    if (total > limits.maxXattrTotalBytes()) {
      throw new IllegalArgumentException("extended attributes of " + total + " bytes in all exceed the limit of "
          + limits.maxXattrTotalBytes() + " bytes per entry");
    }
  }

  private static int indexOfNul(byte[] b) {
    for (int i = 0; i < b.length; i++) {
      if (b[i] == 0) {
        return i;
      }
    }
    return -1;
  }

  private static EntryType entryType(byte typeflag, byte[] name) {
    return switch (typeflag) {
      // v7 had no directory type: a directory was a "file" whose name ends in '/'.
      case '0', 0 -> name.length > 0 && name[name.length - 1] == '/' ? EntryType.DIRECTORY : EntryType.FILE;
      case '1' -> EntryType.HARDLINK;
      case '2' -> EntryType.SYMLINK;
      case '3' -> EntryType.CHAR_DEVICE;
      case '4' -> EntryType.BLOCK_DEVICE;
      case '5', 'D' -> EntryType.DIRECTORY; // 'D': GNU incremental dump directory
      case '6' -> EntryType.FIFO;
      // '7' (contiguous), 'S' (old GNU sparse) and every unknown type: POSIX says read as a file.
      default -> EntryType.FILE;
    };
  }

  /** A PAX value for this entry: its own header wins over global ones; empty means unset. */
  private byte[] pax(String key) {
    byte[] v = local.has(key) ? local.get(key) : globals.get(key);
    return v == null || v.length == 0 ? null : v;
  }

  private long paxOrField(String key, int off, int len) {
    byte[] v = pax(key);
    long value = v != null ? PaxHeaders.decimal(key, v) : numeric(off, len, key);
    if (value < 0) {
      throw new IllegalArgumentException("negative " + key + " " + value);
    }
    return value;
  }

  private String owner(String key, int off, TarBlock.Format format) {
    byte[] v = pax(key);
    if (v == null && format != TarBlock.Format.V7) {
      v = TarBlock.string(header, off, 32);
    }
    return v == null || v.length == 0 ? "" : new String(v, StandardCharsets.UTF_8);
  }

  private int deviceNumber(String key, int off, TarBlock.Format format) {
    byte[] v = pax(key);
    long n = v != null ? PaxHeaders.decimal(key, v)
        : format == TarBlock.Format.V7 ? 0 : numeric(off, 8, key);
    if (n < 0 || n > Integer.MAX_VALUE) {
      throw new IllegalArgumentException(key + " out of range: " + n);
    }
    return (int) n;
  }

  private long numeric(int off, int len, String field) {
    try {
      return TarBlock.numeric(header, off, len);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("bad " + field + " field: " + e.getMessage(), e);
    }
  }

  private void parsePax(PaxHeaders target, byte[] records) throws LayerFormatException {
    try {
      target.parse(records, records.length);
    } catch (IllegalArgumentException e) {
      throw new LayerFormatException("entry " + headerName() + " (PAX header before entry #" + (ordinal + 1) + "): "
          + e.getMessage(), e);
    }
  }

  // ---- sparse maps ----------------------------------------------------------------------------

  private boolean isPaxSparse() {
    return local.sparsePairs().count() > 0 || local.has("GNU.sparse.map") || local.has("GNU.sparse.size")
        || isPaxSparse1();
  }

  private boolean isPaxSparse1() {
    byte[] major = local.get("GNU.sparse.major");
    return major != null && major.length > 0;
  }

  /** Fills {@code map} from PAX 0.0 or 0.1 records (1.0 keeps it in the data); returns the real size. */
  private long paxSparseMap(SparseMap map) {
    if (isPaxSparse1()) {
      byte[] major = local.get("GNU.sparse.major");
      byte[] minor = local.get("GNU.sparse.minor");
      if (PaxHeaders.decimal("GNU.sparse.major", major) != 1
          || (minor != null && minor.length > 0 && PaxHeaders.decimal("GNU.sparse.minor", minor) != 0)) {
        throw new IllegalArgumentException("unsupported GNU sparse format " + EntryPath.quote(major) + "."
            + (minor == null ? "?" : EntryPath.quote(minor)));
      }
      byte[] real = local.has("GNU.sparse.realsize") ? local.get("GNU.sparse.realsize") : local.get("GNU.sparse.size");
      if (real == null) {
        throw new IllegalArgumentException("GNU sparse 1.0 entry without GNU.sparse.realsize");
      }
      return PaxHeaders.decimal("GNU.sparse.realsize", real);
    }
    byte[] size = local.get("GNU.sparse.size");
    if (size == null) {
      throw new IllegalArgumentException("GNU sparse entry without GNU.sparse.size");
    }
    byte[] text = local.get("GNU.sparse.map");
    if (text != null) {
      // 0.1: "offset,numbytes,offset,numbytes,..."
      long value = 0;
      int digits = 0;
      boolean isOffset = true;
      for (int i = 0; i <= text.length; i++) {
        if (i == text.length || text[i] == ',') {
          if (digits == 0) {
            if (i == text.length && text.length == 0) {
              break;
            }
            throw new IllegalArgumentException("malformed GNU.sparse.map");
          }
          if (isOffset) {
            map.addOffset(value);
          } else {
            map.addLength(value);
          }
          isOffset = !isOffset;
          value = 0;
          digits = 0;
        } else if (text[i] >= '0' && text[i] <= '9' && digits < 19) {
          value = value * 10 + (text[i] - '0');
          digits++;
        } else {
          throw new IllegalArgumentException("malformed GNU.sparse.map");
        }
      }
    } else {
      // 0.0: repeated GNU.sparse.offset / GNU.sparse.numbytes records.
      SparseMap pairs = local.sparsePairs();
      for (int i = 0; i < pairs.count(); i++) {
        map.add(pairs.offset(i), pairs.length(i));
      }
    }
    return PaxHeaders.decimal("GNU.sparse.size", size);
  }

  /**
   * Reads a GNU sparse 1.0 map from the start of the entry's data: decimal numbers, each ended by a
   * newline (the segment count, then offset/length pairs), padded to a block boundary.
   *
   * @return the bytes the map took, a multiple of the block size
   */
  private long readSparse1Map(SparseMap map) throws IOException {
    long count = readSparseNumber();
    if (count > SparseMap.MAX_SEGMENTS) {
      throw new IllegalArgumentException("sparse map has more than " + SparseMap.MAX_SEGMENTS + " segments");
    }
    for (long i = 0; i < count; i++) {
      map.add(readSparseNumber(), readSparseNumber());
    }
    long used = data.size - data.remaining;
    long pad = (BLOCK - used % BLOCK) % BLOCK;
    if (data.skip(pad) != pad) {
      throw new IllegalArgumentException("sparse map runs past the entry's data");
    }
    return used + pad;
  }

  private long readSparseNumber() throws IOException {
    long value = 0;
    int digits = 0;
    while (true) {
      int c = data.read();
      if (c < 0) {
        throw new IllegalArgumentException("sparse map runs past the entry's data");
      }
      if (c == '\n' && digits > 0) {
        return value;
      }
      if (c < '0' || c > '9' || digits == 18) {
        throw new IllegalArgumentException("malformed GNU sparse 1.0 map");
      }
      value = value * 10 + (c - '0');
      digits++;
    }
  }

  private SparseMap readOldGnuSparseMap() throws IOException {
    SparseMap map = new SparseMap();
    addOldGnuSparse(map, header, TarBlock.GNU_SPARSE, TarBlock.GNU_SPARSE_IN_HEADER);
    boolean extended = header[TarBlock.GNU_IS_EXTENDED] != 0;
    while (extended) {
      long at = offset();
      if (fill(BLOCK) < BLOCK) {
        throw new LayerFormatException(label() + ": truncated sparse extension header at byte " + at);
      }
      addOldGnuSparse(map, buf, pos, TarBlock.GNU_SPARSE_IN_EXTENSION);
      extended = buf[pos + TarBlock.GNU_EXTENSION_IS_EXTENDED] != 0;
      pos += BLOCK;
    }
    return map;
  }

  private static void addOldGnuSparse(SparseMap map, byte[] b, int off, int slots) {
    for (int i = 0; i < slots; i++) {
      int at = off + i * 24;
      if (b[at] == 0) {
        break; // unused slots are left empty
      }
      map.add(TarBlock.numeric(b, at, 12), TarBlock.numeric(b, at + 12, 12));
    }
  }

  // ---- buffered input -------------------------------------------------------------------------

  /** The archive offset of {@code buf[pos]}, for messages. */
  private long offset() {
    return inputBytes - (limit - pos);
  }

  private int readIn(byte[] b, int off, int len) throws IOException {
    int n;
    try {
      n = in.read(b, off, len);
    } catch (IOException | RuntimeException e) {
      broken = true;
      throw e;
    }
    if (n < 0) {
      inputEnded = true;
    } else {
      inputBytes += n;
    }
    return n;
  }

  /** Makes at least {@code n} bytes available at {@code pos} unless the input ends first. */
  private int fill(int n) throws IOException {
    int avail = limit - pos;
    if (avail >= n) {
      return avail;
    }
    if (pos > 0) {
      System.arraycopy(buf, pos, buf, 0, avail);
      pos = 0;
      limit = avail;
    }
    while (limit < n && !inputEnded) {
      int r = readIn(buf, limit, buf.length - limit);
      if (r > 0) {
        limit += r;
      }
    }
    return limit - pos;
  }

  /** Reads up to {@code len} archive bytes; -1 at the end of the input. */
  private int readBuffered(byte[] b, int off, int len) throws IOException {
    int avail = limit - pos;
    if (avail == 0) {
      if (inputEnded) {
        return -1;
      }
      if (len >= DIRECT_READ_MIN) {
        return readIn(b, off, len);
      }
      pos = 0;
      limit = 0;
      int r = readIn(buf, 0, buf.length);
      if (r <= 0) {
        return r;
      }
      limit = r;
      avail = r;
    }
    int n = Math.min(avail, len);
    System.arraycopy(buf, pos, b, off, n);
    pos += n;
    return n;
  }

  /** Skips up to {@code n} archive bytes; returns how many there were. */
  private long skipInput(long n) throws IOException {
    long done = 0;
    while (done < n) {
      int avail = limit - pos;
      if (avail == 0) {
        if (inputEnded) {
          break;
        }
        pos = 0;
        limit = 0;
        int r = readIn(buf, 0, buf.length);
        if (r <= 0) {
          continue;
        }
        limit = r;
        avail = r;
      }
      int k = (int) Math.min(avail, n - done);
      pos += k;
      done += k;
    }
    return done;
  }

  /**
   * The current header's name field, quoted, for messages: made only when one is needed, since
   * quoting every header's name cost the merge thread about 2% of its time (session 8 profile).
   * Valid until the next header is read ({@link #header} holds it).
   */
  private String headerName() {
    return EntryPath.quote(TarBlock.string(header, TarBlock.NAME, TarBlock.NAME_LEN));
  }

  private byte[] readMetadata(long size) throws IOException {
    if (size < 0 || size > limits.maxExtendedHeaderBytes()) {
      throw new LayerFormatException("entry " + headerName() + " (header at byte " + (offset() - BLOCK)
          + "): extended header of " + size + " bytes exceeds the limit of " + limits.maxExtendedHeaderBytes()
          + " bytes");
    }
    byte[] out = new byte[(int) size];
    int got = 0;
    while (got < out.length) {
      int r = readBuffered(out, got, out.length - got);
      if (r < 0) {
        throw new LayerFormatException("entry " + headerName() + ": truncated extended header, " + got + " of "
            + size + " bytes");
      }
      got += r;
    }
    skipPadding(size);
    return out;
  }

  private void skipData(long size) throws IOException {
    long got = skipInput(size);
    if (got < size) {
      throw new LayerFormatException("entry " + headerName() + ": truncated content, " + got + " of " + size + " bytes");
    }
    skipPadding(size);
  }

  private void skipPadding(long size) throws IOException {
    long pad = (BLOCK - size % BLOCK) % BLOCK;
    if (skipInput(pad) < pad) {
      throw new LayerFormatException("entry " + headerName() + ": archive ends inside the padding after the content");
    }
  }

  private void skipRestOfEntry() throws IOException {
    if (data == null) {
      return;
    }
    data.skipAll();
    if (skipInput(padding) < padding) {
      throw new LayerFormatException(label() + ": archive ends inside the padding after the content");
    }
    padding = 0;
  }

  private void drain() throws IOException {
    pos = limit;
    while (!inputEnded) {
      readIn(buf, 0, buf.length);
    }
    pos = 0;
    limit = 0;
  }

  /** A GNU long name or link: it ends at its first NUL, as GNU tar, bsdtar and Go read it. */
  private static byte[] upToNul(byte[] b) {
    int n = indexOfNul(b);
    return n < 0 ? b : Arrays.copyOf(b, n);
  }

  /** The bytes the archive stores for the current entry (for a sparse file: its segments, and map). */
  private final class EntryData extends InputStream {
    final long size;
    long remaining;

    EntryData(long size) {
      this.size = size;
      this.remaining = size;
    }

    @Override
    public int read() throws IOException {
      if (remaining > 0 && pos < limit && data == this) {
        remaining--;
        return buf[pos++] & 0xff;
      }
      return Streams.readByte(this);
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      Objects.checkFromIndexSize(off, len, b.length);
      checkCurrent();
      if (remaining == 0) {
        return -1;
      }
      if (len == 0) {
        return 0;
      }
      int n = readBuffered(b, off, (int) Math.min(len, remaining));
      if (n < 0) {
        throw truncated();
      }
      remaining -= n;
      return n;
    }

    @Override
    public long skip(long n) throws IOException {
      checkCurrent();
      long want = Math.min(Math.max(n, 0), remaining);
      long got = skipInput(want);
      remaining -= got;
      if (got < want) {
        throw truncated();
      }
      return got;
    }

    void skipAll() throws IOException {
      skip(remaining);
    }

    @Override
    public int available() {
      return data == this ? (int) Math.min(limit - pos, remaining) : 0;
    }

    private void checkCurrent() throws IOException {
      if (data != this) {
        throw new IOException("content of an earlier entry read after next()");
      }
    }

    private LayerFormatException truncated() {
      broken = true;
      return new LayerFormatException(label() + ": truncated content, " + (size - remaining) + " of "
          + size + " bytes");
    }
  }
}
