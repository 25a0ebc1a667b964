package dev.ocirender.squashfs.writer;

import dev.ocirender.output.ContentOrigin;
import java.io.Closeable;
import java.io.IOException;
import java.io.UncheckedIOException;
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
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import java.util.zip.CRC32C;

/**
 * Compressed squashfs data blocks kept across renders, so that content already compressed (a
 * shared base layer's files, in a catalog of images) is written again without compressing it.
 *
 * <p>A value is everything needed to write a run of blocks byte for byte as the compressor would:
 * each block's size word (with its "stored raw" flag; 0 for a sparse block) and stored bytes. It is
 * keyed by the content's identity ({@link ContentOrigin}: layer digest, entry ordinal, size; or,
 * for a fragment block, the exact sequence of tails packed into it) and by the compression settings
 * (compressor, level, block size, and a fingerprint of the compressor implementation's output, so a
 * library upgrade that compresses differently misses instead of changing the image). Each value
 * also records a CRC32C of every block's uncompressed content: the writer only reuses a block whose
 * content it has just read and checksummed to the same value, so a wrong identity costs a
 * recompression, never a wrong image.
 *
 * <p>On disk, values live under {@code ROOT/blocks/}, one file per key, {@code <64 hex>.blk}. A
 * file is written to a temporary in the same directory ({@code .tmp-*.tmp}, left behind only by a
 * crash) and renamed into place (readers never see a partial file), carries CRC32C checksums of its table and of every stored block (a corrupt or
 * truncated file is deleted and its content compressed again), and has its mtime touched on every
 * hit: the layer cache that owns {@code ROOT} evicts by oldest mtime. Several renders in one JVM and
 * several JVMs may share a root. Small values are also kept in a bounded in-memory LRU.
 *
 * <p>Deliberately not done here: eviction (the owner of the cache root does it) and any decision
 * about what is a block; {@link SquashfsEntrySink} decides, so the image does not depend on what is
 * cached.
 */
public final class BlockStore {

  /** The directory under the cache root that holds this store's files. */
  public static final String DIRECTORY = "blocks";

  private static final int MAGIC = 0x4f534231; // "OSB1"
  /** count, key, table CRC, magic: the fixed trailer at the end of every file. */
  private static final int TRAILER = 4 + 32 + 4 + 4;
  private static final int MEMORY_VALUE_MAX = 1 << 20;
  private static final long MEMORY_BUDGET = 64L << 20;
  /** A memory hit touches the file at most this often, to keep eviction informed cheaply. */
  private static final long TOUCH_INTERVAL_MS = 60_000;

  private static final Map<Path, BlockStore> SHARED = new ConcurrentHashMap<>();
  private static final Map<String, byte[]> FINGERPRINTS = new ConcurrentHashMap<>();

  /**
   * Small values recently read, of every store in this JVM, by file path: one budget for the JVM
   * however many cache roots it uses. Guarded by itself.
   */
  private static final Map<Path, Cached> MEMORY = new LinkedHashMap<>(64, 0.75f, true);
  private static long memoryBytes;

  private final Path dir;
  private final LongAdder bytesReused = new LongAdder();
  private final LongAdder bytesCompressed = new LongAdder();
  private final LongAdder corruptFiles = new LongAdder();
  private final LongAdder writeFailures = new LongAdder();
  /** Told the size of every file this store adds: the cache root's owner, which evicts. */
  private volatile java.util.function.LongConsumer fileAdded = n -> {};

  private static final class Cached {
    final byte[] file;
    volatile long touched;

    Cached(byte[] file, long touched) {
      this.file = file;
      this.touched = touched;
    }
  }

  private BlockStore(Path dir) {
    this.dir = dir;
  }

  /**
   * The store under cache root {@code root} (its {@value #DIRECTORY} directory, created when
   * missing), one instance per root in this JVM so that renders share its memory layer.
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

  /** Files found corrupt or truncated (and deleted) so far. */
  public long corruptFiles() {
    return corruptFiles.sum();
  }

  /** Values that could not be written (full disk, ...); the render went on without them. */
  public long writeFailures() {
    return writeFailures.sum();
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

  /** The key of a file's full blocks. */
  static String fileKey(byte[] settings, ContentOrigin origin) {
    MessageDigest sha = sha256();
    sha.update(settings);
    sha.update((byte) 'F');
    update(sha, origin);
    return HexFormat.of().formatHex(sha.digest());
  }

  /** The key of a fragment block holding exactly these tails, in this order. */
  static String fragmentKey(byte[] settings, List<ContentOrigin> tails) {
    MessageDigest sha = sha256();
    sha.update(settings);
    sha.update((byte) 'T');
    sha.update(ByteBuffer.allocate(4).putInt(tails.size()).array());
    for (ContentOrigin t : tails) {
      update(sha, t);
    }
    return HexFormat.of().formatHex(sha.digest());
  }

  private static void update(MessageDigest sha, ContentOrigin o) {
    byte[] d = o.layer().toString().getBytes(StandardCharsets.UTF_8);
    sha.update(ByteBuffer.allocate(4 + d.length + 16).putInt(d.length).put(d).putLong(o.ordinal()).putLong(o.size())
        .array());
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  // ---- reading

  /**
   * The stored run for {@code key} if there is one of exactly {@code blocks} blocks with an intact
   * table, else null. Its blocks are checked one by one as they are read ({@link Run#block}).
   */
  Run find(String key, int blocks) {
    Cached c;
    synchronized (MEMORY) {
      c = MEMORY.get(file(key));
    }
    long now = System.currentTimeMillis();
    if (c != null) {
      if (now - c.touched > TOUCH_INTERVAL_MS) {
        c.touched = now;
        touch(file(key), now);
      }
      Run run = Run.open(this, key, new BytesSource(c.file), c.file.length);
      return run != null && run.count == blocks ? run : null;
    }
    Path file = file(key);
    FileChannel ch;
    long size;
    try {
      ch = FileChannel.open(file, StandardOpenOption.READ);
      size = ch.size();
    } catch (NoSuchFileException e) {
      return null;
    } catch (IOException e) {
      return null;
    }
    try {
      Source source;
      if (size <= MEMORY_VALUE_MAX) {
        byte[] all = new byte[(int) size];
        readFully(ch, ByteBuffer.wrap(all), 0);
        ch.close();
        source = new BytesSource(all);
        Run run = Run.open(this, key, source, size);
        if (run != null) {
          remember(key, all, now);
        }
        touch(file, now);
        return run != null && run.count == blocks ? run : null;
      }
      Run run = Run.open(this, key, new ChannelSource(ch), size);
      touch(file, now);
      if (run != null && run.count != blocks) {
        run.close();
        return null;
      }
      return run; // null when the table was bad (the channel is closed then)
    } catch (IOException e) {
      closeQuietly(ch);
      return null;
    }
  }

  private void remember(String key, byte[] file, long now) {
    synchronized (MEMORY) {
      Cached old = MEMORY.put(file(key), new Cached(file, now));
      memoryBytes += file.length - (old == null ? 0 : old.file.length);
      var it = MEMORY.entrySet().iterator();
      while (memoryBytes > MEMORY_BUDGET && it.hasNext()) {
        memoryBytes -= it.next().getValue().file.length;
        it.remove();
      }
    }
  }

  /** Drops a value found corrupt, from memory and disk. */
  void discard(String key) {
    corruptFiles.increment();
    synchronized (MEMORY) {
      Cached c = MEMORY.remove(file(key));
      if (c != null) {
        memoryBytes -= c.file.length;
      }
    }
    try {
      Files.deleteIfExists(file(key));
    } catch (IOException e) {
      // another process may hold or have removed it; the next render tries again
    }
  }

  Path file(String key) {
    return dir.resolve(key + ".blk");
  }

  private static void touch(Path file, long now) {
    try {
      Files.setLastModifiedTime(file, FileTime.fromMillis(now));
    } catch (IOException e) {
      // evicted meanwhile: harmless, the value in hand was verified
    }
  }

  /** Where a value's bytes are read from: the whole file in memory, or the open file. */
  private interface Source extends Closeable {
    void read(ByteBuffer into, long at) throws IOException;

    @Override
    default void close() {}
  }

  private record BytesSource(byte[] bytes) implements Source {
    @Override
    public void read(ByteBuffer into, long at) throws IOException {
      int n = into.remaining();
      if (at < 0 || at + n > bytes.length) {
        throw new IOException("truncated");
      }
      into.put(bytes, (int) at, n);
    }
  }

  private record ChannelSource(FileChannel channel) implements Source {
    @Override
    public void read(ByteBuffer into, long at) throws IOException {
      readFully(channel, into, at);
    }

    @Override
    public void close() {
      closeQuietly(channel);
    }
  }

  /**
   * One stored value, open for reading. File layout (little-endian): the stored bytes of every
   * block back to back; then per block its size word, the CRC32C of its uncompressed content and
   * the CRC32C of its stored bytes; then the block count, the 32-byte key, the CRC32C of the table
   * and the trailer, and a magic number.
   */
  static final class Run implements Closeable {
    private final BlockStore store;
    private final String key;
    private final Source source;
    final int count;
    private final int[] words;
    private final int[] contentCrcs;
    private final int[] storedCrcs;
    private final long[] offsets;
    private boolean broken;

    private Run(BlockStore store, String key, Source source, int count, ByteBuffer table) {
      this.store = store;
      this.key = key;
      this.source = source;
      this.count = count;
      words = new int[count];
      contentCrcs = new int[count];
      storedCrcs = new int[count];
      offsets = new long[count];
      long at = 0;
      for (int i = 0; i < count; i++) {
        words[i] = table.getInt();
        contentCrcs[i] = table.getInt();
        storedCrcs[i] = table.getInt();
        offsets[i] = at;
        at += words[i] & ~DataWriter.UNCOMPRESSED_BIT;
      }
    }

    /** The value in {@code source}, or null (and the file deleted) if its table does not check out. */
    static Run open(BlockStore store, String key, Source source, long size) {
      try {
        if (size < TRAILER) {
          throw new IOException("shorter than its trailer");
        }
        ByteBuffer trailer = ByteBuffer.allocate(TRAILER).order(ByteOrder.LITTLE_ENDIAN);
        source.read(trailer, size - TRAILER);
        trailer.flip();
        int count = trailer.getInt();
        byte[] storedKey = new byte[32];
        trailer.get(storedKey);
        int tableCrc = trailer.getInt();
        int magic = trailer.getInt();
        if (magic != MAGIC || count < 0 || (long) count * 12 > size - TRAILER
            || !HexFormat.of().formatHex(storedKey).equals(key)) {
          throw new IOException("bad trailer");
        }
        ByteBuffer table = ByteBuffer.allocate(count * 12).order(ByteOrder.LITTLE_ENDIAN);
        long tableAt = size - TRAILER - table.capacity();
        source.read(table, tableAt);
        CRC32C crc = new CRC32C();
        crc.update(table.array(), 0, table.capacity());
        crc.update(trailer.array(), 0, 4 + 32);
        if ((int) crc.getValue() != tableCrc) {
          throw new IOException("table checksum mismatch");
        }
        table.flip();
        Run run = new Run(store, key, source, count, table);
        long dataLength = count == 0 ? 0 : run.offsets[count - 1] + (run.words[count - 1] & ~DataWriter.UNCOMPRESSED_BIT);
        if (dataLength != tableAt) {
          throw new IOException("block lengths do not add up to the data length");
        }
        return run;
      } catch (IOException | RuntimeException e) {
        source.close();
        store.discard(key);
        return null;
      }
    }

    int word(int i) {
      return words[i];
    }

    int contentCrc(int i) {
      return contentCrcs[i];
    }

    /**
     * The stored bytes of block {@code i}, checked against their CRC32C; null if they do not match
     * (the value is then deleted, and no later block of it is used).
     */
    byte[] block(int i) {
      if (broken) {
        return null;
      }
      int len = words[i] & ~DataWriter.UNCOMPRESSED_BIT;
      byte[] b = new byte[len];
      try {
        source.read(ByteBuffer.wrap(b), offsets[i]);
        CRC32C crc = new CRC32C();
        crc.update(b);
        if ((int) crc.getValue() == storedCrcs[i]) {
          return b;
        }
      } catch (IOException e) {
        // truncated: as corrupt
      }
      broken = true;
      store.discard(key);
      return null;
    }

    @Override
    public void close() {
      source.close();
    }
  }

  // ---- writing

  /**
   * Stores the run of {@code words.length} blocks that the image in {@code image} holds from
   * {@code start} on, with the CRC32C of each block's uncompressed content. Failures are counted and
   * swallowed: a store that cannot be written only means compressing again next time.
   */
  void put(String key, int[] words, int[] contentCrcs, FileChannel image, long start) {
    Path tmp = null;
    try {
      tmp = Files.createTempFile(dir, ".tmp-", ".tmp");
      ByteBuffer table = ByteBuffer.allocate(words.length * 12).order(ByteOrder.LITTLE_ENDIAN);
      try (FileChannel out = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
        ByteBuffer buf = ByteBuffer.allocate(SquashfsOptions.MAX_BLOCK_SIZE);
        CRC32C crc = new CRC32C();
        long at = start;
        for (int i = 0; i < words.length; i++) {
          int len = words[i] & ~DataWriter.UNCOMPRESSED_BIT;
          buf.clear().limit(len);
          readFully(image, buf, at);
          at += len;
          crc.reset();
          crc.update(buf.array(), 0, len);
          table.putInt(words[i]).putInt(contentCrcs[i]).putInt((int) crc.getValue());
          buf.flip();
          while (buf.hasRemaining()) {
            out.write(buf);
          }
        }
        ByteBuffer trailer = ByteBuffer.allocate(TRAILER).order(ByteOrder.LITTLE_ENDIAN);
        trailer.putInt(words.length).put(HexFormat.of().parseHex(key));
        crc.reset();
        crc.update(table.array(), 0, table.capacity());
        crc.update(trailer.array(), 0, 4 + 32);
        trailer.putInt((int) crc.getValue()).putInt(MAGIC);
        table.flip();
        trailer.flip();
        while (table.hasRemaining()) {
          out.write(table);
        }
        while (trailer.hasRemaining()) {
          out.write(trailer);
        }
      }
      try {
        Files.move(tmp, file(key), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        throw new IOException("the cache directory does not support atomic renames: " + dir, e);
      }
      tmp = null;
      fileAdded.accept(table.capacity() + TRAILER + storedBytes(words));
    } catch (IOException | UncheckedIOException e) {
      writeFailures.increment();
    } finally {
      if (tmp != null) {
        try {
          Files.deleteIfExists(tmp);
        } catch (IOException e) {
          // left for the cache's eviction
        }
      }
    }
  }

  private static long storedBytes(int[] words) {
    long n = 0;
    for (int w : words) {
      n += w & ~DataWriter.UNCOMPRESSED_BIT;
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

  private static void closeQuietly(Closeable c) {
    try {
      c.close();
    } catch (IOException e) {
      // reading only
    }
  }
}
