package dev.ocirender.testing;

import dev.ocirender.layer.EntryType;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.Charset;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;

/**
 * Builds one layer for a test, readable in the test itself:
 * <pre>{@code
 * LayerBuilder.layer()
 *     .dir("etc", 0755)
 *     .file("etc/passwd", "root:x:0:0", 0644)
 *     .symlink("bin/sh", "busybox")
 *     .whiteout("etc/motd")
 * }</pre>
 *
 * <p>The layer exists twice: as a list of logical {@link Entry entries}, exactly as written (raw
 * names, whiteouts as the {@code .wh.} files they are), which {@link OverlayModel} interprets; and as
 * tar bytes, written by Apache Commons Compress ({@code LONGFILE_POSIX}, {@code BIGNUMBER_POSIX}) so
 * that the tar the code under test reads comes from an independent writer. Two things Commons
 * Compress cannot write exactly are written by hand here, kept to the record <em>contents</em>:
 * binary extended-attribute values (it encodes PAX values as text) get our own PAX {@code x} record,
 * and non-UTF-8 names of 100 bytes or more get our own GNU {@code L}/{@code K} record (shorter ones go
 * byte-exact into the ustar header through a Latin-1 header encoding).
 *
 * <p>Deliberately not here: sparse files, global PAX headers, and any validation of what is built;
 * odd and malformed entries are the point of {@link #rawEntry}. Sub-second mtimes must be multiples of
 * 100 ns, because Commons Compress writes PAX times with 7 fractional digits.
 */
public final class LayerBuilder {

  /** Default mtime of built entries: distinct from the implied-directory default of 0. */
  public static final long DEFAULT_MTIME = 1_600_000_000L;

  /**
   * One tar entry as written: raw name bytes, never normalised. {@code linkTarget} is the raw
   * hard-link name for {@link EntryType#HARDLINK}; {@code content} is non-null for files only.
   */
  public record Entry(
      byte[] rawName,
      EntryType type,
      int mode,
      long uid,
      long gid,
      long mtimeSeconds,
      int mtimeNanos,
      byte[] content,
      byte[] symlinkTarget,
      byte[] linkTarget,
      int devMajor,
      int devMinor,
      Map<String, byte[]> xattrs) {

    public Entry {
      xattrs = Collections.unmodifiableMap(new TreeMap<>(xattrs));
    }

    /** The raw name for messages. */
    public String displayName() {
      return dev.ocirender.layer.EntryPath.display(rawName);
    }

    Entry withXattr(String name, byte[] value) {
      Map<String, byte[]> x = new TreeMap<>(xattrs);
      x.put(name, value.clone());
      return new Entry(rawName, type, mode, uid, gid, mtimeSeconds, mtimeNanos, content, symlinkTarget,
          linkTarget, devMajor, devMinor, x);
    }

    Entry withOwner(long newUid, long newGid) {
      return new Entry(rawName, type, mode, newUid, newGid, mtimeSeconds, mtimeNanos, content, symlinkTarget,
          linkTarget, devMajor, devMinor, xattrs);
    }

    Entry withMtime(long seconds, int nanos) {
      return new Entry(rawName, type, mode, uid, gid, seconds, nanos, content, symlinkTarget,
          linkTarget, devMajor, devMinor, xattrs);
    }

    @Override
    public String toString() {
      return type + " " + displayName()
          + (symlinkTarget != null ? " -> " + dev.ocirender.layer.EntryPath.display(symlinkTarget) : "")
          + (linkTarget != null ? " => " + dev.ocirender.layer.EntryPath.display(linkTarget) : "")
          + String.format(" %04o", mode);
    }
  }

  private final List<Entry> entries = new ArrayList<>();

  private LayerBuilder() {}

  public static LayerBuilder layer() {
    return new LayerBuilder();
  }

  /** A copy of the entries as written, in tar order. */
  public List<Entry> entries() {
    return List.copyOf(entries);
  }

  public LayerBuilder dir(String path, int mode) {
    return dir(path, mode, 0, 0, DEFAULT_MTIME);
  }

  public LayerBuilder dir(String path, int mode, long uid, long gid, long mtime) {
    return add(utf8(path), EntryType.DIRECTORY, mode, uid, gid, mtime, null, null, null, 0, 0);
  }

  public LayerBuilder file(String path, String content, int mode) {
    return file(path, utf8(content), mode, 0, 0, DEFAULT_MTIME);
  }

  public LayerBuilder file(String path, byte[] content, int mode) {
    return file(path, content, mode, 0, 0, DEFAULT_MTIME);
  }

  public LayerBuilder file(String path, byte[] content, int mode, long uid, long gid, long mtime) {
    return add(utf8(path), EntryType.FILE, mode, uid, gid, mtime, content.clone(), null, null, 0, 0);
  }

  public LayerBuilder symlink(String path, String target) {
    return add(utf8(path), EntryType.SYMLINK, 0777, 0, 0, DEFAULT_MTIME, null, utf8(target), null, 0, 0);
  }

  /** A hard link at {@code path} to the (raw, as written) name {@code target}. */
  public LayerBuilder hardlink(String path, String target) {
    return add(utf8(path), EntryType.HARDLINK, 0644, 0, 0, DEFAULT_MTIME, null, null, utf8(target), 0, 0);
  }

  /** Writes {@code parent/.wh.name}: removes {@code path} of the lower layers. */
  public LayerBuilder whiteout(String path) {
    int slash = path.lastIndexOf('/');
    String name = slash < 0 ? ".wh." + path : path.substring(0, slash + 1) + ".wh." + path.substring(slash + 1);
    return add(utf8(name), EntryType.FILE, 0644, 0, 0, DEFAULT_MTIME, new byte[0], null, null, 0, 0);
  }

  /** Writes {@code dir/.wh..wh..opq}: removes the lower layers' children of {@code dir}. */
  public LayerBuilder opaque(String dir) {
    String name = dir.isEmpty() || dir.equals(".") ? ".wh..wh..opq" : dir + "/.wh..wh..opq";
    return add(utf8(name), EntryType.FILE, 0644, 0, 0, DEFAULT_MTIME, new byte[0], null, null, 0, 0);
  }

  public LayerBuilder fifo(String path, int mode) {
    return add(utf8(path), EntryType.FIFO, mode, 0, 0, DEFAULT_MTIME, null, null, null, 0, 0);
  }

  public LayerBuilder charDevice(String path, int major, int minor) {
    return add(utf8(path), EntryType.CHAR_DEVICE, 0666, 0, 0, DEFAULT_MTIME, null, null, null, major, minor);
  }

  public LayerBuilder blockDevice(String path, int major, int minor) {
    return add(utf8(path), EntryType.BLOCK_DEVICE, 0660, 0, 0, DEFAULT_MTIME, null, null, null, major, minor);
  }

  /** An entry with a name taken byte for byte, e.g. {@code ./x}, {@code /x}, {@code a//b}, {@code .}. */
  public LayerBuilder rawEntry(String rawName, EntryType type, int mode) {
    return rawEntry(utf8(rawName), type, mode);
  }

  /** As {@link #rawEntry(String, EntryType, int)} for names that are not UTF-8; files get empty content. */
  public LayerBuilder rawEntry(byte[] rawName, EntryType type, int mode) {
    if (type == EntryType.HARDLINK || type == EntryType.SYMLINK) {
      throw new IllegalArgumentException("use rawEntry(Entry) for links: they need a target");
    }
    return add(rawName.clone(), type, mode, 0, 0, DEFAULT_MTIME,
        type == EntryType.FILE ? new byte[0] : null, null, null, 0, 0);
  }

  /** Any entry at all, e.g. a hard link or symlink with a raw (non-UTF-8, odd) target. */
  public LayerBuilder rawEntry(Entry entry) {
    entries.add(entry);
    return this;
  }

  /** Adds an extended attribute (binary value) to the last entry. */
  public LayerBuilder xattr(String name, byte[] value) {
    return replaceLast(last().withXattr(name, value));
  }

  /** Adds a text extended attribute to the last entry. */
  public LayerBuilder xattr(String name, String value) {
    return xattr(name, utf8(value));
  }

  /** Sets the last entry's owner. */
  public LayerBuilder owner(long uid, long gid) {
    return replaceLast(last().withOwner(uid, gid));
  }

  /** Sets the last entry's mtime; {@code nanos} must be a multiple of 100 (see class javadoc). */
  public LayerBuilder mtime(long seconds, int nanos) {
    if (nanos % 100 != 0 || nanos < 0 || nanos > 999_999_999) {
      throw new IllegalArgumentException("nanos must be a multiple of 100 below 1e9: " + nanos);
    }
    return replaceLast(last().withMtime(seconds, nanos));
  }

  /** The layer as an uncompressed tar stream (with the two zero records at the end). */
  public byte[] tar() {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (Entry e : entries) {
      out.writeBytes(entryBytes(e));
    }
    out.writeBytes(new byte[2 * TarConstants.DEFAULT_RCDSIZE]);
    return out.toByteArray();
  }

  /** The layer as a blob compressed with {@code compression}. */
  public byte[] blob(Compression compression) {
    return compression.compress(tar());
  }

  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder("layer[");
    for (int i = 0; i < entries.size(); i++) {
      sb.append(i == 0 ? "" : ", ").append(entries.get(i));
    }
    return sb.append(']').toString();
  }

  private Entry last() {
    if (entries.isEmpty()) {
      throw new IllegalStateException("no entry yet");
    }
    return entries.get(entries.size() - 1);
  }

  private LayerBuilder replaceLast(Entry e) {
    entries.set(entries.size() - 1, e);
    return this;
  }

  private LayerBuilder add(byte[] name, EntryType type, int mode, long uid, long gid, long mtime,
      byte[] content, byte[] symlinkTarget, byte[] linkTarget, int major, int minor) {
    entries.add(new Entry(name, type, mode, uid, gid, mtime, 0, content, symlinkTarget, linkTarget,
        major, minor, Map.of()));
    return this;
  }

  static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  // ---------------------------------------------------------------------------------------------
  // Tar writing. Each entry goes through its own TarArchiveOutputStream (record-sized blocks), whose
  // end-of-archive records are cut off, so that each entry can pick its own header encoding.

  private static final int NAME_LIMIT = TarConstants.NAMELEN; // 100: ustar name/linkname field size

  private static byte[] entryBytes(Entry e) {
    byte[] link = e.type() == EntryType.SYMLINK ? e.symlinkTarget()
        : e.type() == EntryType.HARDLINK ? e.linkTarget() : null;
    boolean textName = isUtf8(e.rawName()) && (link == null || isUtf8(link));
    boolean textXattrs = e.xattrs().values().stream().allMatch(LayerBuilder::isUtf8);
    try {
      return textName && textXattrs ? plainEntry(e, link) : handWrittenExtensions(e, link);
    } catch (IOException ex) {
      throw new UncheckedIOException("writing test tar entry " + e, ex);
    }
  }

  /** The ordinary case: Commons Compress does everything (PAX for long names, big ids, xattrs). */
  private static byte[] plainEntry(Entry e, byte[] link) throws IOException {
    TarArchiveEntry t = tarEntry(e, text(e.rawName(), StandardCharsets.UTF_8),
        link == null ? null : text(link, StandardCharsets.UTF_8));
    t.setUserId(e.uid());
    t.setGroupId(e.gid());
    t.setLastModifiedTime(FileTime.from(Instant.ofEpochSecond(e.mtimeSeconds(), e.mtimeNanos())));
    for (Map.Entry<String, byte[]> x : e.xattrs().entrySet()) {
      t.addPaxHeader("SCHILY.xattr." + x.getKey(), new String(x.getValue(), StandardCharsets.UTF_8));
    }
    return write(StandardCharsets.UTF_8, List.of(new Part(t, e.content())));
  }

  /**
   * Binary xattr values or non-UTF-8 names: our own PAX {@code x} record (everything that would need
   * PAX, so Commons Compress does not add a second one) and/or GNU {@code L}/{@code K} records, then
   * a main header from Commons Compress in Latin-1, which maps name bytes one to one.
   */
  private static byte[] handWrittenExtensions(Entry e, byte[] link) throws IOException {
    List<Part> parts = new ArrayList<>();
    Map<String, byte[]> pax = new LinkedHashMap<>();
    byte[] headerName = e.rawName();
    byte[] headerLink = link;
    if (e.rawName().length >= NAME_LIMIT) {
      headerName = Arrays.copyOf(e.rawName(), NAME_LIMIT - 1);
      if (isUtf8(e.rawName())) {
        pax.put("path", e.rawName());
      } else {
        parts.add(gnuLongRecord(TarConstants.LF_GNUTYPE_LONGNAME, e.rawName()));
      }
    }
    if (link != null && link.length >= NAME_LIMIT) {
      headerLink = Arrays.copyOf(link, NAME_LIMIT - 1);
      if (isUtf8(link)) {
        pax.put("linkpath", link);
      } else {
        parts.add(gnuLongRecord(TarConstants.LF_GNUTYPE_LONGLINK, link));
      }
    }
    long headerUid = e.uid();
    long headerGid = e.gid();
    if (e.uid() > TarConstants.MAXID) {
      pax.put("uid", utf8(Long.toString(e.uid())));
      headerUid = 0;
    }
    if (e.gid() > TarConstants.MAXID) {
      pax.put("gid", utf8(Long.toString(e.gid())));
      headerGid = 0;
    }
    if (e.mtimeNanos() != 0) {
      pax.put("mtime", utf8(String.format("%d.%09d", e.mtimeSeconds(), e.mtimeNanos())));
    }
    for (Map.Entry<String, byte[]> x : e.xattrs().entrySet()) {
      pax.put("SCHILY.xattr." + x.getKey(), x.getValue());
    }
    if (!pax.isEmpty()) {
      byte[] records = paxRecords(pax);
      TarArchiveEntry x = new TarArchiveEntry("PaxHeaders/" + Math.abs(Arrays.hashCode(e.rawName())),
          TarConstants.LF_PAX_EXTENDED_HEADER_LC, true);
      x.setSize(records.length);
      x.setLastModifiedTime(FileTime.from(Instant.ofEpochSecond(e.mtimeSeconds())));
      parts.add(new Part(x, records));
    }
    TarArchiveEntry t = tarEntry(e, text(headerName, StandardCharsets.ISO_8859_1),
        headerLink == null ? null : text(headerLink, StandardCharsets.ISO_8859_1));
    t.setUserId(headerUid);
    t.setGroupId(headerGid);
    t.setLastModifiedTime(FileTime.from(Instant.ofEpochSecond(e.mtimeSeconds())));
    parts.add(new Part(t, e.content()));
    return write(StandardCharsets.ISO_8859_1, parts);
  }

  private static Part gnuLongRecord(byte type, byte[] name) {
    TarArchiveEntry l = new TarArchiveEntry(TarConstants.GNU_LONGLINK, type);
    byte[] data = Arrays.copyOf(name, name.length + 1); // NUL-terminated, as GNU tar writes it
    l.setSize(data.length);
    l.setLastModifiedTime(FileTime.from(Instant.EPOCH));
    return new Part(l, data);
  }

  /** PAX records {@code "<len> <key>=<value>\n"}, where len counts the whole record in bytes. */
  static byte[] paxRecords(Map<String, byte[]> pax) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (Map.Entry<String, byte[]> kv : pax.entrySet()) {
      int rest = 1 + utf8(kv.getKey()).length + 1 + kv.getValue().length + 1; // ' ' key '=' value '\n'
      int len = rest + 1;
      while (Integer.toString(len).length() + rest != len) {
        len = Integer.toString(len).length() + rest;
      }
      out.writeBytes(utf8(len + " " + kv.getKey() + "="));
      out.writeBytes(kv.getValue());
      out.write('\n');
    }
    return out.toByteArray();
  }

  private static TarArchiveEntry tarEntry(Entry e, String name, String link) {
    byte flag = switch (e.type()) {
      case FILE -> TarConstants.LF_NORMAL;
      case DIRECTORY -> TarConstants.LF_DIR;
      case SYMLINK -> TarConstants.LF_SYMLINK;
      case HARDLINK -> TarConstants.LF_LINK;
      case CHAR_DEVICE -> TarConstants.LF_CHR;
      case BLOCK_DEVICE -> TarConstants.LF_BLK;
      case FIFO -> TarConstants.LF_FIFO;
    };
    // preserveAbsolutePath: keep "/x" as written; the reader under test must normalise it.
    TarArchiveEntry t = new TarArchiveEntry(name, flag, true);
    t.setMode(e.mode());
    t.setUserName("");
    t.setGroupName("");
    if (link != null) {
      t.setLinkName(link);
    }
    if (e.type() == EntryType.CHAR_DEVICE || e.type() == EntryType.BLOCK_DEVICE) {
      t.setDevMajor(e.devMajor());
      t.setDevMinor(e.devMinor());
    }
    t.setSize(e.type() == EntryType.FILE ? e.content().length : 0);
    return t;
  }

  private record Part(TarArchiveEntry header, byte[] data) {}

  private static byte[] write(Charset encoding, List<Part> parts) throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (TarArchiveOutputStream tar = new TarArchiveOutputStream(bytes, TarConstants.DEFAULT_RCDSIZE, encoding.name())) {
      tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
      tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
      for (Part p : parts) {
        tar.putArchiveEntry(p.header());
        if (p.data() != null) {
          tar.write(p.data());
        }
        tar.closeArchiveEntry();
      }
    }
    byte[] all = bytes.toByteArray();
    // Cut the two zero end-of-archive records: the entries of a layer are concatenated.
    return Arrays.copyOf(all, all.length - 2 * TarConstants.DEFAULT_RCDSIZE);
  }

  private static String text(byte[] raw, Charset charset) {
    return new String(raw, charset);
  }

  static boolean isUtf8(byte[] raw) {
    try {
      StandardCharsets.UTF_8.newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(ByteBuffer.wrap(raw));
      return true;
    } catch (CharacterCodingException e) {
      return false;
    }
  }
}
