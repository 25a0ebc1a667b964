package dev.ocirender.output.dir;

import dev.ocirender.io.NativePaths;
import dev.ocirender.io.TempNames;
import dev.ocirender.layer.EntryHeader;
import dev.ocirender.layer.EntryPath;
import dev.ocirender.layer.EntryType;
import dev.ocirender.output.BackgroundEntrySink;
import dev.ocirender.output.ContentOrigin;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Writes the merged filesystem as a root filesystem under an existing, empty directory: what
 * {@code umoci raw unpack} produces, without ever touching anything outside that directory.
 *
 * <p><b>Safety.</b> Images are untrusted; a symlink they plant ({@code etc -> /},
 * {@code a -> ../../..}) must never be followed. The sink does not resolve or inspect paths as
 * strings. Instead it keeps, in memory, the set of directories it created itself with
 * {@code mkdir(2)} (which never follows a symlink in its last component), and it creates every entry
 * only inside such a directory. So every parent of every path it touches is a real directory it
 * made, not something the image planted, and the last component is created with an exclusive
 * operation that fails on anything already there, symlink included ({@code O_CREAT|O_EXCL},
 * {@code mkdir}, {@code symlink}, {@code link}, {@code mknod}, {@code rename} onto a free name). A
 * path whose parent is not one of those directories (a symlink, a file) is refused with an error,
 * as are names with empty, {@code .} or {@code ..} components and hard links to anything but an
 * earlier non-directory inside the root. This holds because nothing else writes into the directory
 * while the sink works: {@link dev.ocirender.render.DirectoryRenderTarget} gives it a fresh 0700
 * staging directory.
 *
 * <p><b>Two ways to make the calls.</b> On Linux (x86-64, aarch64) the sink calls the kernel
 * directly through {@link LinuxFs} (JNA): every entry is made with an {@code *at} call on its raw
 * name bytes relative to its parent's descriptor, opened with {@code O_DIRECTORY|O_NOFOLLOW} from
 * the grandparent's descriptor, down from the root (a bounded set stays open, least recently used
 * closed first); files get owner, xattrs, mode and times on their own descriptor, symlinks and
 * nodes with {@code AT_SYMLINK_NOFOLLOW}, and only {@code lsetxattr} (no descriptor form) takes an
 * absolute path. No process is started. Where JNA or those calls are not available (or with
 * {@code -Docirender.dir.noNative=true}) the fallback does the same through Java's path API
 * (absolute paths; no-follow variants {@code lchown}, fd-based {@code fchmod}/{@code futimens} on an
 * {@code O_NOFOLLOW} open, {@code lutimes}) and, for what Java cannot do, batched tool processes
 * ({@link NativeTools}: {@code setfattr -h}, {@code touch -h}, {@code mknod}, {@code ln -s}). We chose
 * raw {@code *at} calls over a {@code SecureDirectoryStream} because that API cannot create
 * directories, symlinks, hard links or nodes.
 *
 * <p><b>Order.</b> The merge delivers regular files as layers stream and directories at the end,
 * so children often come before their parent's entry. Missing parents are made as 0700
 * placeholders; a directory entry only records its metadata. At {@link #finish()} directory
 * metadata is applied children first, so each directory keeps its own mtime (creating a child
 * changes it) and a read-only directory (0555) is locked only after everything inside it is done.
 *
 * <p><b>Metadata.</b> All 12 mode bits (chmod after chown, since chown clears setuid), mtimes with
 * nanoseconds (symlinks, FIFOs and device nodes included), numeric uid/gid, xattrs of every
 * namespace with binary values, hard links as real hard links, FIFOs and device nodes. Privileged
 * (root) vs rootless, like {@code umoci --rootless}: rootless skips ownership, device nodes and
 * {@code security.*}/{@code trusted.*} xattrs, counting what it skipped in {@link #stats()}.
 *
 * <p>Deliberately not done here: publishing (the staging directory is renamed into place by
 * {@link dev.ocirender.render.DirectoryRenderTarget}), deleting after a failure (same), fsync: like
 * umoci, the output is as durable as any unsynced write (a rootfs is rebuilt after a crash, not
 * recovered; the caller runs {@code sync} if it needs more), and replacing duplicates: the merge delivers each
 * path once, so a second entry for a path is an error, not an overwrite.
 *
 * <p><b>Two writer threads.</b> Most of a render's kernel time is the creation of inodes (on a
 * journal-less ext4, mostly the allocator's scan past recently freed inodes, see BENCHMARKS.md),
 * which can run on two cores when two threads create entries in different directories. So with
 * direct calls the sink can be written through several lanes at once ({@link BackgroundEntrySink.Lanes},
 * one thread each): {@link #lane} spreads entries by their parent directory (all entries of one
 * directory on one lane, where the kernel serialises their creation anyway). What one thread did by
 * doing things in order, the lanes do by waiting for each other where it matters:
 * <ul>
 *   <li>Every directory, placeholder or not, is made exactly once by whichever lane needs it first,
 *       under that directory's lock; its metadata is still applied at {@link #finish()}, after all
 *       lanes ended.
 *   <li>A non-directory entry is "in flight" from the moment it is routed until its lane has made
 *       it. Making a directory at a path, and a hard link to a path, first wait until no earlier
 *       entry for that path is in flight: the link finds its target, and a directory made for a
 *       later entry below a file fails as it would have in order.
 *   <li>The routing (on the merge thread, in order) refuses a non-directory at a path that an
 *       earlier entry already needs as a directory, the failure that one thread would have had.
 * </ul>
 * Every wait is for an entry earlier in the merge's order, and each lane works in that order, so
 * the earliest unfinished entry never waits: lanes cannot deadlock, and {@link #stop()} ends any
 * wait when the render fails. Each lane keeps its own directory descriptors, buffers and counts.
 * The first {@value #FIRST_LANE_ENTRIES} entries all go to the first lane, so a small render (and
 * a render that fails early) behaves exactly as with one writer. The fallback (no direct calls) and
 * {@link #accept(EntryHeader, InputStream)} are one lane and not thread-safe.
 */
public final class DirectoryEntrySink implements BackgroundEntrySink.Lanes {

  /**
   * How the sink may use the machine.
   *
   * @param privileged whether to write ownership, device nodes and privileged xattrs (root)
   * @param directCalls whether to make the Linux calls of {@link LinuxFs} directly (when they could
   *     be bound) rather than through Java's path API and external tools
   */
  public record Options(boolean privileged, boolean directCalls) {
    /** Privileged when running as root (uid 0), like umoci's default vs {@code --rootless}. */
    public static Options detect() {
      return new Options(isRoot(), true);
    }

    public static Options rootless() {
      return new Options(false, true);
    }

    /** The same, through Java's path API and external tools even where direct calls are bound. */
    public Options withoutDirectCalls() {
      return new Options(privileged, false);
    }
  }

  /** Why direct Linux calls are not used on this machine, or null when they are. */
  public static String directCallsUnavailable() {
    return LinuxFs.failure();
  }

  private static final FileAttribute<?> PLACEHOLDER_DIR = PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------"));
  private static final FileAttribute<?> NEW_FILE = PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------"));
  private static final LinkOption NOFOLLOW = LinkOption.NOFOLLOW_LINKS;

  /**
   * A directory this sink makes; {@code header} is null while it is only a placeholder. It is in
   * {@link #dirs} from the moment a lane needs it, {@code made} once mkdir succeeded (under its
   * lock). With direct calls, {@code fds[lane]} is its open descriptor in that lane while it is in
   * the lane's {@code openDirs}, else -1.
   */
  private static final class Dir {
    final Path path;
    final Dir parent;
    /** Its name in {@code parent}, NUL-terminated (direct calls only). */
    final byte[] cName;
    final EntryPath entry;
    /** Set under the Dir's lock; read at finish, after every lane ended. */
    EntryHeader header;
    volatile boolean made;
    /** Why mkdir failed (under the Dir's lock), for lanes that were waiting to make it too. */
    IOException broken;
    final int[] fds;

    Dir(Path path, Dir parent, byte[] name, EntryPath entry, int lanes) {
      this.path = path;
      this.parent = parent;
      this.cName = name == null ? null : LinuxFs.c(name);
      this.entry = entry;
      this.fds = new int[lanes];
      Arrays.fill(fds, -1);
    }
  }

  /** What one lane (writer thread) uses alone: descriptors, buffers, counts. */
  private static final class Lane {
    final int index;
    /** Open directory descriptors, least recently used first; the root's stays open outside it. */
    final java.util.LinkedHashMap<Dir, Dir> openDirs = new java.util.LinkedHashMap<>(OPEN_DIRS * 2, 0.75f, true);
    final byte[] buffer = new byte[1 << 17];
    /** Staging for content on its way to pwrite (direct calls only). */
    final com.sun.jna.Memory nativeBuffer;
    long files;
    long directories;
    long symlinks;
    long hardLinks;
    long fifos;
    long devices;
    long contentBytes;
    long xattrs;
    long skippedDevices;
    long skippedXattrs;

    Lane(int index, boolean direct) {
      this.index = index;
      this.nativeBuffer = direct ? new com.sun.jna.Memory(buffer.length) : null;
    }
  }

  /**
   * Entries routed to the first lane before the others get any: a render this small, or one that
   * fails this early, runs exactly as with one writer.
   */
  public static final int FIRST_LANE_ENTRIES = 8192;

  /** How many directory descriptors stay open at most (most recently used first). */
  static final int OPEN_DIRS = 128;

  private final Path root;
  /** Length of the root's absolute path, for the PATH_MAX check. */
  private final int rootBytes;
  private final boolean privileged;
  /** Linux calls on descriptors (LinuxFs) rather than Java paths and tools (NativeTools). */
  private final boolean direct;
  /** The root's bytes with a trailing slash, for the few calls that only exist by path (lsetxattr). */
  private final byte[] rootSlash;
  private final Lane[] lanes;
  /** The first lane: the fallback's, and {@link #accept(EntryHeader, InputStream)}'s. */
  private final Lane one;
  private final int firstLaneEntries;
  private final Map<EntryPath, Dir> dirs = new ConcurrentHashMap<>();
  private final Set<EntryPath> skippedNodes = ConcurrentHashMap.newKeySet();
  /** Non-directory entries routed but not yet made, by path: the sequence number of the earliest (several lanes only). */
  private final Map<EntryPath, Long> inFlight = new ConcurrentHashMap<>();
  /** Directories that entries routed so far need or are (merge thread only; several lanes only). */
  private final Set<EntryPath> claimedDirs = new HashSet<>();
  /** Lanes waiting in {@link #awaitEarlier}; they wait on {@code inFlight}'s monitor. */
  private final java.util.concurrent.atomic.AtomicInteger waiting = new java.util.concurrent.atomic.AtomicInteger();
  private volatile boolean stopped;
  /** getfattr --dump text for every xattr, applied in one setfattr process at finish. */
  private final ByteArrayOutputStream xattrDump = new ByteArrayOutputStream();
  /** Files with xattrs: their mode is set only after the xattrs (a read-only file refuses user.*). */
  private final Map<Path, Integer> modesAfterXattrs = new HashMap<>();
  /** touch -h date -> paths: times Java cannot set without opening (FIFOs, devices) or exactly (symlink nanos). */
  private final Map<String, NativeTools.NulList> touchLater = new TreeMap<>();
  private final String tempPrefix = ".ocirender-node-" + TempNames.randomSuffix() + "-";
  private int tempCounter;
  private volatile boolean finished;
  private volatile boolean closed;

  /**
   * @param root an existing empty directory that nothing else writes to while the sink works; it
   *     becomes the image's root directory (its metadata is the root entry's)
   */
  public DirectoryEntrySink(Path root, Options options) throws IOException {
    this(root, options, 1, 0);
  }

  /**
   * @param root as above
   * @param lanes how many threads may write the sink at once ({@link BackgroundEntrySink.Lanes});
   *     1 without direct calls
   * @param firstLaneEntries how many entries go to the first lane before the others get any
   *     ({@link #FIRST_LANE_ENTRIES} by default)
   */
  public DirectoryEntrySink(Path root, Options options, int lanes, int firstLaneEntries) throws IOException {
    if (lanes < 1 || firstLaneEntries < 0) {
      throw new IllegalArgumentException("lanes " + lanes + ", first-lane entries " + firstLaneEntries);
    }
    BasicFileAttributes a = Files.readAttributes(root, BasicFileAttributes.class, NOFOLLOW);
    if (!a.isDirectory()) {
      throw new IOException("cannot render into " + root + ": not a directory");
    }
    this.root = root.toAbsolutePath();
    this.rootBytes = this.root.toString().getBytes(StandardCharsets.UTF_8).length;
    this.privileged = options.privileged();
    this.direct = options.directCalls() && LinuxFs.available();
    byte[] rootBytes = NativePaths.rawBytes(this.root);
    this.rootSlash = Arrays.copyOf(rootBytes, rootBytes.length + 1);
    rootSlash[rootBytes.length] = '/';
    this.lanes = new Lane[direct ? lanes : 1];
    for (int i = 0; i < this.lanes.length; i++) {
      this.lanes[i] = new Lane(i, direct);
    }
    this.one = this.lanes[0];
    this.firstLaneEntries = firstLaneEntries;
    // Until finish, the root is 0700 and (as root) owned by 0:0: no setgid bit to pass a group on to
    // new children, so everything we create starts as 0:0 and needs a chown only when the image
    // says otherwise.
    Files.setAttribute(this.root, "unix:mode", 0700, NOFOLLOW);
    if (privileged) {
      chown(this.root, 0, 0, true);
    }
    Dir top = new Dir(this.root, null, null, EntryPath.ROOT, this.lanes.length);
    if (direct) {
      // The root by its absolute path, once; everything below is reached through descriptors. All
      // lanes share this descriptor (it is only closed at the end).
      Arrays.fill(top.fds, LinuxFs.openDirectory(LinuxFs.AT_FDCWD, LinuxFs.c(rootBytes), this.root));
    }
    top.made = true;
    dirs.put(EntryPath.ROOT, top);
    claimedDirs.add(EntryPath.ROOT);
  }

  /** The directory being written. */
  public Path root() {
    return root;
  }

  /** One lane, on the caller's thread (not to be mixed with the lanes of a {@link BackgroundEntrySink}). */
  @Override
  public void accept(EntryHeader h, InputStream content) throws IOException {
    write(one, Long.MAX_VALUE, h, content);
  }

  @Override
  public int lanes() {
    return lanes.length;
  }

  /**
   * Merge thread, in order: the first {@link #FIRST_LANE_ENTRIES} entries to the first lane, then
   * by the parent directory's hash. Records which directories the entry needs and, for a
   * non-directory, that it is in flight; refuses a non-directory where an earlier entry needs a
   * directory.
   */
  @Override
  public int lane(EntryHeader h, long sequence) throws IOException {
    if (lanes.length == 1) {
      return 0;
    }
    EntryPath path = h.path();
    if (h.type() == EntryType.DIRECTORY) {
      claimedDirs.add(path);
    } else {
      if (claimedDirs.contains(path)) {
        throw new IOException(path + ": already exists in the output (a path may arrive only once, and never below a non-directory)");
      }
      inFlight.putIfAbsent(path, sequence);
    }
    EntryPath parent = path.isRoot() ? path : path.parent();
    for (EntryPath p = parent; claimedDirs.add(p); p = p.parent()) {
      // the root is claimed from the start, so this ends there at the latest
    }
    return sequence < firstLaneEntries ? 0 : laneOf(parent, lanes.length);
  }

  /** The lane of the entries in directory {@code parent}, past the first lane's entries. */
  static int laneOf(EntryPath parent, int lanes) {
    // Spread the hash's high bits too: names in one tree share long prefixes.
    int hash = parent.hashCode() * 0x9E3779B9;
    return Math.floorMod(hash ^ (hash >>> 16), lanes);
  }

  @Override
  public void accept(int lane, long sequence, EntryHeader header, InputStream content, ContentOrigin origin) throws IOException {
    write(lanes[lane], sequence, header, content);
  }

  @Override
  public void stop() {
    stopped = true;
    if (waiting.get() > 0) {
      synchronized (inFlight) {
        inFlight.notifyAll();
      }
    }
  }

  private void write(Lane L, long sequence, EntryHeader h, InputStream content) throws IOException {
    if (finished || closed) {
      throw new IllegalStateException("entry after " + (closed ? "close" : "finish") + ": " + h.path());
    }
    EntryPath path = h.path();
    try {
      checkName(path, "path");
      checkPathMax(path);
      if (lanes.length > 1 && h.type() != EntryType.DIRECTORY) {
        awaitEarlier(path, sequence); // a duplicate path: the earlier entry first, as in order
      }
      switch (h.type()) {
        case DIRECTORY -> directory(L, sequence, h);
        case FILE -> file(L, sequence, h, content);
        case SYMLINK -> symlink(L, sequence, h);
        case HARDLINK -> hardLink(L, sequence, h);
        case FIFO, CHAR_DEVICE, BLOCK_DEVICE -> node(L, sequence, h);
      }
    } catch (FileAlreadyExistsException e) {
      throw new IOException(path + ": already exists in the output (a path may arrive only once, and never below a non-directory)", e);
    } finally {
      if (lanes.length > 1 && h.type() != EntryType.DIRECTORY && inFlight.remove(path, sequence) && waiting.get() > 0) {
        synchronized (inFlight) {
          inFlight.notifyAll();
        }
      }
    }
  }

  /**
   * Waits until no non-directory entry for {@code path} that came before entry {@code sequence}
   * is in flight on another lane (several lanes only). Such an entry is always earlier in the
   * merge's order, and lanes work in that order, so the wait ends; {@link #stop()} ends it too.
   */
  private void awaitEarlier(EntryPath path, long sequence) throws IOException {
    Long earlier = inFlight.get(path);
    if (earlier == null || earlier >= sequence) {
      return;
    }
    waiting.incrementAndGet();
    try {
      synchronized (inFlight) {
        while ((earlier = inFlight.get(path)) != null && earlier < sequence) {
          if (stopped) {
            throw new IOException(path + ": the render stopped while this entry waited for an earlier one");
          }
          inFlight.wait(50); // timed: re-checks stopped even if a notify is missed
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new java.io.InterruptedIOException("interrupted while " + path + " waited for an earlier entry");
    } finally {
      waiting.decrementAndGet();
    }
  }

  private void directory(Lane L, long sequence, EntryHeader h) throws IOException {
    EntryPath path = h.path();
    Dir d = dirs.get(path);
    if (d == null) {
      Dir parent = ensureDirectory(L, sequence, path.parent());
      d = claim(sequence, parent, path);
    }
    synchronized (d) {
      if (d.header != null) {
        throw new IOException(h.path() + ": directory arrived twice");
      }
      d.header = h; // possibly a placeholder made for earlier children
    }
    make(L, sequence, d); // made by now, or made here
    L.directories++;
    if (!direct) {
      queueXattrs(L, h); // applied at finish, before the directory's mode could lock it
    }
  }

  private void file(Lane L, long sequence, EntryHeader h, InputStream content) throws IOException {
    if (direct) {
      directFile(L, sequence, h, content);
      return;
    }
    byte[] buffer = L.buffer;
    Path p = childOf(L, sequence, h.path());
    long written = 0;
    // CREATE_NEW is O_CREAT|O_EXCL: it fails on an existing name, a dangling symlink included.
    try (FileChannel out = FileChannel.open(p, Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE, NOFOLLOW), NEW_FILE)) {
      if (content != null) {
        int n;
        while ((n = content.read(buffer)) > 0) {
          writeSkippingHoles((off, len, at) -> {
            ByteBuffer bb = ByteBuffer.wrap(buffer, off, len);
            while (bb.hasRemaining()) {
              at += out.write(bb, at);
            }
          }, buffer, n, written);
          written += n;
        }
        if (out.size() < written) {
          // The file ends in a hole: one byte at the end gives it its length (a block at most).
          out.write(ByteBuffer.wrap(new byte[1]), written - 1);
        }
      }
    }
    if (written != h.size()) {
      throw new IOException(h.path() + ": content has " + written + " bytes, header says " + h.size());
    }
    L.files++;
    L.contentBytes += written;
    if (privileged) {
      chown(p, h.uid(), h.gid(), false);
    }
    setTimes(p, h);
    if (queueXattrs(L, h)) {
      modesAfterXattrs.put(p, h.mode());
    } else {
      Files.setAttribute(p, "unix:mode", h.mode(), NOFOLLOW);
    }
  }

  /**
   * A regular file through descriptors: created exclusively in its parent's descriptor, written
   * with pwrite (holes left out), then owner, xattrs, mode and times on the same descriptor, in
   * that order: chown clears setuid bits and file capabilities, and a read-only mode would refuse
   * {@code user.*} xattrs to a rootless writer.
   */
  private void directFile(Lane L, long sequence, EntryHeader h, InputStream content) throws IOException {
    Dir parent = parentOf(L, sequence, h.path());
    int fd = LinuxFs.createFile(dirFd(L, parent), LinuxFs.c(h.path().name()), 0600, h.path());
    byte[] buffer = L.buffer;
    com.sun.jna.Memory nativeBuffer = L.nativeBuffer;
    long written = 0;
    try {
      long[] end = {0};
      if (content != null) {
        int n;
        while ((n = content.read(buffer)) > 0) {
          long base = written;
          writeSkippingHoles((off, len, at) -> {
            nativeBuffer.write(0, buffer, off, len);
            LinuxFs.pwriteFully(fd, nativeBuffer, len, at, h.path());
            end[0] = Math.max(end[0], at + len);
          }, buffer, n, base);
          written += n;
        }
        if (end[0] < written) {
          // The file ends in a hole: its length, without writing a block.
          LinuxFs.ftruncate(fd, written, h.path());
        }
      }
      if (written != h.size()) {
        throw new IOException(h.path() + ": content has " + written + " bytes, header says " + h.size());
      }
      if (privileged && (h.uid() != 0 || h.gid() != 0)) {
        LinuxFs.fchown(fd, h.uid(), h.gid(), h.path());
      }
      for (Map.Entry<String, byte[]> x : xattrsToWrite(L, h)) {
        LinuxFs.fsetxattr(fd, x.getKey(), x.getValue(), h.path());
      }
      LinuxFs.fchmod(fd, h.mode(), h.path());
      LinuxFs.futimens(fd, h.mtimeSeconds(), h.mtimeNanos(), h.path());
    } finally {
      LinuxFs.close(fd, h.path());
    }
    L.files++;
    L.contentBytes += written;
  }

  /** Where {@link #writeSkippingHoles} puts a run of bytes of the buffer. */
  private interface RunWriter {
    void write(int offset, int length, long position) throws IOException;
  }

  /** Granularity of hole detection: the usual filesystem block. */
  private static final int HOLE_BLOCK = 4096;

  /**
   * Writes {@code n} bytes of content that belong at {@code position}, leaving every whole
   * all-zero block unwritten, so a sparse file (or any run of zeros) stays a hole on disk instead
   * of costing its expanded size, as {@code cp --sparse=always} does. Reads of a hole return zeros,
   * so the content is the same.
   */
  private static void writeSkippingHoles(RunWriter out, byte[] b, int n, long position) throws IOException {
    int start = 0;
    while (start < n) {
      // Find the next run of non-zero blocks [start, end); blocks are aligned to the file offset.
      int end = start;
      while (end < n) {
        int blockEnd = (int) Math.min(n, end + HOLE_BLOCK - ((position + end) % HOLE_BLOCK));
        if (isZero(b, end, blockEnd) && blockEnd - end == HOLE_BLOCK) {
          break;
        }
        end = blockEnd;
      }
      if (end > start) {
        out.write(start, end - start, position + start);
      }
      // Skip the zero blocks that follow.
      start = end;
      while (start < n) {
        int blockEnd = (int) Math.min(n, start + HOLE_BLOCK - ((position + start) % HOLE_BLOCK));
        if (blockEnd - start != HOLE_BLOCK || !isZero(b, start, blockEnd)) {
          break;
        }
        start = blockEnd;
      }
    }
  }

  private static boolean isZero(byte[] b, int from, int to) {
    return Arrays.mismatch(b, from, to, ZEROS, 0, to - from) < 0;
  }

  private static final byte[] ZEROS = new byte[HOLE_BLOCK];

  private void symlink(Lane L, long sequence, EntryHeader h) throws IOException {
    byte[] target = h.symlinkTarget();
    if (target.length == 0 || indexOf(target, (byte) 0) >= 0) {
      throw new IOException(h.path() + ": symlink target is empty or contains a NUL byte");
    }
    if (direct) {
      Dir parent = parentOf(L, sequence, h.path());
      int dirfd = dirFd(L, parent);
      byte[] name = LinuxFs.c(h.path().name());
      LinuxFs.symlink(LinuxFs.c(target), dirfd, name, h.path());
      L.symlinks++;
      nodeMetadata(L, dirfd, name, h, false);
      return;
    }
    Path p = childOf(L, sequence, h.path());
    var exact = NativePaths.exact(target);
    if (exact.isPresent()) {
      Files.createSymbolicLink(p, exact.get());
    } else {
      // A target Java cannot spell (bytes invalid in the platform charset, a trailing slash):
      // ln reads it raw from stdin, under a fresh name in the root, then it is moved into place.
      Path temp = tempName();
      NativeTools.NulList args = new NativeTools.NulList();
      args.add(target);
      args.add(root.relativize(temp).toString().getBytes(StandardCharsets.US_ASCII));
      NativeTools.run(root, List.of("xargs", "-0", "-n", "2", "ln", "-s", "-T", "--"), args.toByteArray());
      Files.move(temp, p);
    }
    L.symlinks++;
    if (privileged) {
      chown(p, h.uid(), h.gid(), false);
    }
    if (h.mtimeNanos() % 1000 == 0 && (h.mtimeSeconds() >= 0 || h.mtimeNanos() == 0)) {
      // With NOFOLLOW the JDK uses lutimes for a symlink: exact for whole microseconds (not for
      // fractional times before 1970, see setTimes).
      Files.getFileAttributeView(p, BasicFileAttributeView.class, NOFOLLOW).setTimes(mtime(h), mtime(h), null);
    } else {
      touchLater(h);
    }
    queueXattrs(L, h);
  }

  private void hardLink(Lane L, long sequence, EntryHeader h) throws IOException {
    EntryPath target = h.linkTarget();
    checkName(target, "hard-link target");
    if (lanes.length > 1) {
      awaitEarlier(target, sequence); // the target may be in flight on another lane
    }
    if (skippedNodes.contains(target)) {
      skippedNodes.add(h.path());
      L.skippedDevices++;
      return;
    }
    // The target's parent must be a directory this sink made; never look the target up through
    // anything else (a symlinked parent would lead outside the root).
    Dir parent = dirs.get(target.parent());
    if (parent == null || !parent.made || dirs.containsKey(target)) {
      throw new IOException(h.path() + ": hard link to " + target + ", which is not an earlier non-directory entry inside the root");
    }
    if (direct) {
      Dir linkParent = parentOf(L, sequence, h.path());
      // Our own descriptor of the target's directory: opening the link's may close cached ones.
      int from = LinuxFs.dup(dirFd(L, parent), target);
      try {
        LinuxFs.link(from, LinuxFs.c(target.name()), dirFd(L, linkParent), LinuxFs.c(h.path().name()), h.path());
      } catch (LinuxFs.ErrnoException e) {
        if (e.errno == LinuxFs.ENOENT) {
          throw new IOException(h.path() + ": hard link to " + target + ", which does not exist in the output", e);
        }
        if (e.errno == LinuxFs.EPERM) {
          throw new IOException(h.path() + ": hard link to " + target + ", which is a directory or may not be linked", e);
        }
        throw e;
      } finally {
        LinuxFs.close(from, target);
      }
      L.hardLinks++;
      return;
    }
    Path targetPath = NativePaths.child(parent.path, target.name());
    BasicFileAttributes a;
    try {
      a = Files.readAttributes(targetPath, BasicFileAttributes.class, NOFOLLOW);
    } catch (NoSuchFileException e) {
      throw new IOException(h.path() + ": hard link to " + target + ", which does not exist in the output", e);
    }
    if (a.isDirectory()) {
      throw new IOException(h.path() + ": hard link to directory " + target);
    }
    // link(2) on Linux never follows a symlink in its source, so a link to a symlink links the
    // symlink itself.
    Files.createLink(childOf(L, sequence, h.path()), targetPath);
    L.hardLinks++;
  }

  private void node(Lane L, long sequence, EntryHeader h) throws IOException {
    boolean device = h.type() != EntryType.FIFO;
    if (device && !privileged) {
      skippedNodes.add(h.path());
      L.skippedDevices++;
      return;
    }
    if (direct) {
      Dir parent = parentOf(L, sequence, h.path());
      int dirfd = dirFd(L, parent);
      byte[] name = LinuxFs.c(h.path().name());
      int kind = switch (h.type()) {
        case FIFO -> LinuxFs.S_IFIFO;
        case CHAR_DEVICE -> LinuxFs.S_IFCHR;
        default -> LinuxFs.S_IFBLK;
      };
      LinuxFs.mknod(dirfd, name, kind | 0600, h.devMajor(), h.devMinor(), h.path());
      if (device) {
        L.devices++;
      } else {
        L.fifos++;
      }
      nodeMetadata(L, dirfd, name, h, true);
      return;
    }
    Path p = childOf(L, sequence, h.path());
    // mknod/mkfifo get an ASCII name in the root, so no raw name has to pass through a command line;
    // rename then puts the node in place (failing if the name is taken).
    Path temp = tempName();
    String name = root.relativize(temp).toString();
    List<String> cmd = switch (h.type()) {
      case FIFO -> List.of("mkfifo", "-m", "0600", "--", name);
      case CHAR_DEVICE -> List.of("mknod", "-m", "0600", "--", name, "c", Integer.toString(h.devMajor()), Integer.toString(h.devMinor()));
      default -> List.of("mknod", "-m", "0600", "--", name, "b", Integer.toString(h.devMajor()), Integer.toString(h.devMinor()));
    };
    NativeTools.run(root, cmd, null);
    Files.move(temp, p);
    if (device) {
      L.devices++;
    } else {
      L.fifos++;
    }
    if (privileged) {
      chown(p, h.uid(), h.gid(), false);
    }
    // chmod(2) by path: the JDK's no-follow chmod opens the file, which blocks on a FIFO and would
    // open a device. The last component is the node just renamed there, inside directories this
    // sink made, so there is no symlink to follow.
    Files.setAttribute(p, "unix:mode", h.mode());
    touchLater(h);
    queueXattrs(L, h);
  }

  /**
   * Owner, mode (nodes only: Linux has no symlink modes), xattrs and times of a symlink or node just
   * made as {@code cName} in {@code dirfd}, never following it: chown and times with
   * AT_SYMLINK_NOFOLLOW, xattrs with lsetxattr. Only lsetxattr has no descriptor form, so it takes
   * the absolute path, inside directories this sink made.
   */
  private void nodeMetadata(Lane L, int dirfd, byte[] cName, EntryHeader h, boolean node) throws IOException {
    if (privileged && (h.uid() != 0 || h.gid() != 0)) {
      LinuxFs.lchown(dirfd, cName, h.uid(), h.gid(), h.path());
    }
    if (node) {
      // By name, following: the name holds the node made just now, which is no symlink.
      LinuxFs.chmodOwnNode(dirfd, cName, h.mode(), h.path());
    }
    List<Map.Entry<String, byte[]>> xs = xattrsToWrite(L, h);
    if (!xs.isEmpty()) {
      byte[] path = LinuxFs.c(concat(rootSlash, h.path().bytes()));
      for (Map.Entry<String, byte[]> x : xs) {
        LinuxFs.lsetxattr(path, x.getKey(), x.getValue(), h.path());
      }
    }
    LinuxFs.lutimens(dirfd, cName, h.mtimeSeconds(), h.mtimeNanos(), h.path());
  }

  @Override
  public void finish() throws IOException {
    if (finished || closed) {
      throw new IllegalStateException("finish() after " + (closed ? "close()" : "finish()"));
    }
    if (direct) {
      try {
        // Every lane has ended: the first one's descriptors serve, the others' are closed.
        for (int i = 1; i < lanes.length; i++) {
          closeDirs(lanes[i], false);
        }
        finishDirect(one);
      } finally {
        closeDirs();
      }
      finished = true;
      return;
    }
    if (xattrDump.size() > 0) {
      NativeTools.run(root, List.of("setfattr", "-h", "--restore=-"), xattrDump.toByteArray());
    }
    for (Map.Entry<Path, Integer> e : modesAfterXattrs.entrySet()) {
      Files.setAttribute(e.getKey(), "unix:mode", e.getValue(), NOFOLLOW);
    }
    for (Map.Entry<String, NativeTools.NulList> e : touchLater.entrySet()) {
      NativeTools.run(root, List.of("xargs", "-0", "-r", "touch", "-h", "-c", "-d", e.getKey(), "--"), e.getValue().toByteArray());
    }
    // Descendants sort after their ancestors (a path is a prefix of its children's), so the
    // reverse order finishes every child before its parent, and the root last.
    List<EntryPath> order = new ArrayList<>(dirs.keySet());
    order.sort(java.util.Comparator.reverseOrder());
    for (EntryPath p : order) {
      Dir d = dirs.get(p);
      // A parent no entry described (only a sink used without the merge sees one): like an
      // implied directory of the merge, 0755 and root-owned; its time stays as it is.
      EntryHeader h = d.header;
      if (privileged) {
        chown(d.path, h == null ? 0 : h.uid(), h == null ? 0 : h.gid(), p.isRoot());
      }
      if (h != null) {
        Files.getFileAttributeView(d.path, BasicFileAttributeView.class, NOFOLLOW).setTimes(mtime(h), mtime(h), null);
      }
      Files.setAttribute(d.path, "unix:mode", h == null ? 0755 : h.mode(), NOFOLLOW);
    }
    finished = true;
  }

  /** Directory metadata through each directory's own descriptor, children before parents. */
  private void finishDirect(Lane L) throws IOException {
    List<EntryPath> order = new ArrayList<>(dirs.keySet());
    order.sort(java.util.Comparator.reverseOrder());
    for (EntryPath p : order) {
      Dir d = dirs.get(p);
      EntryHeader h = d.header;
      int fd = dirFd(L, d);
      if (privileged && (p.isRoot() || (h != null && (h.uid() != 0 || h.gid() != 0)))) {
        LinuxFs.fchown(fd, h == null ? 0 : h.uid(), h == null ? 0 : h.gid(), p);
      }
      if (h != null) {
        for (Map.Entry<String, byte[]> x : xattrsToWrite(L, h)) {
          LinuxFs.fsetxattr(fd, x.getKey(), x.getValue(), p);
        }
        LinuxFs.futimens(fd, h.mtimeSeconds(), h.mtimeNanos(), p);
      }
      LinuxFs.fchmod(fd, h == null ? 0755 : h.mode(), p);
      if (d.fds[L.index] >= 0 && !p.isRoot()) {
        // Done with it: its children came before it.
        L.openDirs.remove(d);
        LinuxFs.close(d.fds[L.index], p);
        d.fds[L.index] = -1;
      }
    }
  }

  /** What was written and skipped; complete after {@link #finish()}. */
  public DirStats stats() {
    long[] n = new long[10];
    for (Lane L : lanes) {
      long[] own = {L.files, L.directories, L.symlinks, L.hardLinks, L.fifos, L.devices, L.contentBytes, L.xattrs,
          L.skippedDevices, L.skippedXattrs};
      for (int i = 0; i < n.length; i++) {
        n[i] += own[i];
      }
    }
    return new DirStats(privileged, n[0], n[1], n[2], n[3], n[4], n[5], n[6], n[7], n[8], n[9]);
  }

  /** Closes the directory descriptors; a partial tree is removed by whoever owns the directory. */
  @Override
  public void close() throws IOException {
    if (!closed) {
      closed = true;
      stop();
      closeDirs();
    }
  }

  /** Closes every lane's directory descriptors and the root's. */
  private void closeDirs() throws IOException {
    IOException first = null;
    for (Lane L : lanes) {
      try {
        closeDirs(L, L == one);
      } catch (IOException e) {
        first = first == null ? e : first;
      }
    }
    if (first != null) {
      throw first;
    }
  }

  /** Closes a lane's directory descriptors, and the root's (shared by all lanes) when {@code root}. */
  private void closeDirs(Lane L, boolean root) throws IOException {
    IOException first = null;
    List<Dir> open = new ArrayList<>(L.openDirs.keySet());
    L.openDirs.clear();
    Dir top = dirs.get(EntryPath.ROOT);
    if (root && top != null && top.fds[0] >= 0) {
      open.add(top);
    }
    for (Dir d : open) {
      int fd = d.fds[d == top ? 0 : L.index];
      if (fd >= 0) {
        try {
          LinuxFs.close(fd, d.entry);
        } catch (IOException e) {
          first = first == null ? e : first;
        }
        if (d == top) {
          Arrays.fill(d.fds, -1);
        } else {
          d.fds[L.index] = -1;
        }
      }
    }
    if (first != null) {
      throw first;
    }
  }

  /**
   * The open descriptor of a directory this sink made. A directory not open is opened from its
   * parent's descriptor with O_NOFOLLOW|O_DIRECTORY (and that from its parent's, as far up as
   * needed: a loop, not recursion); the least recently used is closed beyond {@link #OPEN_DIRS}.
   * The descriptor is valid until the next call.
   */
  private int dirFd(Lane L, Dir d) throws IOException {
    int lane = L.index;
    if (d.fds[lane] >= 0) {
      L.openDirs.get(d); // most recently used now (the root is not in it: no effect)
      return d.fds[lane];
    }
    ArrayDeque<Dir> closed = new ArrayDeque<>();
    Dir open = d;
    while (open.fds[lane] < 0) {
      closed.push(open);
      open = open.parent;
    }
    if (open.parent != null) {
      L.openDirs.get(open);
    }
    while (!closed.isEmpty()) {
      Dir c = closed.pop();
      c.fds[lane] = LinuxFs.openDirectory(open.fds[lane], c.cName, c.entry);
      L.openDirs.put(c, c);
      if (L.openDirs.size() > OPEN_DIRS) {
        Dir eldest = L.openDirs.keySet().iterator().next();
        L.openDirs.remove(eldest);
        LinuxFs.close(eldest.fds[lane], eldest.entry);
        eldest.fds[lane] = -1;
      }
      open = c;
    }
    return d.fds[lane];
  }

  /** The record of directory {@code path} inside {@code parent}, not yet made. */
  private Dir newDir(Dir parent, EntryPath path) {
    byte[] name = path.name();
    return new Dir(NativePaths.child(parent.path, name), parent, name, path, lanes.length);
  }

  /**
   * The record of directory {@code path}, put in {@link #dirs} if it is not there yet, but only
   * once no earlier entry for that path is in flight: the record makes a later non-directory at
   * the path fail, so it must not appear before a file that came first was made (which makes
   * mkdir fail instead, as it would have in order).
   */
  private Dir claim(long sequence, Dir parent, EntryPath path) throws IOException {
    Dir d = dirs.get(path);
    if (d != null) {
      return d;
    }
    if (lanes.length > 1) {
      awaitEarlier(path, sequence);
    }
    return dirs.computeIfAbsent(path, k -> newDir(parent, k));
  }

  /**
   * Makes directory {@code d} unless a lane did already, under the directory's lock, which nothing
   * holds while waiting for anything else. If mkdir fails, the record leaves {@link #dirs}, and
   * lanes that were waiting for it fail too.
   */
  private void make(Lane L, long sequence, Dir d) throws IOException {
    if (d.made) {
      return;
    }
    synchronized (d) {
      if (d.made) {
        return;
      }
      if (d.broken != null) {
        throw new FileAlreadyExistsException(d.entry.toString(), null, d.broken.getMessage());
      }
      try {
        if (direct) {
          // mkdirat never follows a symlink at its last component: EEXIST instead.
          LinuxFs.mkdir(dirFd(L, d.parent), d.cName, 0700, d.entry);
        } else {
          Files.createDirectory(d.path, PLACEHOLDER_DIR);
        }
      } catch (IOException e) {
        d.broken = e;
        dirs.remove(d.entry, d);
        throw e;
      }
      d.made = true;
    }
  }

  /** The directory for a new entry's parent, made with its missing parents as placeholders. */
  private Dir parentOf(Lane L, long sequence, EntryPath path) throws IOException {
    if (dirs.containsKey(path)) {
      throw new FileAlreadyExistsException(path.toString());
    }
    return ensureDirectory(L, sequence, path.parent());
  }

  /**
   * The xattrs of the entry this sink writes: all of them as root, but {@code user.*} only on files
   * and directories (Linux refuses it elsewhere) and nothing else rootless; the rest are counted as
   * skipped.
   */
  private List<Map.Entry<String, byte[]>> xattrsToWrite(Lane L, EntryHeader h) {
    if (h.xattrs().isEmpty()) {
      return List.of();
    }
    boolean fileOrDir = h.type() == EntryType.FILE || h.type() == EntryType.DIRECTORY;
    List<Map.Entry<String, byte[]>> out = new ArrayList<>();
    for (Map.Entry<String, byte[]> e : h.xattrs().entrySet()) {
      boolean user = e.getKey().startsWith("user.");
      if ((user && !fileOrDir) || (!user && !privileged)) {
        L.skippedXattrs++;
      } else {
        out.add(e);
        L.xattrs++;
      }
    }
    return out;
  }

  private static byte[] concat(byte[] a, byte[] b) {
    byte[] out = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }

  // ---------------------------------------------------------------------------------------------

  /** The path for a new entry: its parent directories are made (as placeholders) when missing. */
  private Path childOf(Lane L, long sequence, EntryPath path) throws IOException {
    return NativePaths.child(parentOf(L, sequence, path).path, path.name());
  }

  /**
   * The directory for {@code dir}, made with its missing parents as placeholders. The missing
   * parents are collected on an explicit stack, not by recursion: the image decides the depth.
   */
  private Dir ensureDirectory(Lane L, long sequence, EntryPath dir) throws IOException {
    Dir d = dirs.get(dir);
    if (d != null && d.made) {
      return d;
    }
    // Up to the nearest directory already made (the root is), then down, making each.
    ArrayDeque<EntryPath> missing = new ArrayDeque<>();
    for (EntryPath p = dir; d == null || !d.made; p = p.parent()) {
      missing.push(p);
      d = dirs.get(p.parent());
    }
    while (!missing.isEmpty()) {
      EntryPath m = missing.pop();
      d = claim(sequence, d, m);
      try {
        // mkdir(2) never follows a symlink at its last component: EEXIST instead.
        make(L, sequence, d);
      } catch (FileAlreadyExistsException e) {
        throw new IOException(m + ": is not a directory in the output (it arrived as a non-directory), "
            + "refusing to write entries below it", e);
      }
    }
    return d;
  }

  /** Linux's PATH_MAX: the longest path, with its terminating NUL, that a path syscall takes. */
  static final int PATH_MAX = 4096;

  /**
   * Refuses an entry whose absolute path Linux cannot take. The fallback works through absolute
   * paths (Java has no openat/mkdirat), and so does lsetxattr with direct calls, so a deeper tree,
   * which the tar format allows, is not written here; the tar and squashfs outputs hold it.
   */
  private void checkPathMax(EntryPath path) throws IOException {
    long length = rootBytes + 1 + path.length();
    if (length >= PATH_MAX) {
      String shown = EntryPath.display(Arrays.copyOf(path.bytes(), Math.min(path.length(), 64)));
      throw new IOException("directory output cannot hold entry '" + shown + "…' (" + path.length() + "-byte path): "
          + "it is written through absolute paths, which Linux limits to " + PATH_MAX + " bytes (PATH_MAX); "
          + "render to tar or squashfs instead");
    }
  }

  /** Rejects names the merge never produces but a crafted header could: {@code ..}, {@code .}, empty components, NUL. */
  private static void checkName(EntryPath path, String what) throws IOException {
    byte[] b = path.bytes();
    int start = 0;
    for (int i = 0; i <= b.length; i++) {
      if (i < b.length && b[i] == 0) {
        throw new IOException(what + " " + path + ": contains a NUL byte");
      }
      if (i == b.length || b[i] == '/') {
        int len = i - start;
        boolean bad = len == 0 ? b.length > 0 : (len == 1 && b[start] == '.') || (len == 2 && b[start] == '.' && b[start + 1] == '.');
        if (bad) {
          throw new IOException(what + " " + path + ": has an empty, '.' or '..' component; refusing to write outside the root");
        }
        start = i + 1;
      }
    }
  }

  /** Adds the entry's xattrs to the batch; returns whether any were queued. */
  private boolean queueXattrs(Lane L, EntryHeader h) {
    List<Map.Entry<String, byte[]>> xs = xattrsToWrite(L, h);
    if (xs.isEmpty()) {
      return false;
    }
    ByteArrayOutputStream block = new ByteArrayOutputStream();
    for (Map.Entry<String, byte[]> e : xs) {
      NativeTools.appendQuoted(block, e.getKey().getBytes(StandardCharsets.UTF_8));
      block.write('=');
      block.writeBytes(("0x" + HexFormat.of().formatHex(e.getValue())).getBytes(StandardCharsets.US_ASCII));
      block.write('\n');
    }
    xattrDump.writeBytes("# file: ".getBytes(StandardCharsets.US_ASCII));
    NativeTools.appendQuoted(xattrDump, relative(h.path()));
    xattrDump.write('\n');
    xattrDump.writeBytes(block.toByteArray());
    xattrDump.write('\n');
    return true;
  }

  private void touchLater(EntryHeader h) {
    // A signed decimal: seconds -2 plus 750000000 ns is "@-1.250000000", which touch reads exactly.
    String date = "@" + java.math.BigDecimal.valueOf(h.mtimeSeconds())
        .add(java.math.BigDecimal.valueOf(h.mtimeNanos(), 9)).setScale(9).toPlainString();
    touchLater.computeIfAbsent(date, k -> new NativeTools.NulList()).add(relative(h.path()));
  }

  /** The entry's path relative to the root, as tools running in the root see it. */
  private static byte[] relative(EntryPath path) {
    return path.isRoot() ? new byte[] {'.'} : path.bytes();
  }

  private Path tempName() {
    return root.resolve(tempPrefix + tempCounter++);
  }

  private static void chown(Path p, long uid, long gid, boolean always) throws IOException {
    // New entries are already 0:0 (see the constructor); lchown only when the image says otherwise.
    if (always || uid != 0 || gid != 0) {
      Files.setAttribute(p, "unix:uid", (int) uid, NOFOLLOW);
      Files.setAttribute(p, "unix:gid", (int) gid, NOFOLLOW);
    }
  }

  private void setTimes(Path p, EntryHeader h) throws IOException {
    if (h.mtimeSeconds() < 0 && h.mtimeNanos() != 0) {
      // The JDK passes such a time as a negative microsecond part, which Linux refuses, and then
      // silently sets 0; touch sets it exactly.
      touchLater(h);
      return;
    }
    FileTime t = mtime(h);
    Files.getFileAttributeView(p, BasicFileAttributeView.class, NOFOLLOW).setTimes(t, t, null);
  }

  private static FileTime mtime(EntryHeader h) {
    return FileTime.from(Instant.ofEpochSecond(h.mtimeSeconds(), h.mtimeNanos()));
  }

  private static int indexOf(byte[] b, byte v) {
    for (int i = 0; i < b.length; i++) {
      if (b[i] == v) {
        return i;
      }
    }
    return -1;
  }

  private static boolean isRoot() {
    try {
      return new com.sun.security.auth.module.UnixSystem().getUid() == 0;
    } catch (RuntimeException | LinkageError e) {
      return false;
    }
  }
}
