package dev.ocirender.output.tar;

import dev.ocirender.layer.EntryHeader;
import dev.ocirender.layer.EntryPath;
import dev.ocirender.layer.EntryType;
import dev.ocirender.layer.SparseContent;
import dev.ocirender.output.EntrySink;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Base64;
import java.util.Map;
import java.util.Objects;

/**
 * Writes the merged filesystem as a POSIX pax tar archive to any {@link OutputStream}.
 *
 * <p>Deterministic: the same entries in the same order give the same bytes, so an output can be
 * addressed by its digest. Hence no PIDs or clocks anywhere (extended headers have fixed names), no
 * atime/ctime, no global headers. Each entry is a plain ustar header, preceded by a PAX {@code 'x'}
 * header only when ustar cannot hold something: a long name or link target, numbers beyond the
 * octal fields, sub-second mtimes, xattrs ({@code SCHILY.xattr.NAME} with the raw binary value),
 * non-ASCII or long owner names. PAX path values must be UTF-8, so a long name that is not valid
 * UTF-8 goes in a GNU {@code 'L'} (or {@code 'K'} for link targets) record instead, which GNU tar,
 * bsdtar and Commons Compress read byte-exact.
 *
 * <p>Negative mtimes go in a PAX {@code mtime} record (the ustar field, unsigned, holds 0), as
 * times beyond the octal field do: {@code -1.25} is 1.25 s before the epoch, as GNU tar, Go and our
 * reader read it (bsdtar 3.6 reads the fraction as positive, i.e. -0.75 s; whole seconds, the
 * common case, read alike everywhere).
 *
 * <p>Sparse files stay sparse: a file whose content is a {@link SparseContent} with holes is written
 * as a GNU sparse 1.0 PAX entry ({@code GNU.sparse.major=1}, {@code minor=0}, {@code name},
 * {@code realsize}; the map as decimal lines padded to a block at the start of the data; the
 * header named {@code DIR/GNUSparseFile.0/NAME}), as GNU tar writes one, which GNU tar, bsdtar and
 * our reader restore with its holes. The entry depends on the map alone, so output stays deterministic.
 *
 * <p>Entries are written in the order they arrive; tar needs no parents-first order. Not
 * buffered in memory beyond a fixed 256 KiB write buffer. {@link #close()} without
 * {@link #finish()} closes the stream without completing the archive; discarding the partial output
 * is the job of whoever owns the destination (atomic publish).
 */
public final class TarEntrySink implements EntrySink {

  private static final int BUFFER_SIZE = 256 * 1024;
  private static final byte[] PAX_HEADER_NAME = "././@PaxHeader".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] GNU_LONG_NAME = "././@LongLink".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] ROOT_NAME = {'.', '/'};

  private final OutputStream out;
  private final byte[] buf = new byte[BUFFER_SIZE];
  private int count;
  private final UstarHeader header = new UstarHeader();
  private boolean finished;
  private boolean closed;
  private final boolean keepSparse;

  /** A tar output that keeps sparse files sparse (GNU sparse 1.0 entries). */
  public TarEntrySink(OutputStream out) {
    this(out, true);
  }

  /**
   * @param keepSparse write a sparse file (content that is a {@link SparseContent} with holes) as a
   *     GNU sparse 1.0 entry; false expands it, for a consumer that may not read sparse entries
   */
  public TarEntrySink(OutputStream out, boolean keepSparse) {
    this.out = Objects.requireNonNull(out, "out");
    this.keepSparse = keepSparse;
  }

  @Override
  public void accept(EntryHeader h, InputStream content) throws IOException {
    if (finished || closed) {
      throw new IllegalStateException("tar output already " + (closed ? "closed" : "finished"));
    }
    checkNumbers(h);
    byte[] realName = archiveName(h);
    SparseContent sparse = sparse(h, realName, content);
    // A sparse entry's header carries a placeholder name, as GNU tar writes it; the real name rides
    // in GNU.sparse.name, which GNU tar, bsdtar and our reader prefer to any other name.
    byte[] name = sparse == null ? realName : sparsePlaceholder(realName);
    byte[] sparseMap = sparse == null ? null : sparseMapBlock(sparse);
    byte[] link = switch (h.type()) {
      case HARDLINK -> h.linkTarget().bytes();
      case SYMLINK -> h.symlinkTarget();
      default -> new byte[0];
    };
    PaxRecords pax = new PaxRecords();

    int split = ustarSplit(name);
    boolean longName = split < 0;
    if (sparse != null) {
      pax.add("GNU.sparse.major", "1");
      pax.add("GNU.sparse.minor", "0");
      pax.add("GNU.sparse.name", realName);
      pax.add("GNU.sparse.realsize", Long.toString(h.size()));
      longName = false; // the placeholder is cut to the name field; readers take GNU.sparse.name
    } else if (longName && isUtf8(name)) {
      pax.add("path", name);
    }
    boolean longLink = link.length > UstarHeader.NAME_LEN;
    if (longLink && isUtf8(link)) {
      pax.add("linkpath", link);
    }
    // A sparse entry stores its map block and its data segments, not the expanded file.
    long size = h.type() != EntryType.FILE ? 0 : sparse != null ? sparseMap.length + sparse.storedSize() : h.size();
    addIfBeyond(pax, "size", size, 12);
    addIfBeyond(pax, "uid", h.uid(), 8);
    addIfBeyond(pax, "gid", h.gid(), 8);
    long mtime = h.mtimeSeconds();
    int nanos = h.mtimeNanos();
    if (nanos != 0 || !UstarHeader.fitsOctal(mtime, 12)) {
      pax.add("mtime", formatTime(mtime, nanos));
    }
    byte[] uname = ownerName(pax, "uname", h.userName());
    byte[] gname = ownerName(pax, "gname", h.groupName());
    addIfBeyond(pax, "SCHILY.devmajor", h.devMajor(), 8);
    addIfBeyond(pax, "SCHILY.devminor", h.devMinor(), 8);
    for (Map.Entry<String, byte[]> x : h.xattrs().entrySet()) {
      addXattr(pax, x.getKey(), x.getValue());
    }

    if (longLink && !isUtf8(link)) {
      writeGnuLongRecord((byte) 'K', link);
    }
    if (longName && !isUtf8(name)) {
      writeGnuLongRecord((byte) 'L', name);
    }
    if (!pax.isEmpty()) {
      writePaxHeader(pax);
    }

    header.clear();
    if (split > 0) {
      header.prefix(name, split);
      header.name(name, split + 1, name.length - split - 1);
    } else {
      header.name(name, 0, name.length); // truncated when a PAX or GNU record carries it in full
    }
    header.mode(h.mode());
    header.uid(h.uid());
    header.gid(h.gid());
    header.size(size);
    header.mtime(Math.max(0, mtime)); // a negative time lives in the PAX record only
    header.typeflag(typeflag(h.type()));
    header.linkName(link);
    header.ustarMagic();
    header.userName(uname);
    header.groupName(gname);
    header.devMajor(h.devMajor());
    header.devMinor(h.devMinor());
    header.seal();
    write(header.block, 0, UstarHeader.BLOCK);

    if (sparse != null) {
      write(sparseMap, 0, sparseMap.length);
      copyContent(h, sparse.segmentData(), size - sparseMap.length);
      pad(size);
    } else if (h.type() == EntryType.FILE) {
      copyContent(h, Objects.requireNonNull(content, "content of a FILE entry"), size);
      pad(size);
    }
  }

  /** Writes the end-of-archive marker (two zero blocks) and flushes; does not close the stream. */
  @Override
  public void finish() throws IOException {
    if (closed) {
      throw new IllegalStateException("tar output already closed");
    }
    if (!finished) {
      finished = true;
      zeros(2 * UstarHeader.BLOCK);
      flushBuffer();
      out.flush();
    }
  }

  @Override
  public void close() throws IOException {
    if (!closed) {
      closed = true;
      out.close();
    }
  }

  // ---- decisions ------------------------------------------------------------------------------

  /**
   * The content as a sparse map when this entry is written sparse: a file whose reader knows its
   * map and that has at least one hole (a map covering the whole file is written as a plain file).
   * Decided by the entry alone, so the output stays deterministic. A name that is not UTF-8 is
   * expanded instead: GNU.sparse.name is a PAX value, and PAX values are UTF-8.
   */
  private SparseContent sparse(EntryHeader h, byte[] name, InputStream content) {
    if (!keepSparse || h.type() != EntryType.FILE || !(content instanceof SparseContent s)) {
      return null;
    }
    if (s.realSize() != h.size() || s.storedSize() >= s.realSize() || !isUtf8(name)) {
      return null;
    }
    return s;
  }

  /** {@code DIR/GNUSparseFile.0/NAME} ({@code ./GNUSparseFile.0/NAME} at the top), GNU tar's form with a fixed PID. */
  static byte[] sparsePlaceholder(byte[] name) {
    int slash = -1;
    for (int i = name.length - 1; i >= 0; i--) {
      if (name[i] == '/') {
        slash = i;
        break;
      }
    }
    byte[] dir = slash < 0 ? new byte[] {'.'} : Arrays.copyOf(name, slash);
    byte[] middle = "/GNUSparseFile.0/".getBytes(StandardCharsets.US_ASCII);
    byte[] out = Arrays.copyOf(dir, dir.length + middle.length + name.length - slash - 1);
    System.arraycopy(middle, 0, out, dir.length, middle.length);
    System.arraycopy(name, slash + 1, out, dir.length + middle.length, name.length - slash - 1);
    return out;
  }

  /**
   * The GNU sparse 1.0 map that starts the entry's data: the number of segments, then each one's
   * offset and length, decimal, one per line, zero-padded to whole blocks. A file that ends in a
   * hole gets a last segment of length 0 at its end, as GNU tar writes it, so every reader
   * restores the full length.
   */
  static byte[] sparseMapBlock(SparseContent s) {
    int n = s.segmentCount();
    long end = n == 0 ? 0 : s.segmentOffset(n - 1) + s.segmentLength(n - 1);
    boolean trailingHole = end < s.realSize();
    StringBuilder map = new StringBuilder();
    map.append(n + (trailingHole ? 1 : 0)).append('\n');
    for (int i = 0; i < n; i++) {
      map.append(s.segmentOffset(i)).append('\n').append(s.segmentLength(i)).append('\n');
    }
    if (trailingHole) {
      map.append(s.realSize()).append('\n').append(0).append('\n');
    }
    byte[] text = map.toString().getBytes(StandardCharsets.US_ASCII);
    int padded = (text.length + UstarHeader.BLOCK - 1) / UstarHeader.BLOCK * UstarHeader.BLOCK;
    return Arrays.copyOf(text, padded);
  }

  private static byte[] archiveName(EntryHeader h) {
    EntryPath path = h.path();
    if (path.isRoot()) {
      return ROOT_NAME;
    }
    byte[] p = path.bytes();
    if (!h.type().isDirectory()) {
      return p;
    }
    byte[] withSlash = Arrays.copyOf(p, p.length + 1);
    withSlash[p.length] = '/';
    return withSlash;
  }

  /**
   * Where to split a name into ustar prefix and name: 0 if it fits the name field alone, the index
   * of the separating '/' if it needs the prefix, -1 if it fits neither way.
   */
  static int ustarSplit(byte[] name) {
    if (name.length <= UstarHeader.NAME_LEN) {
      return 0;
    }
    int from = name.length - UstarHeader.NAME_LEN - 1;
    int to = Math.min(UstarHeader.PREFIX_LEN, name.length - 2);
    for (int i = Math.max(from, 1); i <= to; i++) {
      if (name[i] == '/') {
        return i;
      }
    }
    return -1;
  }

  private static void checkNumbers(EntryHeader h) throws IOException {
    if (h.uid() < 0 || h.gid() < 0 || h.size() < 0 || h.devMajor() < 0 || h.devMinor() < 0) {
      throw new IOException("entry " + h.path().quoted() + ": negative uid, gid, size or device number cannot be written to tar");
    }
  }

  private static void addIfBeyond(PaxRecords pax, String key, long value, int fieldLength) {
    if (!UstarHeader.fitsOctal(value, fieldLength)) {
      pax.add(key, Long.toString(value));
    }
  }

  private static byte[] ownerName(PaxRecords pax, String key, String value) {
    byte[] bytes = value.getBytes(StandardCharsets.UTF_8);
    boolean ascii = bytes.length == value.length();
    if (!ascii || bytes.length > UstarHeader.OWNER_NAME_MAX) {
      pax.add(key, bytes);
      return new byte[0]; // the ustar field stays empty rather than holding a mangled name
    }
    return bytes;
  }

  private static void addXattr(PaxRecords pax, String name, byte[] value) {
    // A PAX keyword ends at the first '=', so such a name cannot ride in SCHILY.xattr; bsdtar's
    // form escapes the name (GNU tar ignores it, but our reader and bsdtar restore it).
    if (name.indexOf('=') >= 0 || name.indexOf('%') >= 0) {
      pax.add("LIBARCHIVE.xattr." + urlEncode(name), Base64.getEncoder().encode(value));
    } else {
      pax.add("SCHILY.xattr." + name, value);
    }
  }

  private static String urlEncode(String name) {
    StringBuilder sb = new StringBuilder();
    for (byte b : name.getBytes(StandardCharsets.UTF_8)) {
      int v = b & 0xff;
      if (v > 0x20 && v < 0x7f && v != '=' && v != '%') {
        sb.append((char) v);
      } else {
        sb.append('%').append(Character.forDigit(v >> 4, 16)).append(Character.forDigit(v & 15, 16));
      }
    }
    return sb.toString();
  }

  /**
   * A PAX time from {seconds, nanos} with nanos in [0, 1e9): {@code 12.5}, or for times before the
   * epoch the signed decimal {@code -1.25} (seconds -2 plus 750000000 ns).
   */
  static String formatTime(long seconds, int nanos) {
    if (nanos == 0) {
      return Long.toString(seconds);
    }
    boolean negative = seconds < 0;
    long whole = negative ? -(seconds + 1) : seconds;
    int frac = negative ? 1_000_000_000 - nanos : nanos;
    String fraction = String.format("%09d", frac);
    int end = fraction.length();
    while (fraction.charAt(end - 1) == '0') {
      end--;
    }
    return (negative ? "-" : "") + whole + "." + fraction.substring(0, end);
  }

  private static byte typeflag(EntryType type) {
    return switch (type) {
      case FILE -> '0';
      case HARDLINK -> '1';
      case SYMLINK -> '2';
      case CHAR_DEVICE -> '3';
      case BLOCK_DEVICE -> '4';
      case DIRECTORY -> '5';
      case FIFO -> '6';
    };
  }

  static boolean isUtf8(byte[] bytes) {
    try {
      StandardCharsets.UTF_8.newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(ByteBuffer.wrap(bytes));
      return true;
    } catch (CharacterCodingException e) {
      return false;
    }
  }

  // ---- writing --------------------------------------------------------------------------------

  private void writePaxHeader(PaxRecords pax) throws IOException {
    header.clear();
    header.name(PAX_HEADER_NAME, 0, PAX_HEADER_NAME.length);
    header.mode(0644);
    header.uid(0);
    header.gid(0);
    header.size(pax.length());
    header.mtime(0);
    header.typeflag((byte) 'x');
    header.ustarMagic();
    header.seal();
    write(header.block, 0, UstarHeader.BLOCK);
    write(pax.data(), 0, pax.length());
    pad(pax.length());
  }

  /** A GNU long name/link record: the full bytes plus a NUL, as GNU tar writes them. */
  private void writeGnuLongRecord(byte type, byte[] value) throws IOException {
    long size = value.length + 1L;
    header.clear();
    header.name(GNU_LONG_NAME, 0, GNU_LONG_NAME.length);
    header.mode(0644);
    header.uid(0);
    header.gid(0);
    header.size(size);
    header.mtime(0);
    header.typeflag(type);
    header.gnuMagic();
    header.seal();
    write(header.block, 0, UstarHeader.BLOCK);
    write(value, 0, value.length);
    zeros(1);
    pad(size);
  }

  private void copyContent(EntryHeader h, InputStream content, long size) throws IOException {
    long remaining = size;
    while (remaining > 0) {
      if (count == buf.length) {
        flushBuffer();
      }
      // Read straight into the write buffer: one copy per byte.
      int n = content.read(buf, count, (int) Math.min(buf.length - count, remaining));
      if (n < 0) {
        throw new IOException("entry " + h.path().quoted() + ": content ended after " + (size - remaining) + " of "
            + size + " bytes");
      }
      count += n;
      remaining -= n;
    }
    if (content.read() >= 0) {
      throw new IOException("entry " + h.path().quoted() + ": content is longer than its declared " + size + " bytes");
    }
  }

  private void pad(long size) throws IOException {
    zeros((int) ((UstarHeader.BLOCK - size % UstarHeader.BLOCK) % UstarHeader.BLOCK));
  }

  private void zeros(int n) throws IOException {
    while (n > 0) {
      if (count == buf.length) {
        flushBuffer();
      }
      int k = Math.min(n, buf.length - count);
      Arrays.fill(buf, count, count + k, (byte) 0);
      count += k;
      n -= k;
    }
  }

  private void write(byte[] b, int off, int len) throws IOException {
    while (len > 0) {
      if (count == buf.length) {
        flushBuffer();
      }
      int k = Math.min(len, buf.length - count);
      System.arraycopy(b, off, buf, count, k);
      count += k;
      off += k;
      len -= k;
    }
  }

  private void flushBuffer() throws IOException {
    if (count > 0) {
      out.write(buf, 0, count);
      count = 0;
    }
  }
}
