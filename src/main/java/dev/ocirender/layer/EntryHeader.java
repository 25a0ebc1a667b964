package dev.ocirender.layer;

import java.util.Arrays;
import java.util.Collections;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * The metadata of one filesystem entry, as read from a layer and as handed to an output.
 *
 * <p>Immutable. Content is not part of the header: a {@link EntryType#FILE} entry's bytes travel as
 * a stream beside it, exactly {@link #size()} long (sparse files arrive expanded). Symlink targets
 * are raw bytes, never normalised; hard-link targets are normalised paths within the image.
 * Extended attributes keep binary values (e.g. {@code security.capability}) byte-exact.
 */
public final class EntryHeader {

  /** Permission bits plus setuid, setgid and sticky. */
  public static final int MODE_MASK = 07777;

  private final EntryType type;
  private final EntryPath path;
  private final int mode;
  private final long uid;
  private final long gid;
  private final String userName;
  private final String groupName;
  private final long mtimeSeconds;
  private final int mtimeNanos;
  private final long size;
  private final EntryPath linkTarget;
  private final byte[] symlinkTarget;
  private final int devMajor;
  private final int devMinor;
  private final Map<String, byte[]> xattrs;

  private EntryHeader(Builder b) {
    this.type = Objects.requireNonNull(b.type, "type");
    this.path = Objects.requireNonNull(b.path, "path");
    this.mode = b.mode & MODE_MASK;
    this.uid = b.uid;
    this.gid = b.gid;
    this.userName = b.userName == null ? "" : b.userName;
    this.groupName = b.groupName == null ? "" : b.groupName;
    this.mtimeSeconds = b.mtimeSeconds;
    this.mtimeNanos = b.mtimeNanos;
    this.size = b.type == EntryType.FILE ? b.size : 0;
    this.linkTarget = b.type == EntryType.HARDLINK ? Objects.requireNonNull(b.linkTarget, "linkTarget") : null;
    this.symlinkTarget = b.type == EntryType.SYMLINK ? Objects.requireNonNull(b.symlinkTarget, "symlinkTarget") : null;
    this.devMajor = b.devMajor;
    this.devMinor = b.devMinor;
    this.xattrs = b.xattrs.isEmpty() ? Collections.emptyMap() : Collections.unmodifiableMap(new TreeMap<>(b.xattrs));
  }

  public static Builder builder(EntryType type, EntryPath path) {
    return new Builder(type, path);
  }

  public Builder toBuilder() {
    Builder b = new Builder(type, path);
    b.mode = mode;
    b.uid = uid;
    b.gid = gid;
    b.userName = userName;
    b.groupName = groupName;
    b.mtimeSeconds = mtimeSeconds;
    b.mtimeNanos = mtimeNanos;
    b.size = size;
    b.linkTarget = linkTarget;
    b.symlinkTarget = symlinkTarget;
    b.devMajor = devMajor;
    b.devMinor = devMinor;
    b.xattrs.putAll(xattrs);
    return b;
  }

  public EntryType type() {
    return type;
  }

  public EntryPath path() {
    return path;
  }

  /** The 12 mode bits (permissions, setuid, setgid, sticky); the file type is {@link #type()}. */
  public int mode() {
    return mode;
  }

  public long uid() {
    return uid;
  }

  public long gid() {
    return gid;
  }

  public String userName() {
    return userName;
  }

  public String groupName() {
    return groupName;
  }

  public long mtimeSeconds() {
    return mtimeSeconds;
  }

  public int mtimeNanos() {
    return mtimeNanos;
  }

  /** Content length for regular files; 0 for every other type. */
  public long size() {
    return size;
  }

  /** For {@link EntryType#HARDLINK}: the path of the inode's earlier entry; otherwise null. */
  public EntryPath linkTarget() {
    return linkTarget;
  }

  /** For {@link EntryType#SYMLINK}: the raw target bytes; otherwise null. Callers must not modify. */
  public byte[] symlinkTarget() {
    return symlinkTarget;
  }

  public int devMajor() {
    return devMajor;
  }

  public int devMinor() {
    return devMinor;
  }

  /** Extended attributes, sorted by name; values are raw bytes. Callers must not modify values. */
  public Map<String, byte[]> xattrs() {
    return xattrs;
  }

  @Override
  public String toString() {
    return type + " " + path + String.format(" mode=%04o uid=%d gid=%d", mode, uid, gid)
        + (type == EntryType.FILE ? " size=" + size : "")
        + (linkTarget != null ? " -> " + linkTarget : "")
        + (symlinkTarget != null ? " -> " + EntryPath.display(symlinkTarget) : "");
  }

  /** Equality of every metadata field, xattr values compared by content. */
  public boolean sameMetadata(EntryHeader o) {
    if (type != o.type || !path.equals(o.path) || mode != o.mode || uid != o.uid || gid != o.gid
        || !userName.equals(o.userName) || !groupName.equals(o.groupName)
        || mtimeSeconds != o.mtimeSeconds || mtimeNanos != o.mtimeNanos || size != o.size
        || !Objects.equals(linkTarget, o.linkTarget) || !Arrays.equals(symlinkTarget, o.symlinkTarget)
        || devMajor != o.devMajor || devMinor != o.devMinor || xattrs.size() != o.xattrs.size()) {
      return false;
    }
    for (Map.Entry<String, byte[]> e : xattrs.entrySet()) {
      if (!Arrays.equals(e.getValue(), o.xattrs.get(e.getKey()))) {
        return false;
      }
    }
    return true;
  }

  /** Builds headers; every field but type and path has a neutral default (0, empty). */
  public static final class Builder {
    private EntryType type;
    private EntryPath path;
    private int mode;
    private long uid;
    private long gid;
    private String userName;
    private String groupName;
    private long mtimeSeconds;
    private int mtimeNanos;
    private long size;
    private EntryPath linkTarget;
    private byte[] symlinkTarget;
    private int devMajor;
    private int devMinor;
    private final Map<String, byte[]> xattrs = new TreeMap<>();

    private Builder(EntryType type, EntryPath path) {
      this.type = type;
      this.path = path;
    }

    public Builder type(EntryType v) { this.type = v; return this; }
    public Builder path(EntryPath v) { this.path = v; return this; }
    public Builder mode(int v) { this.mode = v; return this; }
    public Builder uid(long v) { this.uid = v; return this; }
    public Builder gid(long v) { this.gid = v; return this; }
    public Builder userName(String v) { this.userName = v; return this; }
    public Builder groupName(String v) { this.groupName = v; return this; }
    public Builder mtime(long seconds, int nanos) { this.mtimeSeconds = seconds; this.mtimeNanos = nanos; return this; }
    public Builder size(long v) { this.size = v; return this; }
    public Builder linkTarget(EntryPath v) { this.linkTarget = v; return this; }
    public Builder symlinkTarget(byte[] v) { this.symlinkTarget = v; return this; }
    public Builder device(int major, int minor) { this.devMajor = major; this.devMinor = minor; return this; }
    public Builder xattr(String name, byte[] value) { this.xattrs.put(name, value); return this; }
    public Builder clearXattrs() { this.xattrs.clear(); return this; }

    public EntryHeader build() {
      return new EntryHeader(this);
    }
  }
}
