package dev.ocirender.squashfs.writer;

import static dev.ocirender.io.Streams.closeQuietly;

import dev.ocirender.image.Digest;
import dev.ocirender.output.ContentOrigin;
import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import java.util.zip.CRC32C;

/**
 * Compressed squashfs data blocks kept across renders, so that content already compressed (a
 * shared base layer's files, in a catalog of images) is written again without compressing it.
 *
 * <p>A value (a "run") is everything needed to write a run of blocks byte for byte as the
 * compressor would: each block's size word (with its "stored raw" flag; 0 for a sparse block) and
 * stored bytes. It is identified by the content's identity ({@link ContentOrigin}: layer digest,
 * entry ordinal, size; or, for a fragment block, the exact sequence of tails packed into it) under
 * the compression settings (compressor, level, block size, and a fingerprint of the compressor
 * implementation's output, so a library upgrade that compresses differently misses instead of
 * changing the image). Each run also records a CRC32C of every block's uncompressed content: the
 * writer only reuses a block whose content it has just read and checksummed to the same value, so a
 * wrong identity costs a recompression, never a wrong image.
 *
 * <p>On disk, runs are grouped by layer: one file per (settings, layer), {@code <64 hex>.blk}
 * under {@code ROOT/blocks/}, holding the runs of that layer's file contents and the fragment
 * blocks whose first tail comes from that layer, then an index of them and a trailer. A render
 * opens each layer's file once and reads its index once ({@link Reader}), so a warm render of an
 * image opens a handful of files rather than one per file content (tens of thousands in a catalog
 * job). A file is replaced whole: a render that compressed runs of a layer writes a new file with
 * the runs already there (each block checked against its CRC32C as it is copied) plus its own, to a
 * temporary in the same directory ({@code .tmp-*.tmp}, left behind only by a crash), renamed into
 * place, so readers never see a partial file. Two renders adding to the same layer at once may
 * lose one's additions (the last rename wins): that costs a recompression later, never an image.
 * The index and every stored block carry CRC32C checksums: a file whose index or trailer does not
 * check out is deleted, a run with a bad block is not used (and is left out when the file is
 * rewritten), and its content is compressed again. A file's mtime is touched when a render opens
 * it: the layer cache that owns {@code ROOT} evicts by oldest mtime. Several renders in one JVM and
 * several JVMs may share a root.
 *
 * <p>Deliberately not done here: eviction (the owner of the cache root does it) and any decision
 * about what is a block; {@link SquashfsEntrySink} decides, so the image does not depend on what is
 * cached.
 */
public final class BlockStore {

  /** The directory under the cache root that holds this store's files. */
  public static final String DIRECTORY = "blocks";

  private static final int MAGIC = 0x4f534232; // "OSB2": runs grouped by layer
  /** entry count, index length, key, index CRC, magic: the fixed trailer at the end of every file. */
  private static final int TRAILER = 4 + 8 + 32 + 4 + 4;
  private static final byte FILE_RUN = 'F';
  private static final byte FRAGMENT = 'T';
  /** Store files are mapped in pieces of this size, each overlapping the next by a block. */
  private static final long SEGMENT = 1L << 30;
  /** How long a render goes on without looking again for a layer's file that was not there. */
  private static final long RETRY_MS = 2_000;

  private static final Map<Path, BlockStore> SHARED = new ConcurrentHashMap<>();
  private static final Map<String, byte[]> FINGERPRINTS = new ConcurrentHashMap<>();

  private final Path dir;
  private final LongAdder bytesReused = new LongAdder();
  private final LongAdder bytesCompressed = new LongAdder();
  private final LongAdder corruptFiles = new LongAdder();
  private final LongAdder writeFailures = new LongAdder();
  private final LongAdder filesOpened = new LongAdder();
  /** Told the size of every file this store adds: the cache root's owner, which evicts. */
  private volatile java.util.function.LongConsumer fileAdded = n -> {};

  private BlockStore(Path dir) {
    this.dir = dir;
  }

  /**
   * The store under cache root {@code root} (its {@value #DIRECTORY} directory, created when
   * missing), one instance per root in this JVM so that renders share its counters.
   */
  public static BlockStore at(Path root) throws IOException {
    Path dir = root.toAbsolutePath().normalize().resolve(DIRECTORY);
    Files.createDirectories(dir);
    return SHARED.computeIfAbsent(dir, BlockStore::new);
  }

  /**
   * Reports the size of every file this store adds from now on to {@code listener}: the layer
   * cache that owns the root ({@code LayerCache::fileAdded}), so that its size estimate and
   * eviction include the blocks without waiting for a rescan.
   */
  public void reportFilesAddedTo(java.util.function.LongConsumer listener) {
    this.fileAdded = java.util.Objects.requireNonNull(listener, "listener");
  }

  /** Where the files live: {@code ROOT/blocks}. */
  public Path directory() {
    return dir;
  }

  /** Uncompressed bytes written from stored blocks instead of compressed, by every render so far. */
  public long bytesReused() {
    return bytesReused.sum();
  }

  /** Uncompressed bytes compressed by renders using this store, so far. */
  public long bytesCompressed() {
    return bytesCompressed.sum();
  }

  /** Files (or runs in them) found corrupt or truncated so far; they are not used, and rebuilt. */
  public long corruptFiles() {
    return corruptFiles.sum();
  }

  /** Files that could not be written (full disk, ...); the render went on without them. */
  public long writeFailures() {
    return writeFailures.sum();
  }

  /** Store files opened for reading so far (one per layer and render that looked it up). */
  public long filesOpened() {
    return filesOpened.sum();
  }

  void countReused(long n) {
    bytesReused.add(n);
  }

  void countCompressed(long n) {
    bytesCompressed.add(n);
  }

  // ---- keys

  /**
   * What the compressed bytes depend on besides the content: compressor, level, block size, and the
   * output of this compressor implementation on a fixed probe (computed once per JVM and setting).
   */
  static byte[] settingsFingerprint(SquashfsOptions o) {
    String id = o.compression().cliName() + ":" + o.level() + ":" + o.blockSize();
    return FINGERPRINTS.computeIfAbsent(id, k -> {
      MessageDigest sha = sha256();
      sha.update(("ocirender squashfs blocks v1 " + k).getBytes(StandardCharsets.UTF_8));
      byte[] probe = probe();
      try (BlockCompressor c = BlockCompressor.create(o.compression(), o.level(), o.blockSize())) {
        byte[] out = c.compress(probe, 0, probe.length);
        sha.update(out == null ? new byte[] {0} : out);
      }
      return sha.digest();
    });
  }

  /** Half text, half pseudo-random bytes: exercises both the matcher and the entropy coder. */
  private static byte[] probe() {
    byte[] b = new byte[16 * 1024];
    byte[] text = "squashfs block store probe: the quick brown fox jumps over the lazy dog 0123456789\n"
        .getBytes(StandardCharsets.US_ASCII);
    for (int i = 0; i < b.length / 2; i++) {
      b[i] = text[i % text.length];
    }
    long x = 0x9E3779B97F4A7C15L;
    for (int i = b.length / 2; i < b.length; i++) {
      x ^= x << 13;
      x ^= x >>> 7;
      x ^= x << 17;
      b[i] = (byte) x;
    }
    return b;
  }

  /** The file that holds the runs of {@code layer} under these settings. */
  Path file(byte[] settings, Digest layer) {
    MessageDigest sha = sha256();
    sha.update(settings);
    sha.update((byte) 'L');
    sha.update(layer.toString().getBytes(StandardCharsets.UTF_8));
    return dir.resolve(HexFormat.of().formatHex(sha.digest()) + ".blk");
  }

  /** The identity of a fragment block holding exactly these tails, in this order. */
  static byte[] fragmentId(List<ContentOrigin> tails) {
    MessageDigest sha = sha256();
    sha.update((byte) 'T');
    sha.update(ByteBuffer.allocate(4).putInt(tails.size()).array());
    for (ContentOrigin t : tails) {
      byte[] d = t.layer().toString().getBytes(StandardCharsets.UTF_8);
      sha.update(ByteBuffer.allocate(4 + d.length + 16).putInt(d.length).put(d).putLong(t.ordinal()).putLong(t.size())
          .array());
    }
    return sha.digest();
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  // ---- reading

  /** A reader for one render under {@code settings} ({@link #settingsFingerprint}). */
  Reader reader(byte[] settings) {
    return new Reader(settings);
  }

  /**
   * One render's view of the store: each layer's file is opened and its index read the first time
   * a run of that layer is looked up, and stays open until {@link #close()}. Not thread-safe (the
   * writer's one thread uses it).
   */
  final class Reader implements Closeable {
    private final byte[] settings;
    private final Map<Digest, Pack> packs = new HashMap<>();
    /** Layers without a file when last looked, and when: looked for again after {@link #RETRY_MS}. */
    private final Map<Digest, Long> missing = new HashMap<>();

    private Reader(byte[] settings) {
      this.settings = settings;
    }

    /** The stored run of {@code origin}'s full blocks, if there is one of exactly {@code blocks} blocks. */
    Run file(ContentOrigin origin, int blocks) {
      Pack p = pack(origin.layer());
      Entry e = p == null ? null : p.files.get(origin.ordinal());
      return e != null && e.size == origin.size() && e.count == blocks && !e.bad ? new Run(p, e) : null;
    }

    /** The stored fragment block of exactly the tails {@code id} names, the first from {@code first}'s layer. */
    Run fragment(ContentOrigin first, byte[] id) {
      Pack p = pack(first.layer());
      Entry e = p == null ? null : p.fragments.get(new Id(id));
      return e != null && e.count == 1 && !e.bad ? new Run(p, e) : null;
    }

    /**
     * The layer's file, opened once per render. A layer that has none yet is looked for again now
     * and then: another render of the same base may store it while this one runs (a cold catalog
     * job starts several renders of one base at once), and its later files then need no
     * compression here.
     */
    private Pack pack(Digest layer) {
      Pack p = packs.get(layer);
      if (p != null) {
        return p;
      }
      long now = System.nanoTime();
      Long lastLook = missing.get(layer);
      if (lastLook != null && now - lastLook < RETRY_MS * 1_000_000L) {
        return null;
      }
      p = Pack.open(BlockStore.this, BlockStore.this.file(settings, layer), true);
      if (p != null) {
        packs.put(layer, p);
        missing.remove(layer);
      } else {
        missing.put(layer, now);
      }
      return p;
    }

    @Override
    public void close() {
      for (Pack p : packs.values()) {
        if (p != null) {
          p.close();
        }
      }
      packs.clear();
    }
  }

  /** A fragment block's identity as a map key. */
  private record Id(byte[] bytes) {
    @Override
    public boolean equals(Object o) {
      return o instanceof Id i && Arrays.equals(i.bytes, bytes);
    }

    @Override
    public int hashCode() {
      return Arrays.hashCode(bytes);
    }
  }

  /** One run in a file's index: where its blocks are, their size words and checksums. */
  private static final class Entry {
    final byte kind;
    final long ordinal;
    final long size;
    final byte[] id;
    final int count;
    final long dataOffset;
    final int[] words;
    final int[] contentCrcs;
    final int[] storedCrcs;
    /** A block of it failed its checksum: not used again, left out when the file is rewritten. */
    volatile boolean bad;

    Entry(byte kind, long ordinal, long size, byte[] id, int count, long dataOffset) {
      this.kind = kind;
      this.ordinal = ordinal;
      this.size = size;
      this.id = id;
      this.count = count;
      this.dataOffset = dataOffset;
      words = new int[count];
      contentCrcs = new int[count];
      storedCrcs = new int[count];
    }

    long storedLength() {
      long n = 0;
      for (int w : words) {
        n += w & ~DataWriter.UNCOMPRESSED_BIT;
      }
      return n;
    }

    long offset(int block) {
      long at = dataOffset;
      for (int i = 0; i < block; i++) {
        at += words[i] & ~DataWriter.UNCOMPRESSED_BIT;
      }
      return at;
    }
  }

  /**
   * One open store file: its index in memory, its blocks read from the channel when used. File
   * layout (little-endian): the stored bytes of every run's blocks, run after run; then the index,
   * per run its kind ({@code F}: ordinal and size of a file's content; {@code T}: the 32-byte
   * identity of a fragment block's tails), block count, and per block its size word, the CRC32C of
   * its uncompressed content and the CRC32C of its stored bytes; then the trailer: run count, index
   * length, the 32-byte key (the file's name), the CRC32C of the index and the trailer before it,
   * and a magic number.
   */
  private static final class Pack implements Closeable {
    final Path path;
    final FileChannel channel;
    final Map<Long, Entry> files = new HashMap<>();
    final Map<Id, Entry> fragments = new HashMap<>();
    final List<Entry> entries = new ArrayList<>();
    private long size;
    /** Where the runs' stored bytes end (the index starts). */
    private long dataLength;
    /** The data mapped in segments of {@link #SEGMENT} bytes (plus a block's overlap), mapped when first read. */
    private java.nio.MappedByteBuffer[] segments;

    private Pack(Path path, FileChannel channel) {
      this.path = path;
      this.channel = channel;
    }

    /**
     * The file at {@code path} with its index read and checked, or null when there is none or (then
     * it is deleted) when its index does not check out.
     */
    static Pack open(BlockStore store, Path path, boolean touch) {
      FileChannel ch;
      try {
        ch = FileChannel.open(path, StandardOpenOption.READ);
      } catch (NoSuchFileException e) {
        return null;
      } catch (IOException e) {
        return null;
      }
      store.filesOpened.increment();
      Pack p = new Pack(path, ch);
      try {
        p.readIndex(path.getFileName().toString());
      } catch (IOException | RuntimeException e) {
        p.close();
        store.corruptFiles.increment();
        try {
          Files.deleteIfExists(path);
        } catch (IOException ignored) {
          // another process may hold or have removed it; the next render tries again
        }
        return null;
      }
      if (touch) {
        try {
          Files.setLastModifiedTime(path, FileTime.fromMillis(System.currentTimeMillis()));
        } catch (IOException e) {
          // evicted meanwhile: harmless, the channel in hand still reads it
        }
      }
      return p;
    }

    long sizeOr0() {
      return size;
    }

    private void readIndex(String name) throws IOException {
      size = channel.size();
      if (size < TRAILER) {
        throw new IOException("shorter than its trailer");
      }
      ByteBuffer trailer = ByteBuffer.allocate(TRAILER).order(ByteOrder.LITTLE_ENDIAN);
      readFully(channel, trailer, size - TRAILER);
      trailer.flip();
      int count = trailer.getInt();
      long indexLength = trailer.getLong();
      byte[] storedKey = new byte[32];
      trailer.get(storedKey);
      int indexCrc = trailer.getInt();
      int magic = trailer.getInt();
      if (magic != MAGIC || count < 0 || indexLength < 0 || indexLength > size - TRAILER
          || indexLength > Integer.MAX_VALUE || !(HexFormat.of().formatHex(storedKey) + ".blk").equals(name)) {
        throw new IOException("bad trailer");
      }
      ByteBuffer index = ByteBuffer.allocate((int) indexLength).order(ByteOrder.LITTLE_ENDIAN);
      long indexAt = size - TRAILER - indexLength;
      readFully(channel, index, indexAt);
      CRC32C crc = new CRC32C();
      crc.update(index.array(), 0, index.capacity());
      crc.update(trailer.array(), 0, 4 + 8 + 32);
      if ((int) crc.getValue() != indexCrc) {
        throw new IOException("index checksum mismatch");
      }
      index.flip();
      dataLength = indexAt;
      long at = 0;
      for (int n = 0; n < count; n++) {
        byte kind = index.get();
        long ordinal = 0;
        long contentSize = 0;
        byte[] id = null;
        if (kind == FILE_RUN) {
          ordinal = index.getLong();
          contentSize = index.getLong();
        } else if (kind == FRAGMENT) {
          id = new byte[32];
          index.get(id);
        } else {
          throw new IOException("unknown run kind " + kind);
        }
        int blocks = index.getInt();
        if (blocks < 0 || (long) blocks * 12 > index.remaining()) {
          throw new IOException("bad block count");
        }
        Entry e = new Entry(kind, ordinal, contentSize, id, blocks, at);
        for (int i = 0; i < blocks; i++) {
          e.words[i] = index.getInt();
          e.contentCrcs[i] = index.getInt();
          e.storedCrcs[i] = index.getInt();
        }
        at += e.storedLength();
        entries.add(e);
        if (kind == FILE_RUN) {
          files.put(ordinal, e);
        } else {
          fragments.put(new Id(id), e);
        }
      }
      if (at != indexAt || index.hasRemaining()) {
        throw new IOException("run lengths do not add up to the data length");
      }
    }

    /**
     * The stored bytes of block {@code i} of {@code e} at {@code at} (a view of the mapped file, or
     * read into memory when it cannot be mapped), or null if they fail their checksum.
     */
    ByteBuffer block(Entry e, int i, long at) {
      int len = e.words[i] & ~DataWriter.UNCOMPRESSED_BIT;
      try {
        if (at < 0 || at + len > dataLength) {
          return null;
        }
        ByteBuffer b = mapped(at, len);
        if (b == null) {
          byte[] a = new byte[len];
          readFully(channel, ByteBuffer.wrap(a), at);
          b = ByteBuffer.wrap(a);
        }
        CRC32C crc = new CRC32C();
        crc.update(b.duplicate());
        if ((int) crc.getValue() == e.storedCrcs[i]) {
          return b;
        }
      } catch (IOException | RuntimeException | InternalError ex) {
        // truncated under us (a mapped page gone: InternalError), or unreadable: as corrupt
      }
      return null;
    }

    /**
     * {@code len} bytes at {@code at} as a view of the mapped file, or null when mapping fails. A
     * page fault of a mapping costs less than a read call and its copy; the blocks then go from
     * the page cache into the image's staging buffer in one copy.
     */
    private ByteBuffer mapped(long at, int len) {
      int k = (int) (at / SEGMENT);
      if (segments == null) {
        segments = new java.nio.MappedByteBuffer[(int) ((dataLength + SEGMENT - 1) / SEGMENT)];
      }
      if (segments[k] == null) {
        long start = (long) k * SEGMENT;
        long length = Math.min(SEGMENT + SquashfsOptions.MAX_BLOCK_SIZE, dataLength - start);
        try {
          segments[k] = channel.map(FileChannel.MapMode.READ_ONLY, start, length);
        } catch (IOException | RuntimeException e) {
          return null;
        }
      }
      return segments[k].slice((int) (at - (long) k * SEGMENT), len);
    }

    @Override
    public void close() {
      closeQuietly(channel);
    }
  }

  /** One stored run, open for reading from its file. */
  final class Run implements Closeable {
    private final Pack pack;
    private final Entry entry;
    final int count;
    private int next;
    private long nextAt;

    private Run(Pack pack, Entry entry) {
      this.pack = pack;
      this.entry = entry;
      this.count = entry.count;
      this.nextAt = entry.dataOffset;
    }

    int word(int i) {
      return entry.words[i];
    }

    int contentCrc(int i) {
      return entry.contentCrcs[i];
    }

    /**
     * The stored bytes of block {@code i}, checked against their CRC32C; null if they do not match
     * (the run is then marked bad: no block of it is used again, and it is left out, rebuilt, when
     * its file is rewritten).
     */
    ByteBuffer block(int i) {
      if (entry.bad) {
        return null;
      }
      long at = i == next ? nextAt : entry.offset(i);
      ByteBuffer b = pack.block(entry, i, at);
      if (b == null) {
        entry.bad = true;
        corruptFiles.increment();
        return null;
      }
      next = i + 1;
      nextAt = at + b.remaining();
      return b;
    }

    @Override
    public void close() {
      // the file stays open for the render's other runs; its Reader closes it
    }
  }

  // ---- writing

  /** A run this render compressed, to store: where its blocks are in the finished image. */
  record NewRun(ContentOrigin origin, byte[] fragmentId, int[] words, int[] contentCrcs, long start) {

    /** A file's full blocks. */
    static NewRun file(ContentOrigin origin, int[] words, int[] contentCrcs, long start) {
      return new NewRun(origin, null, words, contentCrcs, start);
    }

    /** A fragment block whose first tail is {@code first}'s. */
    static NewRun fragment(ContentOrigin first, byte[] id, int word, int contentCrc, long start) {
      return new NewRun(first, id, new int[] {word}, new int[] {contentCrc}, start);
    }
  }

  /**
   * Adds {@code runs}, all of layer {@code layer}, to the layer's file, reading their blocks from
   * the image in {@code image}: writes a new file with the runs the current file holds (each block
   * checked as it is copied; a run that fails is left out) and these, and renames it into place.
   * Failures are counted and swallowed: a store that cannot be written only means compressing again
   * next time.
   */
  void put(byte[] settings, Digest layer, List<NewRun> runs, FileChannel image) {
    Path target = file(settings, layer);
    Path tmp = null;
    Pack old = Pack.open(this, target, false);
    try {
      tmp = Files.createTempFile(dir, ".tmp-", ".tmp");
      ByteBuffer index = ByteBuffer.allocate(1024).order(ByteOrder.LITTLE_ENDIAN);
      int count = 0;
      long written = 0;
      try (FileChannel out = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
        ByteBuffer buf = ByteBuffer.allocate(SquashfsOptions.MAX_BLOCK_SIZE);
        CRC32C crc = new CRC32C();
        java.util.Set<Long> newFiles = new java.util.HashSet<>();
        java.util.Set<Id> newFragments = new java.util.HashSet<>();
        for (NewRun r : runs) {
          if (r.fragmentId() == null) {
            newFiles.add(r.origin().ordinal());
          } else {
            newFragments.add(new Id(r.fragmentId()));
          }
        }
        if (old != null) {
          for (Entry e : old.entries) {
            if (e.bad || (e.kind == FILE_RUN ? newFiles.contains(e.ordinal) : newFragments.contains(new Id(e.id)))) {
              continue;
            }
            ByteBuffer data = ByteBuffer.allocate((int) e.storedLength());
            readFully(old.channel, data, e.dataOffset);
            boolean intact = true;
            for (int i = 0, at = 0; i < e.count; i++) {
              int len = e.words[i] & ~DataWriter.UNCOMPRESSED_BIT;
              crc.reset();
              crc.update(data.array(), at, len);
              intact &= (int) crc.getValue() == e.storedCrcs[i];
              at += len;
            }
            if (!intact) {
              corruptFiles.increment();
              continue;
            }
            data.flip();
            written += writeFully(out, data);
            index = entryHeader(index, e.kind, e.ordinal, e.size, e.id, e.count);
            for (int i = 0; i < e.count; i++) {
              index.putInt(e.words[i]).putInt(e.contentCrcs[i]).putInt(e.storedCrcs[i]);
            }
            count++;
          }
        }
        for (NewRun r : runs) {
          byte kind = r.fragmentId() == null ? FILE_RUN : FRAGMENT;
          int[] words = r.words();
          index = entryHeader(index, kind, r.origin().ordinal(), r.origin().size(), r.fragmentId(), words.length);
          long at = r.start();
          for (int i = 0; i < words.length; i++) {
            int len = words[i] & ~DataWriter.UNCOMPRESSED_BIT;
            buf.clear().limit(len);
            readFully(image, buf, at);
            at += len;
            crc.reset();
            crc.update(buf.array(), 0, len);
            index.putInt(words[i]).putInt(r.contentCrcs()[i]).putInt((int) crc.getValue());
            buf.flip();
            written += writeFully(out, buf);
          }
          count++;
        }
        index.flip();
        ByteBuffer trailer = ByteBuffer.allocate(TRAILER).order(ByteOrder.LITTLE_ENDIAN);
        String name = target.getFileName().toString();
        trailer.putInt(count).putLong(index.limit()).put(HexFormat.of().parseHex(name.substring(0, name.length() - 4)));
        crc.reset();
        crc.update(index.array(), 0, index.limit());
        crc.update(trailer.array(), 0, 4 + 8 + 32);
        trailer.putInt((int) crc.getValue()).putInt(MAGIC);
        trailer.flip();
        written += writeFully(out, index);
        written += writeFully(out, trailer);
      }
      try {
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        throw new IOException("the cache directory does not support atomic renames: " + dir, e);
      }
      tmp = null;
      fileAdded.accept(old == null ? written : Math.max(0, written - old.sizeOr0()));
    } catch (IOException | RuntimeException e) {
      writeFailures.increment();
    } finally {
      if (old != null) {
        old.close();
      }
      if (tmp != null) {
        try {
          Files.deleteIfExists(tmp);
        } catch (IOException e) {
          // left for the cache's eviction
        }
      }
    }
  }

  /** Appends a run's kind, identity and block count to {@code index}, growing it as needed. */
  private static ByteBuffer entryHeader(ByteBuffer index, byte kind, long ordinal, long size, byte[] id, int blocks) {
    int need = 1 + 32 + 4 + 12 * blocks;
    if (index.remaining() < need) {
      ByteBuffer bigger = ByteBuffer.allocate(Math.max(index.capacity() * 2, index.position() + need))
          .order(ByteOrder.LITTLE_ENDIAN);
      index.flip();
      bigger.put(index);
      index = bigger;
    }
    index.put(kind);
    if (kind == FILE_RUN) {
      index.putLong(ordinal).putLong(size);
    } else {
      index.put(id);
    }
    return index.putInt(blocks);
  }

  private static long writeFully(FileChannel out, ByteBuffer b) throws IOException {
    long n = b.remaining();
    while (b.hasRemaining()) {
      out.write(b);
    }
    return n;
  }

  private static void readFully(FileChannel ch, ByteBuffer into, long at) throws IOException {
    while (into.hasRemaining()) {
      int r = ch.read(into, at);
      if (r < 0) {
        throw new IOException("truncated");
      }
      at += r;
    }
  }

}
