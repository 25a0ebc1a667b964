package dev.ocirender.squashfs.writer;

import static dev.ocirender.squashfs.SquashfsFormat.SUPERBLOCK_SIZE;

import dev.ocirender.layer.EntryHeader;
import dev.ocirender.layer.EntryPath;
import dev.ocirender.layer.EntryType;
import dev.ocirender.io.WorkCounters;
import dev.ocirender.output.ContentOrigin;
import dev.ocirender.output.EntrySink;
import dev.ocirender.squashfs.SquashfsFormat;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.CRC32C;

/**
 * Writes the merged filesystem as a squashfs 4.0 image, in one pass over the entries.
 *
 * <p>File content is cut into blocks as it streams in and handed to {@link DataWriter}, which
 * compresses on a worker pool and writes in order; tail ends (and files smaller than a block) are
 * packed into shared fragment blocks. Everything else is kept as compact metadata (a serialized
 * record per directory entry in pooled storage, see {@link NodeStore}; an object only per directory
 * and per file with full blocks; xattr sets de-duplicated) and turned into the inode, directory,
 * fragment, export, id and xattr tables by {@link TableWriter} in {@link #finish()}, which writes
 * the superblock last, at offset 0. The output must therefore be a seekable {@link FileChannel}.
 *
 * <p>De-duplication is exact and cheap. A file's full blocks and its tail are de-duplicated
 * separately (a tail may also repeat the tail of a different file, as in tar2sqfs). CRCs,
 * computed as the bytes stream past, only nominate candidates: for full blocks the earlier copy of
 * the same length and two CRCs, for a tail each earlier one of the same length and CRC32C (see
 * {@link TailIndex}). A tail is then compared byte for byte with them, in memory or read back from
 * its fragment block; a run of blocks is compared as stored once both runs are written (see
 * {@link StoredBlocks}), and a copy is then written over by what follows. Full blocks of zeros
 * become sparse blocks (size 0, nothing stored).
 *
 * <p>With a {@link BlockStore} ({@link SquashfsOptions#blockCacheRoot()}), a file whose content
 * has a {@link ContentOrigin} seen before has its full blocks written from the store instead of
 * compressed, and a fragment block whose exact sequence of tails was seen before likewise. Every
 * decision about the layout (what is a block, a fragment, a duplicate, a sparse block) is taken
 * from the content read here exactly as without the store, and a stored block is only used when
 * its recorded content CRC32C equals that of the block just read; so the image is byte-identical
 * with and without the store, cold or warm. The content is still read in full (the merge must
 * advance past it, and de-duplication checksums it); only compression is skipped. Runs and
 * fragment blocks compressed here are added to the store once the image is finished, read back
 * from the image file.
 *
 * <p>Deliberately not done: de-duplication of single blocks within differing runs, xattr namespaces
 * other than {@code user.}, {@code trusted.} and {@code security.} (the format cannot store them;
 * they are dropped and counted), out-of-line xattr values, sub-second mtimes (the format has
 * seconds). Not thread-safe: the merge calls it from one thread.
 */
public final class SquashfsEntrySink implements EntrySink {

  /** Compared with a block a piece at a time: a block of zeros is stored sparse. */
  private static final byte[] ZEROS = new byte[64 * 1024];

  private final FileChannel channel;
  private final boolean ownsChannel;
  private final SquashfsOptions options;
  private final int blockSize;
  private final DataWriter data;
  private final byte[] compressorOptions;
  private final StoredBlocks stored;
  private final CRC32C crc32c = new CRC32C();
  private final CRC32 crc32 = new CRC32();
  /** The block store and this render's reader of it, or null. */
  private final BlockStore store;
  private final byte[] storeSettings;
  private final BlockStore.Reader storeReader;
  private final CRC32C blockCrc = new CRC32C();
  /** Runs and fragment blocks compressed by this render, for the store once the image is done. */
  private final List<NewRun> newRuns = new ArrayList<>();
  private final List<NewFragment> newFragments = new ArrayList<>();
  /** The origins of the tails in the open fragment block, in order; null once one is unknown. */
  private List<ContentOrigin> fragmentTails = new ArrayList<>();
  private long bytesCompressed;
  private long bytesReused;
  private WorkCounters counters = WorkCounters.NONE;

  /** Directories by path while entries arrive; dropped when the tables are written. */
  private Map<EntryPath, Node.Dir> dirsByPath = new HashMap<>();
  /** Every directory, the root first; a subdirectory's record holds its index here. */
  final List<Node.Dir> dirs = new ArrayList<>();
  /** One record per directory entry: see {@link NodeStore}. */
  final NodeStore nodes = new NodeStore();
  /** Distinct uids and gids (unsigned), and distinct (permission bits, uid index, gid index). */
  final Dictionary ids = new Dictionary();
  final Dictionary attrs = new Dictionary();
  final LinkTable links = new LinkTable();
  /** The block lists of the regular files that have full blocks; a file's record holds its index. */
  final List<Node.FileBlocks> fileBlocks = new ArrayList<>();
  /** The newest mtime of any entry but a directory. */
  long newestLeafMtime;
  final List<byte[]> xattrSets = new ArrayList<>();
  final List<Integer> xattrCounts = new ArrayList<>();
  private final Map<String, Integer> xattrIds = new HashMap<>();
  /** The first file with each (length, checksums) of full blocks, and the tails stored: candidates. */
  private Map<ContentKey, Node.FileBlocks> blockRuns = new HashMap<>();
  private TailIndex tails = new TailIndex();
  /** Where the tail of the file just written went: fragment block and offset, or -1. */
  private int tailFragment;
  private int tailOffset;
  final List<Fragment> fragments = new ArrayList<>();
  private byte[] fragmentBuffer;
  private byte[] tailBuffer;
  private int fragmentFill;
  long droppedXattrs;
  private long clampedMtimes;
  private boolean finished;
  private boolean closed;

  /** One fragment block: where it landed and its size word, known once written. */
  static final class Fragment {
    long start;
    int sizeWord;
    /** Its content while queued for compression; null once written (the buffer is reused). */
    byte[] queued;
  }

  /** A file's full blocks compressed by this render, to store for {@code origin}. */
  private record NewRun(ContentOrigin origin, Node.FileBlocks fd, int[] contentCrcs) {}

  /** A fragment block compressed by this render, to store for its tails ({@code first}'s the first). */
  private record NewFragment(ContentOrigin first, byte[] id, Fragment fragment, int contentCrc) {}

  /**
   * A sink writing to {@code channel} from its current start (offset 0 is the superblock). The
   * channel must be open for reading too (de-duplication reads blocks back). It stays open: its
   * owner closes (and, on failure, deletes) it.
   */
  public SquashfsEntrySink(FileChannel channel, SquashfsOptions options) throws IOException {
    this(requireReadable(channel), false, options);
  }

  private static FileChannel requireReadable(FileChannel channel) throws IOException {
    try {
      channel.read(ByteBuffer.allocate(0), 0);
    } catch (java.nio.channels.NonReadableChannelException e) {
      throw new IllegalArgumentException("the squashfs writer needs a channel open for reading as well as writing", e);
    }
    return channel;
  }

  private SquashfsEntrySink(FileChannel channel, boolean ownsChannel, SquashfsOptions options) throws IOException {
    this.channel = channel;
    this.ownsChannel = ownsChannel;
    this.options = options;
    this.blockSize = options.blockSize();
    this.compressorOptions = BlockCompressor.options(options.compression(), options.level());
    long dataStart = SUPERBLOCK_SIZE + (compressorOptions == null ? 0 : 2 + compressorOptions.length);
    this.data = new DataWriter(channel, dataStart, options);
    this.stored = new StoredBlocks(channel, data, options.compression(), blockSize);
    this.store = options.blockCacheRoot() == null ? null : BlockStore.at(options.blockCacheRoot());
    this.storeSettings = store == null ? null : BlockStore.settingsFingerprint(options);
    this.storeReader = store == null ? null : store.reader(storeSettings);
    Node.Dir root = new Node.Dir();
    dirs.add(root);
    dirsByPath.put(EntryPath.ROOT, root);
  }

  /**
   * Reports this sink's compression work ({@link #bytesCompressed()}, {@link #bytesReused()} as
   * {@link WorkCounters#bytesCompressionReused}) to {@code counters} when the image is finished; a
   * sink abandoned before that reports nothing. Returns this sink.
   */
  public SquashfsEntrySink reportingTo(WorkCounters counters) {
    this.counters = java.util.Objects.requireNonNull(counters, "counters");
    return this;
  }

  /**
   * The write-back interval for {@link #writingBackEvery} of an output file that is published with
   * an fsync: the same as {@code AtomicFileOutput}'s for its stream.
   */
  public static final long PUBLISH_WRITE_BACK_BYTES = 64L << 20;

  /**
   * Writes the image back to disk in the background every {@code bytes} of data blocks, so that an
   * fsync when it is published finds little left to write (see {@link DataWriter}); for an output
   * that is published with an fsync, as the CLI's output file. Returns this sink.
   */
  public SquashfsEntrySink writingBackEvery(long bytes) {
    data.writeBackEvery(bytes);
    return this;
  }

  /** A sink that creates (truncating) and owns the file at {@code path}; for tests and tools. */
  public static SquashfsEntrySink create(Path path, SquashfsOptions options) throws IOException {
    FileChannel ch = FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
        StandardOpenOption.READ, StandardOpenOption.TRUNCATE_EXISTING);
    try {
      return new SquashfsEntrySink(ch, true, options);
    } catch (IOException | RuntimeException e) {
      ch.close();
      throw e;
    }
  }

  SquashfsOptions options() {
    return options;
  }

  byte[] compressorOptions() {
    return compressorOptions;
  }

  FileChannel channel() {
    return channel;
  }

  @Override
  public void accept(EntryHeader h, InputStream content) throws IOException {
    accept(h, content, null);
  }

  @Override
  public void accept(EntryHeader h, InputStream content, ContentOrigin origin) throws IOException {
    if (finished || closed) {
      throw new IllegalStateException("squashfs sink already " + (finished ? "finished" : "closed"));
    }
    EntryPath path = h.path();
    if (h.type() == EntryType.DIRECTORY) {
      Node.Dir d = dir(path);
      if (d.hasHeader) {
        throw new IOException("squashfs: directory " + path + " delivered twice");
      }
      d.hasHeader = true;
      d.mode = h.mode();
      d.uid = (int) h.uid();
      d.gid = (int) h.gid();
      d.mtime = mtime(h);
      d.xattr = xattrSet(h.xattrs());
      return;
    }
    if (path.isRoot()) {
      throw new IOException("squashfs: the root must be a directory, not " + h.type());
    }
    byte[] name = checkName(path);
    Node.Dir parent = dir(path.parent());
    int kind;
    switch (h.type()) {
      case HARDLINK -> {
        long target = lookup(h.linkTarget());
        nodes.addFlags(target, NodeStore.F_LINKED);
        links.nlink[links.slot(target)]++;
        nodes.begin(NodeStore.LINK, name);
        nodes.var(target);
        add(parent, nodes.commit(parent.lastChild));
        return;
      }
      case FILE -> {
        Node.FileBlocks blocks = writeContent(h, content, origin != null && origin.size() == h.size() ? origin : null);
        int flags = NodeStore.FILE | (blocks != null ? NodeStore.F_BLOCKS : 0) | (tailFragment >= 0 ? NodeStore.F_FRAGMENT : 0);
        inode(flags, name, h);
        nodes.var(h.size());
        if (blocks != null) {
          nodes.var(fileBlocks.size());
          fileBlocks.add(blocks);
        }
        if (tailFragment >= 0) {
          nodes.var(tailFragment);
          nodes.var(tailOffset);
        }
      }
      case SYMLINK -> {
        inode(NodeStore.SYMLINK, name, h);
        nodes.var(h.symlinkTarget().length);
        nodes.bytes(h.symlinkTarget());
      }
      case CHAR_DEVICE, BLOCK_DEVICE, FIFO -> {
        inode(NodeStore.SPECIAL, name, h);
        int type = switch (h.type()) {
          case BLOCK_DEVICE -> SquashfsFormat.BLOCK_DEVICE;
          case CHAR_DEVICE -> SquashfsFormat.CHAR_DEVICE;
          default -> SquashfsFormat.FIFO;
        };
        nodes.u8(type);
        if (type != SquashfsFormat.FIFO) {
          nodes.u32(encodeDevice(h.devMajor(), h.devMinor()));
        }
      }
      default -> throw new IOException("squashfs: unexpected entry type " + h.type() + " at " + path);
    }
    add(parent, nodes.commit(parent.lastChild));
  }

  private static void add(Node.Dir parent, long record) {
    parent.lastChild = record;
    parent.count++;
  }

  /** Begins the record of an inode named {@code name}: its kind, flags and {@code h}'s metadata. */
  private void inode(int kindAndFlags, byte[] name, EntryHeader h) throws IOException {
    int xattr = xattrSet(h.xattrs());
    // The id table holds unsigned 32-bit ids, as Linux has them.
    int uid = ids.index(Integer.toUnsignedLong((int) h.uid()));
    int gid = ids.index(Integer.toUnsignedLong((int) h.gid()));
    if (ids.size() > MAX_IDS) {
      throw new IOException("squashfs: more than " + MAX_IDS + " distinct uids and gids (at " + h.path() + ")");
    }
    nodes.begin(kindAndFlags | (xattr >= 0 ? NodeStore.F_XATTR : 0), name);
    nodes.var(attrs.index((long) (h.mode() & 07777) << 48 | (long) uid << 24 | gid));
    int mtime = mtime(h);
    newestLeafMtime = Math.max(newestLeafMtime, Integer.toUnsignedLong(mtime));
    nodes.mtime(mtime);
    if (xattr >= 0) {
      nodes.var(xattr);
    }
  }

  /** Linux's "new" dev_t encoding, which squashfs stores (12-bit major, 20-bit minor). */
  static int encodeDevice(int major, int minor) {
    return ((major & 0xfff) << 8) | (minor & 0xff) | ((minor & 0xfff00) << 12);
  }

  /** The format's times are unsigned 32-bit seconds: clamped, and counted for the render summary. */
  private int mtime(EntryHeader h) {
    long mtime = Math.max(0, Math.min(0xffffffffL, h.mtimeSeconds()));
    if (mtime != h.mtimeSeconds()) {
      clampedMtimes++;
    }
    return (int) mtime;
  }

  /**
   * The directory node for {@code path}, made (with any missing parents) when no entry described it
   * yet. Missing parents are collected on an explicit stack, not by recursion: the image decides
   * the depth.
   */
  private Node.Dir dir(EntryPath path) throws IOException {
    Node.Dir d = dirsByPath.get(path);
    if (d != null) {
      return d;
    }
    ArrayDeque<EntryPath> missing = new ArrayDeque<>();
    for (EntryPath p = path; d == null; p = p.parent()) {
      missing.push(p);
      d = dirsByPath.get(p.parent());
    }
    while (!missing.isEmpty()) {
      EntryPath p = missing.pop();
      byte[] name = checkName(p);
      Node.Dir child = new Node.Dir();
      nodes.begin(NodeStore.DIR, name);
      nodes.var(dirs.size());
      add(d, nodes.commit(d.lastChild));
      dirs.add(child);
      dirsByPath.put(p, child);
      d = child;
    }
    return d;
  }

  /** squashfs's id table has 16-bit indexes. */
  static final int MAX_IDS = 65536;

  /** Longest name a squashfs directory entry may hold: the Linux driver's SQUASHFS_NAME_LEN. */
  static final int MAX_NAME_BYTES = 256;

  /** The entry's last name, refused when squashfs cannot hold it. */
  private static byte[] checkName(EntryPath path) throws IOException {
    byte[] name = path.name();
    if (name.length > MAX_NAME_BYTES) {
      String shown = EntryPath.display(Arrays.copyOf(name, 64));
      throw new IOException("squashfs cannot hold entry '" + shown + "…' (" + name.length + "-byte name): squashfs "
          + "directory entries hold names of at most " + MAX_NAME_BYTES + " bytes (SQUASHFS_NAME_LEN; the kernel and "
          + "unsquashfs refuse longer ones)");
    }
    return name;
  }

  /** The record of the inode (not a directory) at {@code target}: a hard link's. */
  private long lookup(EntryPath target) throws IOException {
    Node.Dir parent = dirsByPath.get(target.parent());
    if (parent != null) {
      byte[] name = target.name();
      // Walked from the newest child: a link usually follows its target closely.
      for (long p = parent.lastChild; p != NodeStore.NONE; ) {
        long previous = nodes.seek(p);
        int kind = nodes.kind(p);
        if (kind != NodeStore.DIR && nodes.nameEquals(p, name)) {
          return kind == NodeStore.LINK ? nodes.var() : p;
        }
        p = previous;
      }
    }
    throw new IOException("squashfs: hard link target " + target + " has not been delivered as a non-directory");
  }

  private int xattrSet(Map<String, byte[]> xattrs) {
    if (xattrs.isEmpty()) {
      return -1;
    }
    MetadataWriter.Le rec = new MetadataWriter.Le(64);
    int count = 0;
    for (Map.Entry<String, byte[]> e : xattrs.entrySet()) {
      String key = e.getKey();
      int type;
      String suffix;
      if (key.startsWith("user.")) {
        type = 0;
        suffix = key.substring(5);
      } else if (key.startsWith("trusted.")) {
        type = 1;
        suffix = key.substring(8);
      } else if (key.startsWith("security.")) {
        type = 2;
        suffix = key.substring(9);
      } else {
        droppedXattrs++;
        continue;
      }
      byte[] k = suffix.getBytes(StandardCharsets.UTF_8);
      rec.u16(type).u16(k.length).bytes(k).u32(e.getValue().length).bytes(e.getValue());
      count++;
    }
    if (count == 0) {
      return -1;
    }
    byte[] bytes = rec.toByteArray();
    String key = new String(bytes, StandardCharsets.ISO_8859_1);
    Integer id = xattrIds.get(key);
    if (id == null) {
      id = xattrSets.size();
      xattrSets.add(bytes);
      xattrCounts.add(count);
      xattrIds.put(key, id);
    }
    return id;
  }

  // ---- content

  /*
   * The content path below is split into small methods on purpose: it is the producer's hot loop,
   * and one large method here cost the JIT about 0.5 s per (re)compilation, three times per run.
   */

  /**
   * Writes a regular file's content; returns its block list, or null when it has no full blocks,
   * and leaves where its tail went in {@link #tailFragment} and {@link #tailOffset}.
   */
  private Node.FileBlocks writeContent(EntryHeader h, InputStream content, ContentOrigin origin) throws IOException {
    long size = h.size();
    int tailLength = options.fragments() ? (int) (size % blockSize) : 0;
    int blocks = Math.toIntExact((size - tailLength + blockSize - 1) / blockSize);
    Node.FileBlocks fd = blocks == 0 ? null : new Node.FileBlocks(blocks);
    if (fd != null) {
      if (store != null && origin != null) {
        writeBlocksReusing(fd, h, content, size - tailLength, origin);
      } else {
        writeBlocks(fd, h, content, size - tailLength);
      }
    }
    tailFragment = -1;
    tailOffset = -1;
    if (tailLength > 0) {
      writeTail(h, content, tailLength, store != null ? origin : null);
    }
    return fd;
  }

  /**
   * Reads the file's full blocks and queues them for compression; all-zero blocks become sparse.
   * If an earlier file's blocks had the same length and checksum, the two runs are compared once
   * both are written, and this copy is dropped (written over by what follows) if they are equal.
   */
  private void writeBlocks(Node.FileBlocks fd, EntryHeader h, InputStream content, long length) throws IOException {
    data.inOrder(() -> fd.start = data.position());
    crc32c.reset();
    crc32.reset();
    int[] sizes = fd.sizes;
    for (int i = 0; i < sizes.length; i++) {
      int len = (int) Math.min(blockSize, length - (long) i * blockSize);
      byte[] buf = data.buffer();
      readFully(content, buf, 0, len, h);
      crc32c.update(buf, 0, len);
      crc32.update(buf, 0, len);
      if (len == blockSize && allZeros(buf, len)) {
        // sparse: the size word stays 0
        data.release(buf);
      } else {
        data.block(buf, len, new BlockSize(sizes, i));
        bytesCompressed += len;
      }
    }
    deduplicateBlocks(fd, length);
  }

  /**
   * As {@link #writeBlocks}, but each block whose stored copy (from the run the store has for this
   * content) was made from the same content, by its CRC32C, is written from the store instead of
   * compressed. A run not wholly reused is stored again once the image is finished.
   */
  private void writeBlocksReusing(Node.FileBlocks fd, EntryHeader h, InputStream content, long length,
      ContentOrigin origin) throws IOException {
    data.inOrder(() -> fd.start = data.position());
    crc32c.reset();
    crc32.reset();
    int[] sizes = fd.sizes;
    int[] contentCrcs = new int[sizes.length];
    boolean allReused = true;
    try (BlockStore.Run run = storeReader.file(origin, sizes.length)) {
      for (int i = 0; i < sizes.length; i++) {
        int len = (int) Math.min(blockSize, length - (long) i * blockSize);
        byte[] buf = data.buffer();
        readFully(content, buf, 0, len, h);
        crc32c.update(buf, 0, len);
        crc32.update(buf, 0, len);
        blockCrc.reset();
        blockCrc.update(buf, 0, len);
        contentCrcs[i] = (int) blockCrc.getValue();
        if (len == blockSize && allZeros(buf, len)) {
          // sparse: the size word stays 0
          data.release(buf);
          continue;
        }
        ByteBuffer reused = run != null && run.word(i) != 0 && run.contentCrc(i) == contentCrcs[i] ? run.block(i) : null;
        if (reused != null) {
          data.release(buf);
          data.stored(reused, run.word(i), new BlockSize(sizes, i));
          bytesReused += len;
        } else {
          data.block(buf, len, new BlockSize(sizes, i));
          bytesCompressed += len;
          allReused = false;
        }
      }
    }
    if (!allReused) {
      newRuns.add(new NewRun(origin, fd, contentCrcs));
    }
    deduplicateBlocks(fd, length);
  }

  /** Nominates {@code fd}'s full blocks (checksummed as they were read) for de-duplication. */
  private void deduplicateBlocks(Node.FileBlocks fd, long length) throws IOException {
    if (options.deduplicate()) {
      Node.FileBlocks original = blockRuns.putIfAbsent(new ContentKey(length, crc32c.getValue(), crc32.getValue()), fd);
      if (original != null) {
        data.inOrder(() -> dropIfCopy(fd, original));
      }
    }
  }

  /** In order, once both are written: points {@code copy} at the original's equal blocks. */
  private void dropIfCopy(Node.FileBlocks copy, Node.FileBlocks original) throws IOException {
    if (stored.sameBlocks(copy, original)) {
      data.moveTo(copy.start);
      copy.start = original.start;
    }
  }

  /** Records a block's size word in its file's block list once the block is written. */
  private record BlockSize(int[] sizes, int index) implements DataWriter.BlockResult {
    @Override
    public void written(long position, int sizeWord) {
      sizes[index] = sizeWord;
    }
  }

  /**
   * Reads the file's tail (or the whole of a file smaller than a block) straight into the open
   * fragment block when it fits there, else into {@link #tailBuffer}; it only counts as added once
   * it is known not to repeat a tail already stored, whichever file that came from.
   */
  private void writeTail(EntryHeader h, InputStream content, int len, ContentOrigin origin)
      throws IOException {
    boolean inPlace = fragmentFill + len <= blockSize;
    byte[] into;
    int at;
    if (inPlace) {
      if (fragmentBuffer == null) {
        fragmentBuffer = data.buffer();
      }
      into = fragmentBuffer;
      at = fragmentFill;
    } else {
      if (tailBuffer == null) {
        tailBuffer = new byte[blockSize];
      }
      into = tailBuffer;
      at = 0;
    }
    readFully(content, into, at, len, h);
    int check = 0;
    if (options.deduplicate()) {
      crc32c.reset();
      crc32c.update(into, at, len);
      check = (int) crc32c.getValue();
      long earlier = tails.find(len, check, (fragment, offset) -> sameTail(fragment, offset, into, at, len));
      if (earlier != TailIndex.ABSENT) {
        tailFragment = TailIndex.fragment(earlier);
        tailOffset = TailIndex.offset(earlier);
        return;
      }
    }
    addFragment(len, inPlace, origin);
    if (options.deduplicate()) {
      tails.add(len, check, tailFragment, tailOffset);
    }
  }

  /**
   * Whether the tail stored in fragment block {@code fragment} at {@code from} equals {@code len}
   * bytes of {@code b} from {@code off}.
   */
  private boolean sameTail(int fragment, int from, byte[] b, int off, int len) throws IOException {
    Fragment f = fragments.get(fragment);
    byte[] block;
    if (fragment == fragments.size() - 1 && fragmentFill > 0) {
      block = fragmentBuffer; // still open
    } else if (f.queued != null) {
      block = f.queued; // queued, not yet written: its buffer is untouched until then
    } else {
      block = stored.fragment(f);
    }
    return Arrays.equals(block, from, from + len, b, off, off + len);
  }

  /**
   * De-duplication's candidate key: length plus two independent CRCs (both hardware-assisted).
   * Written out rather than a record: its generated hashCode is slow until the JIT gets to it.
   */
  private static final class ContentKey {
    private final long length;
    private final long crcs;

    ContentKey(long length, long crc32c, long crc32) {
      this.length = length;
      this.crcs = crc32c << 32 | crc32;
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof ContentKey k && k.length == length && k.crcs == crcs;
    }

    @Override
    public int hashCode() {
      return (int) (crcs ^ crcs >>> 32) * 31 + (int) length;
    }
  }

  /**
   * Adds the tail just read to the open fragment block: it is already in place there, or it is in
   * {@link #tailBuffer} because the open block is too full and has to be queued first.
   */
  private void addFragment(int len, boolean inPlace, ContentOrigin origin) throws IOException {
    if (!inPlace) {
      flushFragment();
      fragmentBuffer = data.buffer();
      System.arraycopy(tailBuffer, 0, fragmentBuffer, 0, len);
    }
    if (fragmentFill == 0) {
      fragments.add(new Fragment());
      fragmentTails = store != null ? new ArrayList<>() : null;
    }
    if (fragmentTails != null) {
      if (origin != null) {
        fragmentTails.add(origin);
      } else {
        fragmentTails = null; // a tail of unknown origin: this block is compressed, never stored
      }
    }
    tailFragment = fragments.size() - 1;
    tailOffset = fragmentFill;
    fragmentFill += len;
  }

  private void flushFragment() throws IOException {
    if (fragmentFill == 0) {
      return;
    }
    Fragment f = fragments.get(fragments.size() - 1);
    f.queued = fragmentBuffer;
    boolean reused = false;
    if (fragmentTails != null) {
      byte[] id = BlockStore.fragmentId(fragmentTails);
      blockCrc.reset();
      blockCrc.update(fragmentBuffer, 0, fragmentFill);
      int contentCrc = (int) blockCrc.getValue();
      reused = reuseFragment(f, fragmentTails.get(0), id, contentCrc);
      if (!reused) {
        newFragments.add(new NewFragment(fragmentTails.get(0), id, f, contentCrc));
      }
    }
    if (!reused) {
      data.block(fragmentBuffer, fragmentFill, (pos, word) -> {
        f.start = pos;
        f.sizeWord = word;
        f.queued = null;
      });
      bytesCompressed += fragmentFill;
    }
    fragmentTails = null;
    fragmentBuffer = null;
    fragmentFill = 0;
  }

  /**
   * Writes the open fragment block from the store if it holds the block for exactly these tails,
   * made from the same content (by CRC32C); false if it does not, and nothing was queued.
   */
  private boolean reuseFragment(Fragment f, ContentOrigin first, byte[] id, int contentCrc) throws IOException {
    try (BlockStore.Run run = storeReader.fragment(first, id)) {
      if (run == null) {
        return false;
      }
      ByteBuffer reused = run.contentCrc(0) == contentCrc ? run.block(0) : null;
      if (reused == null) {
        return false;
      }
      byte[] buffer = fragmentBuffer;
      data.stored(reused, run.word(0), (pos, word) -> {
        f.start = pos;
        f.sizeWord = word;
        f.queued = null;
        data.release(buffer);
      });
      bytesReused += fragmentFill;
      return true;
    }
  }

  private static boolean allZeros(byte[] b, int len) {
    for (int off = 0; off < len; off += ZEROS.length) {
      int n = Math.min(ZEROS.length, len - off);
      if (!Arrays.equals(b, off, off + n, ZEROS, 0, n)) {
        return false;
      }
    }
    return true;
  }

  private static void readFully(InputStream in, byte[] buf, int off, int len, EntryHeader h) throws IOException {
    int n = in.readNBytes(buf, off, len);
    if (n != len) {
      throw new EOFException("squashfs: content of " + h.path() + " ended before its size " + h.size());
    }
  }

  // ---- finishing

  @Override
  public void finish() throws IOException {
    if (finished || closed) {
      throw new IllegalStateException("squashfs sink already " + (finished ? "finished" : "closed"));
    }
    flushFragment();
    long dataEnd = data.drain();
    long highWater = data.highWater();
    data.close();
    // What only the entries' arrival needed: the tables need none of it.
    tails = null;
    blockRuns = null;
    dirsByPath = null;
    if (compressorOptions != null) {
      ByteBuffer opt = ByteBuffer.allocate(2 + compressorOptions.length);
      opt.put((byte) compressorOptions.length).put((byte) (0x80 | (compressorOptions.length >>> 8))).put(compressorOptions).flip();
      writeAt(opt, SUPERBLOCK_SIZE);
    }
    long end = new TableWriter(this).write(dataEnd);
    // Pad to 4 KiB like the C tools: loop devices want whole sectors.
    long padded = (end + 4095) & ~4095L;
    if (padded > end) {
      writeAt(ByteBuffer.wrap(new byte[(int) (padded - end)]), end);
    }
    if (highWater > padded) {
      channel.truncate(padded);
    }
    data.awaitWriteBack();
    finished = true;
    counters.bytesCompressed(bytesCompressed);
    counters.bytesCompressionReused(bytesReused);
    if (store != null) {
      store.countCompressed(bytesCompressed);
      store.countReused(bytesReused);
      fillStore();
    }
  }

  /**
   * Adds what this render compressed to the store, read back from the finished image (whose data
   * area no longer moves). Only a finished image does this: every layer it read was verified
   * against its digest by then, so no value can come from bytes that failed verification.
   */
  private void fillStore() {
    storeReader.close();
    Map<dev.ocirender.image.Digest, List<BlockStore.NewRun>> byLayer = new java.util.LinkedHashMap<>();
    for (NewRun r : newRuns) {
      byLayer.computeIfAbsent(r.origin().layer(), k -> new ArrayList<>())
          .add(BlockStore.NewRun.file(r.origin(), r.fd().sizes, r.contentCrcs(), r.fd().start));
    }
    for (NewFragment nf : newFragments) {
      byLayer.computeIfAbsent(nf.first().layer(), k -> new ArrayList<>()).add(BlockStore.NewRun.fragment(nf.first(),
          nf.id(), nf.fragment().sizeWord, nf.contentCrc(), nf.fragment().start));
    }
    byLayer.forEach((layer, runs) -> store.put(storeSettings, layer, runs, channel));
    newRuns.clear();
    newFragments.clear();
  }

  void writeAt(ByteBuffer buf, long at) throws IOException {
    while (buf.hasRemaining()) {
      at += channel.write(buf, at);
    }
  }

  @Override
  public void close() throws IOException {
    if (closed) {
      return;
    }
    closed = true;
    data.close();
    stored.close();
    if (storeReader != null) {
      storeReader.close();
    }
    if (ownsChannel) {
      channel.close();
    }
  }

  /** How many entries had an mtime before 1970 or after 2106, clamped to squashfs's range. */
  public long clampedMtimes() {
    return clampedMtimes;
  }

  /** Uncompressed bytes of data and fragment blocks this sink compressed. */
  public long bytesCompressed() {
    return bytesCompressed;
  }

  /** Uncompressed bytes of data and fragment blocks written from the block store, not compressed. */
  public long bytesReused() {
    return bytesReused;
  }

  /** How many xattrs were dropped because squashfs has no namespace for them. */
  public long droppedXattrs() {
    return droppedXattrs;
  }
}
