package dev.ocirender.testing;

import dev.ocirender.layer.EntryHeader;
import dev.ocirender.layer.EntryPath;
import dev.ocirender.layer.EntryType;
import dev.ocirender.layer.LayerTarReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Collections;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;

/**
 * A merged filesystem as a comparable value: every path with its type, metadata, content digest
 * and hard-link group. Two snapshots are equal when they hold the same paths with the same
 * attributes and the same sets of paths share an inode, however each output numbered its inodes.
 *
 * <p>Factories read the result of every way a filesystem can be produced: {@link OverlayModel} (the
 * reference), {@link #fromSink a CollectingSink} (the merge itself), {@link #fromTar a tar read by
 * Commons Compress} or {@link #fromTarExact by our LayerTarReader}, and {@link #fromDirectory a
 * directory on disk} (our directory writer, {@code umoci raw unpack}, {@code unsquashfs}).
 * {@link #diff} lists differences path by path and field by field, for failure messages.
 *
 * <p>Deliberately not here: content bytes (only their sha256; snapshots of large images stay
 * small), user and group names, atime/ctime, and sparse-file layout.
 */
public final class FsSnapshot {

  /** One path. Hard-linked paths share the inode's attributes and carry the same {@link #linkGroup()}. */
  public static final class Node {
    private final EntryType type;
    private final int mode;
    private final long uid;
    private final long gid;
    private final long mtimeSeconds;
    private final int mtimeNanos;
    private final long size;
    private final String sha256;
    private final byte[] symlinkTarget;
    private final int devMajor;
    private final int devMinor;
    private final NavigableMap<String, byte[]> xattrs;
    private final EntryPath linkGroup;

    /** {@code type} is never HARDLINK: a link is another path of its inode's type. */
    public Node(EntryType type, int mode, long uid, long gid, long mtimeSeconds, int mtimeNanos, long size,
        String sha256, byte[] symlinkTarget, int devMajor, int devMinor, Map<String, byte[]> xattrs) {
      this(type, mode, uid, gid, mtimeSeconds, mtimeNanos, size, sha256, symlinkTarget, devMajor, devMinor,
          xattrs, null);
    }

    private Node(EntryType type, int mode, long uid, long gid, long mtimeSeconds, int mtimeNanos, long size,
        String sha256, byte[] symlinkTarget, int devMajor, int devMinor, Map<String, byte[]> xattrs,
        EntryPath linkGroup) {
      if (type == EntryType.HARDLINK) {
        throw new IllegalArgumentException("a snapshot node is never a HARDLINK; give the inode's type");
      }
      boolean device = type == EntryType.CHAR_DEVICE || type == EntryType.BLOCK_DEVICE;
      this.type = type;
      this.mode = mode & EntryHeader.MODE_MASK;
      this.uid = uid;
      this.gid = gid;
      this.mtimeSeconds = mtimeSeconds;
      this.mtimeNanos = mtimeNanos;
      this.size = type == EntryType.FILE ? size : 0;
      this.sha256 = type == EntryType.FILE ? Objects.requireNonNull(sha256, "sha256") : null;
      this.symlinkTarget = type == EntryType.SYMLINK ? symlinkTarget.clone() : null;
      this.devMajor = device ? devMajor : 0;
      this.devMinor = device ? devMinor : 0;
      this.xattrs = Collections.unmodifiableNavigableMap(new TreeMap<>(xattrs));
      this.linkGroup = linkGroup;
    }

    Node inGroup(EntryPath group) {
      return new Node(type, mode, uid, gid, mtimeSeconds, mtimeNanos, size, sha256, symlinkTarget, devMajor,
          devMinor, xattrs, group);
    }

    public EntryType type() { return type; }
    public int mode() { return mode; }
    public long uid() { return uid; }
    public long gid() { return gid; }
    public long mtimeSeconds() { return mtimeSeconds; }
    public int mtimeNanos() { return mtimeNanos; }
    public long size() { return size; }
    /** Hex sha256 of a file's content; null for other types. */
    public String sha256() { return sha256; }
    public byte[] symlinkTarget() { return symlinkTarget == null ? null : symlinkTarget.clone(); }
    public int devMajor() { return devMajor; }
    public int devMinor() { return devMinor; }
    public Map<String, byte[]> xattrs() { return xattrs; }
    /** The smallest path of this node's hard-link group, or null when no other path shares the inode. */
    public EntryPath linkGroup() { return linkGroup; }

    /** Whether this is a file whose content is {@code text} (UTF-8). */
    public boolean hasContent(String text) {
      return type == EntryType.FILE && sha256Hex(text.getBytes(StandardCharsets.UTF_8)).equals(sha256);
    }

    public String symlinkTargetText() {
      return symlinkTarget == null ? null : EntryPath.display(symlinkTarget);
    }

    @Override
    public String toString() {
      StringBuilder sb = new StringBuilder(type.toString())
          .append(String.format(" %04o %d:%d mtime=%d.%09d", mode, uid, gid, mtimeSeconds, mtimeNanos));
      if (type == EntryType.FILE) {
        sb.append(" size=").append(size).append(" sha256=").append(sha256, 0, 12);
      }
      if (symlinkTarget != null) {
        sb.append(" -> ").append(EntryPath.display(symlinkTarget));
      }
      if (devMajor != 0 || devMinor != 0) {
        sb.append(" dev=").append(devMajor).append(',').append(devMinor);
      }
      if (!xattrs.isEmpty()) {
        sb.append(" xattrs=").append(xattrText(xattrs));
      }
      if (linkGroup != null) {
        sb.append(" linkgroup=").append(linkGroup);
      }
      return sb.toString();
    }
  }

  /** Which attributes {@link #diff} compares; {@link #EXACT} compares all of them. */
  public record Compare(boolean mtimes, boolean mtimeNanos, boolean ownership, boolean xattrs,
      boolean symlinkModes, boolean rootMetadata) {
    public static final Compare EXACT = new Compare(true, true, true, true, true, true);

    public Compare ignoringMtimes() {
      return new Compare(false, false, ownership, xattrs, symlinkModes, rootMetadata);
    }

    /** For outputs that keep whole seconds only (squashfs, some directories). */
    public Compare ignoringMtimeNanos() {
      return new Compare(mtimes, false, ownership, xattrs, symlinkModes, rootMetadata);
    }

    /** For rootless directory output, where files belong to the user running the test. */
    public Compare ignoringOwnership() {
      return new Compare(mtimes, mtimeNanos, false, xattrs, symlinkModes, rootMetadata);
    }

    /** For outputs that cannot set (some) extended attributes, e.g. {@code security.*} rootless. */
    public Compare ignoringXattrs() {
      return new Compare(mtimes, mtimeNanos, ownership, false, symlinkModes, rootMetadata);
    }

    /** For directories on Linux, where every symlink is 0777 whatever the image says. */
    public Compare ignoringSymlinkModes() {
      return new Compare(mtimes, mtimeNanos, ownership, xattrs, false, rootMetadata);
    }

    /** For directories whose root was made by the test or tool rather than written from the image. */
    public Compare ignoringRootMetadata() {
      return new Compare(mtimes, mtimeNanos, ownership, xattrs, symlinkModes, false);
    }
  }

  private final NavigableMap<EntryPath, Node> nodes;

  private FsSnapshot(NavigableMap<EntryPath, Node> nodes) {
    this.nodes = Collections.unmodifiableNavigableMap(nodes);
  }

  // ---------------------------------------------------------------------------------------------
  // Building: every factory adds paths with an inode key; paths with equal keys are one inode.

  /** Collects paths; {@link #add} with the same non-null key for every name of one inode. */
  public static final class Builder {
    private final TreeMap<EntryPath, Node> nodes = new TreeMap<>();
    private final Map<EntryPath, Object> inodeOf = new HashMap<>();

    public Builder add(EntryPath path, Node node, Object inodeKey) {
      if (nodes.put(path, node) != null) {
        throw new AssertionError("path occurs twice: " + path);
      }
      inodeOf.put(path, inodeKey == null ? new Object() : inodeKey);
      return this;
    }

    public boolean has(EntryPath path) {
      return nodes.containsKey(path);
    }

    public Node get(EntryPath path) {
      return nodes.get(path);
    }

    public Object inodeKey(EntryPath path) {
      return inodeOf.get(path);
    }

    public FsSnapshot build() {
      Map<Object, EntryPath> smallest = new HashMap<>();
      Map<Object, Integer> count = new HashMap<>();
      for (EntryPath p : nodes.keySet()) { // ascending, so the first seen is the smallest
        Object key = inodeOf.get(p);
        smallest.putIfAbsent(key, p);
        count.merge(key, 1, Integer::sum);
      }
      TreeMap<EntryPath, Node> out = new TreeMap<>();
      for (Map.Entry<EntryPath, Node> e : nodes.entrySet()) {
        Object key = inodeOf.get(e.getKey());
        boolean shared = count.get(key) > 1;
        if (shared && e.getValue().type() == EntryType.DIRECTORY) {
          throw new AssertionError("directory shares an inode: " + e.getKey());
        }
        out.put(e.getKey(), shared ? e.getValue().inGroup(smallest.get(key)) : e.getValue());
      }
      return new FsSnapshot(out);
    }
  }

  public static Builder builder() {
    return new Builder();
  }

  /** The reference result for an image's layers (oldest first); see {@link OverlayModel}. */
  public static FsSnapshot fromModel(ImageBuilder image) {
    return OverlayModel.apply(image.logicalLayers()).snapshot();
  }

  /** What a merge delivered to a sink (which has checked the sink contract on the way). */
  public static FsSnapshot fromSink(CollectingSink sink) {
    return sink.snapshot();
  }

  /**
   * Reads a tar with Apache Commons Compress: an independent reader, for structure. Its limits are
   * ours here: PAX values (binary xattrs, PAX names) come back as text, so binary xattr values and
   * non-UTF-8 names are not byte-exact; use {@link #fromTarExact} when those matter. Both
   * {@code SCHILY.xattr.*} and {@code LIBARCHIVE.xattr.*} (base64) are read.
   */
  public static FsSnapshot fromTar(InputStream tar) throws IOException {
    Builder b = builder();
    try (TarArchiveInputStream in = new TarArchiveInputStream(tar)) {
      TarArchiveEntry e;
      while ((e = in.getNextEntry()) != null) {
        EntryPath path = EntryPath.normalize(e.getName().getBytes(StandardCharsets.UTF_8));
        if (e.isLink()) {
          EntryPath target = EntryPath.normalize(e.getLinkName().getBytes(StandardCharsets.UTF_8));
          addLink(b, path, target);
          continue;
        }
        EntryType type;
        if (e.isDirectory()) {
          type = EntryType.DIRECTORY;
        } else if (e.isSymbolicLink()) {
          type = EntryType.SYMLINK;
        } else if (e.isCharacterDevice()) {
          type = EntryType.CHAR_DEVICE;
        } else if (e.isBlockDevice()) {
          type = EntryType.BLOCK_DEVICE;
        } else if (e.isFIFO()) {
          type = EntryType.FIFO;
        } else if (e.isFile()) {
          type = EntryType.FILE;
        } else {
          throw new AssertionError("unexpected tar entry type '" + (char) e.getLinkFlag() + "' at " + path);
        }
        Map<String, byte[]> xattrs = new TreeMap<>();
        for (Map.Entry<String, String> h : e.getExtraPaxHeaders().entrySet()) {
          if (h.getKey().startsWith("SCHILY.xattr.")) {
            xattrs.put(h.getKey().substring("SCHILY.xattr.".length()), h.getValue().getBytes(StandardCharsets.UTF_8));
          } else if (h.getKey().startsWith("LIBARCHIVE.xattr.")) {
            xattrs.put(percentDecode(h.getKey().substring("LIBARCHIVE.xattr.".length())),
                Base64.getDecoder().decode(h.getValue()));
          }
        }
        Instant mtime = e.getLastModifiedTime().toInstant();
        Digested content = type == EntryType.FILE ? digest(in) : null;
        b.add(path, new Node(type, e.getMode(), e.getLongUserId(), e.getLongGroupId(), mtime.getEpochSecond(),
            mtime.getNano(), content == null ? 0 : content.size(), content == null ? null : content.sha256(),
            type == EntryType.SYMLINK ? e.getLinkName().getBytes(StandardCharsets.UTF_8) : null,
            e.getDevMajor(), e.getDevMinor(), xattrs), null);
      }
    }
    return b.build();
  }

  /**
   * Reads a tar with our own {@link LayerTarReader}: byte-exact names, link targets and binary xattr
   * values, but not independent of the code under test. Use it for exactly those attributes and
   * {@link #fromTar} for everything else.
   */
  public static FsSnapshot fromTarExact(InputStream tar) throws IOException {
    Builder b = builder();
    try (LayerTarReader reader = new LayerTarReader(tar)) {
      EntryHeader h;
      while ((h = reader.next()) != null) {
        if (h.type() == EntryType.HARDLINK) {
          addLink(b, h.path(), h.linkTarget());
          continue;
        }
        Digested content = h.type() == EntryType.FILE ? digest(reader.content()) : null;
        b.add(h.path(), nodeOf(h, content), null);
      }
    }
    return b.build();
  }

  /**
   * Reads a directory tree without following symlinks: attributes by lstat
   * ({@code Files.readAttributes(p, "unix:*", NOFOLLOW_LINKS)}: mode, uid, gid, rdev, and inode
   * numbers for hard-link groups), names byte-exact (decoded from the path's URI, which keeps raw
   * bytes), symlink targets byte-exact from {@code find -printf '%l'}, and, when {@code withXattrs},
   * extended attributes from {@code getfattr -h -R -d -m - -e hex}. The root directory is the root
   * entry.
   */
  public static FsSnapshot fromDirectory(Path root, boolean withXattrs) throws IOException {
    Path top = root.toAbsolutePath();
    String topUri = top.toUri().getRawPath();
    String prefix = topUri.endsWith("/") ? topUri : topUri + "/";
    Map<EntryPath, byte[]> symlinks = symlinkTargets(top);
    Map<EntryPath, Map<String, byte[]>> xattrs = withXattrs ? getfattr(top) : Map.of();
    Builder b = builder();
    Files.walkFileTree(top, new SimpleFileVisitor<>() {
      @Override
      public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) throws IOException {
        visit(dir);
        return FileVisitResult.CONTINUE;
      }

      @Override
      public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
        visit(file);
        return FileVisitResult.CONTINUE;
      }

      private void visit(Path p) throws IOException {
        String uri = p.toUri().getRawPath();
        String rel = uri.length() <= prefix.length() ? "" : uri.substring(prefix.length());
        if (rel.endsWith("/")) {
          rel = rel.substring(0, rel.length() - 1); // toUri marks directories with a slash
        }
        EntryPath path = EntryPath.normalize(percentDecodeBytes(rel));
        Map<String, Object> a = Files.readAttributes(p, "unix:*", LinkOption.NOFOLLOW_LINKS);
        int mode = (Integer) a.get("mode");
        EntryType type = switch (mode & 0170000) {
          case 0100000 -> EntryType.FILE;
          case 0040000 -> EntryType.DIRECTORY;
          case 0120000 -> EntryType.SYMLINK;
          case 0020000 -> EntryType.CHAR_DEVICE;
          case 0060000 -> EntryType.BLOCK_DEVICE;
          case 0010000 -> EntryType.FIFO;
          default -> throw new AssertionError(String.format("unsupported file type %o at %s", mode, p));
        };
        long rdev = (Long) a.get("rdev");
        // Linux dev_t encoding (glibc gnu_dev_major/minor).
        int major = (int) (((rdev >>> 8) & 0xfff) | ((rdev >>> 32) & ~0xfffL));
        int minor = (int) ((rdev & 0xff) | ((rdev >>> 12) & ~0xffL));
        Instant mtime = ((FileTime) a.get("lastModifiedTime")).toInstant();
        Digested content = null;
        if (type == EntryType.FILE) {
          try (InputStream in = Files.newInputStream(p)) {
            content = digest(in);
          }
        }
        byte[] target = null;
        if (type == EntryType.SYMLINK) {
          target = symlinks.get(path);
          if (target == null) {
            throw new AssertionError("find did not report symlink " + path);
          }
        }
        Object key = type != EntryType.DIRECTORY && (Integer) a.get("nlink") > 1
            ? a.get("dev") + ":" + a.get("ino") : null;
        b.add(path, new Node(type, mode, ((Integer) a.get("uid")).longValue(), ((Integer) a.get("gid")).longValue(),
            mtime.getEpochSecond(), mtime.getNano(), content == null ? 0 : content.size(),
            content == null ? null : content.sha256(), target, major, minor,
            xattrs.getOrDefault(path, Map.of())), key);
      }
    });
    return b.build();
  }

  private static void addLink(Builder b, EntryPath path, EntryPath target) {
    if (!b.has(target)) {
      throw new AssertionError("hard link " + path + " to " + target + ", which has not appeared before it");
    }
    b.add(path, b.get(target), b.inodeKey(target));
  }

  static Node nodeOf(EntryHeader h, Digested content) {
    return new Node(h.type(), h.mode(), h.uid(), h.gid(), h.mtimeSeconds(), h.mtimeNanos(),
        content == null ? 0 : content.size(), content == null ? null : content.sha256(), h.symlinkTarget(),
        h.devMajor(), h.devMinor(), h.xattrs());
  }

  // ---------------------------------------------------------------------------------------------
  // Reading

  public NavigableMap<EntryPath, Node> nodes() {
    return nodes;
  }

  public Set<EntryPath> paths() {
    return nodes.keySet();
  }

  public boolean has(String path) {
    return nodes.containsKey(EntryPath.of(path));
  }

  /** The node at {@code path}; fails with the listing when there is none. */
  public Node node(String path) {
    Node n = nodes.get(EntryPath.of(path));
    if (n == null) {
      throw new AssertionError("no entry " + path + " in\n" + this);
    }
    return n;
  }

  /** The set of paths sharing an inode with {@code path} (itself included). */
  public Set<EntryPath> linkGroupOf(String path) {
    Node n = node(path);
    Set<EntryPath> out = new TreeSet<>();
    if (n.linkGroup() == null) {
      out.add(EntryPath.of(path));
      return out;
    }
    nodes.forEach((p, m) -> {
      if (n.linkGroup().equals(m.linkGroup())) {
        out.add(p);
      }
    });
    return out;
  }

  /** The same snapshot without {@code path} and everything under it. */
  public FsSnapshot without(String path) {
    EntryPath cut = EntryPath.of(path);
    Builder b = builder();
    Map<EntryPath, Object> keys = new HashMap<>();
    nodes.forEach((p, n) -> {
      if (!p.equals(cut) && !p.isStrictlyUnder(cut)) {
        Object key = n.linkGroup() == null ? null : keys.computeIfAbsent(n.linkGroup(), g -> new Object());
        b.add(p, n.inGroup(null), key);
      }
    });
    return b.build();
  }

  // ---------------------------------------------------------------------------------------------
  // Comparing

  /**
   * The differences between this (expected) snapshot and {@code actual}, one line each:
   * {@code "a/b: mode expected 0755, actual 0700"}, {@code "a/c: missing"}, {@code "x: unexpected FILE"}.
   */
  public List<String> diff(FsSnapshot actual, Compare compare) {
    List<String> out = new ArrayList<>();
    Set<EntryPath> all = new TreeSet<>(nodes.keySet());
    all.addAll(actual.nodes.keySet());
    for (EntryPath p : all) {
      Node e = nodes.get(p);
      Node a = actual.nodes.get(p);
      if (a == null) {
        out.add(p + ": missing (expected " + e + ")");
      } else if (e == null) {
        out.add(p + ": unexpected " + a);
      } else {
        diffNode(p, e, a, compare, out);
      }
    }
    return out;
  }

  /** Throws an AssertionError listing every difference (and both snapshots) unless they match. */
  public void assertMatches(FsSnapshot actual, Compare compare) {
    List<String> d = diff(actual, compare);
    if (!d.isEmpty()) {
      throw new AssertionError(d.size() + " difference(s), expected vs actual:\n  " + String.join("\n  ", d)
          + "\nexpected:\n" + this + "actual:\n" + actual);
    }
  }

  private static void diffNode(EntryPath p, Node e, Node a, Compare c, List<String> out) {
    if (e.type != a.type) {
      out.add(p + ": type expected " + e.type + ", actual " + a.type);
      return;
    }
    boolean root = p.isRoot();
    boolean meta = !root || c.rootMetadata();
    if (meta && (e.type != EntryType.SYMLINK || c.symlinkModes()) && e.mode != a.mode) {
      out.add(p + String.format(": mode expected %04o, actual %04o", e.mode, a.mode));
    }
    if (meta && c.ownership() && (e.uid != a.uid || e.gid != a.gid)) {
      out.add(p + ": owner expected " + e.uid + ":" + e.gid + ", actual " + a.uid + ":" + a.gid);
    }
    if (meta && c.mtimes() && e.mtimeSeconds != a.mtimeSeconds) {
      out.add(p + ": mtime expected " + e.mtimeSeconds + ", actual " + a.mtimeSeconds);
    } else if (meta && c.mtimes() && c.mtimeNanos() && e.mtimeNanos != a.mtimeNanos) {
      out.add(p + ": mtime nanos expected " + e.mtimeNanos + ", actual " + a.mtimeNanos);
    }
    if (e.size != a.size) {
      out.add(p + ": size expected " + e.size + ", actual " + a.size);
    }
    if (!Objects.equals(e.sha256, a.sha256)) {
      out.add(p + ": content sha256 expected " + e.sha256 + ", actual " + a.sha256);
    }
    if (!Arrays.equals(e.symlinkTarget, a.symlinkTarget)) {
      out.add(p + ": symlink target expected " + e.symlinkTargetText() + ", actual " + a.symlinkTargetText());
    }
    if (e.devMajor != a.devMajor || e.devMinor != a.devMinor) {
      out.add(p + ": device expected " + e.devMajor + "," + e.devMinor + ", actual " + a.devMajor + "," + a.devMinor);
    }
    if (meta && c.xattrs()) {
      Set<String> names = new TreeSet<>(e.xattrs.keySet());
      names.addAll(a.xattrs.keySet());
      for (String n : names) {
        byte[] ev = e.xattrs.get(n);
        byte[] av = a.xattrs.get(n);
        if (!Arrays.equals(ev, av)) {
          out.add(p + ": xattr " + n + " expected " + hexOrAbsent(ev) + ", actual " + hexOrAbsent(av));
        }
      }
    }
    if (!Objects.equals(e.linkGroup, a.linkGroup)) {
      out.add(p + ": hard-link group expected " + groupText(e.linkGroup) + ", actual " + groupText(a.linkGroup));
    }
  }

  private static String groupText(EntryPath group) {
    return group == null ? "none" : "{" + group + ", ...}";
  }

  private static String hexOrAbsent(byte[] v) {
    return v == null ? "(absent)" : "0x" + HexFormat.of().formatHex(v);
  }

  static String xattrText(Map<String, byte[]> xattrs) {
    StringBuilder sb = new StringBuilder("{");
    xattrs.forEach((k, v) -> sb.append(sb.length() > 1 ? ", " : "").append(k).append("=0x")
        .append(HexFormat.of().formatHex(v)));
    return sb.append('}').toString();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof FsSnapshot && diff((FsSnapshot) o, Compare.EXACT).isEmpty();
  }

  @Override
  public int hashCode() {
    return nodes.keySet().hashCode();
  }

  /** One line per path, sorted: the listing failure messages show. */
  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder();
    nodes.forEach((p, n) -> sb.append("  ").append(p).append(": ").append(n).append('\n'));
    return sb.toString();
  }

  // ---------------------------------------------------------------------------------------------
  // Helpers

  /** Content size and hex sha256. */
  public record Digested(long size, String sha256) {}

  public static Digested digest(InputStream in) throws IOException {
    MessageDigest md = sha256();
    long n = 0;
    byte[] buf = new byte[8192];
    try (DigestInputStream d = new DigestInputStream(nonClosing(in), md)) {
      int r;
      while ((r = d.read(buf)) > 0) {
        n += r;
      }
    }
    return new Digested(n, HexFormat.of().formatHex(md.digest()));
  }

  public static String sha256Hex(byte[] content) {
    return HexFormat.of().formatHex(sha256().digest(content));
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static InputStream nonClosing(InputStream in) {
    return new java.io.FilterInputStream(in) {
      @Override
      public void close() {
        // the caller owns the stream (a tar reader's entry stream must stay open)
      }
    };
  }

  private static String percentDecode(String s) {
    return new String(percentDecodeBytes(s), StandardCharsets.UTF_8);
  }

  private static byte[] percentDecodeBytes(String s) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    byte[] raw = s.getBytes(StandardCharsets.UTF_8);
    for (int i = 0; i < raw.length; i++) {
      if (raw[i] == '%' && i + 2 < raw.length) {
        out.write(Character.digit(raw[i + 1], 16) << 4 | Character.digit(raw[i + 2], 16));
        i += 2;
      } else {
        out.write(raw[i]);
      }
    }
    return out.toByteArray();
  }

  /** Raw relative path bytes -> target bytes, for every symlink under {@code top}. */
  private static Map<EntryPath, byte[]> symlinkTargets(Path top) throws IOException {
    byte[] out = run(top, List.of("find", ".", "-mindepth", "1", "-type", "l", "-printf", "%P\\0%l\\0"));
    Map<EntryPath, byte[]> targets = new HashMap<>();
    List<byte[]> fields = split(out, (byte) 0);
    for (int i = 0; i + 1 < fields.size(); i += 2) {
      targets.put(EntryPath.normalize(fields.get(i)), fields.get(i + 1));
    }
    return targets;
  }

  /** Parses {@code getfattr -h -R -d -m - -e hex .}: "# file: NAME" then "key=0xHEX" lines. */
  private static Map<EntryPath, Map<String, byte[]>> getfattr(Path top) throws IOException {
    byte[] out = run(top, List.of("getfattr", "-h", "-R", "-d", "-m", "-", "-e", "hex", "."));
    Map<EntryPath, Map<String, byte[]>> result = new HashMap<>();
    Map<String, byte[]> current = null;
    for (byte[] line : split(out, (byte) '\n')) {
      String text = new String(line, StandardCharsets.ISO_8859_1);
      if (text.startsWith("# file: ")) {
        byte[] name = unescapeOctal(Arrays.copyOfRange(line, "# file: ".length(), line.length));
        current = new TreeMap<>();
        result.put(EntryPath.normalize(name), current);
      } else if (!text.isEmpty() && current != null) {
        int eq = text.indexOf('=');
        String key = new String(unescapeOctal(line), StandardCharsets.UTF_8);
        if (eq < 0) {
          current.put(key, new byte[0]);
        } else {
          key = new String(unescapeOctal(Arrays.copyOf(line, eq)), StandardCharsets.UTF_8);
          String value = text.substring(eq + 1);
          current.put(key, value.startsWith("0x") ? HexFormat.of().parseHex(value.substring(2))
              : value.getBytes(StandardCharsets.ISO_8859_1));
        }
      }
    }
    return result;
  }

  /** getfattr escapes awkward bytes of names as backslash and three octal digits. */
  private static byte[] unescapeOctal(byte[] s) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (int i = 0; i < s.length; i++) {
      if (s[i] == '\\' && isOctal(s, i + 1, 3)) {
        out.write(((s[i + 1] - '0') << 6) | ((s[i + 2] - '0') << 3) | (s[i + 3] - '0'));
        i += 3;
      } else {
        out.write(s[i]);
      }
    }
    return out.toByteArray();
  }

  private static boolean isOctal(byte[] s, int from, int n) {
    if (from + n > s.length) {
      return false;
    }
    for (int i = from; i < from + n; i++) {
      if (s[i] < '0' || s[i] > '7') {
        return false;
      }
    }
    return true;
  }

  private static List<byte[]> split(byte[] data, byte sep) {
    List<byte[]> out = new ArrayList<>();
    int start = 0;
    for (int i = 0; i < data.length; i++) {
      if (data[i] == sep) {
        out.add(Arrays.copyOfRange(data, start, i));
        start = i + 1;
      }
    }
    if (start < data.length) {
      out.add(Arrays.copyOfRange(data, start, data.length));
    }
    return out;
  }

  private static byte[] run(Path dir, List<String> command) throws IOException {
    Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(false).start();
    p.getOutputStream().close();
    byte[] out;
    byte[] err;
    try (InputStream o = p.getInputStream(); InputStream e = p.getErrorStream()) {
      out = o.readAllBytes();
      err = e.readAllBytes();
    }
    try {
      if (!p.waitFor(60, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new IOException("timed out: " + command);
      }
    } catch (InterruptedException ex) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted: " + command, ex);
    }
    if (p.exitValue() != 0) {
      throw new IOException(command + " in " + dir + " exited " + p.exitValue() + ": "
          + new String(err, StandardCharsets.UTF_8));
    }
    return out;
  }
}
