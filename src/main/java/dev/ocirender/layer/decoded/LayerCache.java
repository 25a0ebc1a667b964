package dev.ocirender.layer.decoded;

import dev.ocirender.image.Digest;
import dev.ocirender.io.TempNames;
import dev.ocirender.io.TemporaryFiles;
import dev.ocirender.io.WorkCounters;
import dev.ocirender.layer.LayerBlob;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.io.InterruptedIOException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Predicate;
import java.util.stream.Stream;
import java.util.zip.CRC32C;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The layer work cache: a bounded, content-addressed directory of decoded layers, shared by every
 * render of a JVM and by several JVMs, so that a layer seen before is never decompressed again.
 *
 * <p>An entry is one layer's decoded tar stream, byte for byte, stored as {@link FrameFile} frames
 * (LZ4, CRC32C per frame) followed by a {@linkplain #TRAILER_SIZE trailer}; see the package
 * documentation for the layout of the cache root, which the squashfs block cache shares. A layer
 * is keyed by its descriptor digest (the compressed blob's digest, or the diff ID where the source
 * has only that) and a variant naming what else decides how the blob decodes: its media type and
 * the uncompressed digest it must have. An entry is only ever written from a decoding that reached
 * the end of the blob with its digests verified, so a hit needs no blob at all.
 *
 * <p>{@link #attach} wires a render's layers to the cache ({@link LayerBlob.DecodeHook}): an
 * opening finds the entry (a hit: its mtime is set to now, which is what eviction orders by) or
 * decodes the blob and copies the decoded bytes into a new entry as the merge reads them (a miss;
 * the entry is renamed into place only once the stream ended cleanly).
 *
 * <p>A layer is decoded once per JVM even when several renders miss it at once (the workers of a
 * job start on images of the same base): the first claims its decoding ({@link Decoding}), and a
 * render that misses a layer claimed by another reads that render's copy as it is being written,
 * frame by frame right behind the writer ({@link FollowingLayerStream}; a hit), instead of idling
 * until the whole layer is done. When the copy is dropped before its end (the first render failed
 * or stopped), the follower goes on from its own decoding of the blob at the same offset. The wait
 * is bounded: when the claim makes no progress for {@link #DEFAULT_STALL} (its render is stuck, or
 * waits in turn for a layer this render is decoding), the waiter gives up and decodes it too.
 * Renders in other JVMs sharing the root are not coordinated: both decode and both rename,
 * and either copy is the same bytes.
 *
 * <p>Damage never reaches an output: an entry whose trailer is missing or wrong is deleted and
 * treated as a miss; a frame that fails its checksum while being read is reported, the entry
 * deleted, and the stream continues from the blob, decoded afresh and skipped to the same offset
 * (the bytes already delivered came from checked frames, so the merge sees exactly the decoded
 * stream). That fresh decoding rebuilds the entry.
 *
 * <p>Writing the cache is best effort: when an entry cannot be created or written (disk full, no
 * permission) the render goes on from the blob and the cache simply misses next time. Thread-safe.
 */
public final class LayerCache {

  /** The logger, made on first use: initialising SLF4J (a service lookup) is start-up time a render without a cache event need not pay. */
  private static final class Log {
    static final Logger LOG = LoggerFactory.getLogger(LayerCache.class);
  }

  /** The subdirectory of the root for decoded layers. */
  public static final String LAYERS = "layers";

  /** The subdirectory of the root that the squashfs block cache uses (evicted here too). */
  public static final String BLOCKS = "blocks";

  /** The file name ending of an entry. */
  static final String SUFFIX = ".layer";

  /** "OCIRLAY1": the trailer's magic, also the format version of entries. */
  private static final long TRAILER_MAGIC = 0x4f4349524c415931L;

  /**
   * Trailer: magic (8), frame count (8), decoded length (8), length of the frames before it (8),
   * CRC32C of those 32 bytes (4); little-endian. A file whose last bytes are not such a trailer
   * for exactly the bytes before it is incomplete or damaged.
   */
  static final int TRAILER_SIZE = 36;

  /**
   * How long a render waits for another render's decoding of a layer that makes no progress (no
   * bytes decoded) before it decodes the layer itself. Long enough for a decoding whose merge is
   * busy (a big file being compressed), short enough that two renders each waiting for a layer the
   * other decodes (opposite layer orders) lose little.
   */
  static final Duration DEFAULT_STALL = Duration.ofSeconds(30);

  /** Temporaries of crashed writers older than this are removed by a scan. */
  private static final Duration STALE_TEMPORARY = Duration.ofHours(1);

  private final Path root;
  private final Path layers;
  private final long maxBytes;
  private final AtomicLong estimate = new AtomicLong();
  private final AtomicLong addedSinceScan = new AtomicLong();
  private final ReentrantLock evicting = new ReentrantLock();
  /** Set by every caller of {@link #evict}: whoever holds the lock scans again while it is set. */
  private final AtomicBoolean evictRequested = new AtomicBoolean();
  /** The decodings of entries under way in this JVM, by entry. */
  private final ConcurrentHashMap<Path, Decoding> decodings = new ConcurrentHashMap<>();
  /** Renders waiting for another's decoding now (for tests and diagnostics). */
  private final AtomicInteger waiting = new AtomicInteger();
  private volatile Duration stall = DEFAULT_STALL;

  private LayerCache(Path root, long maxBytes) {
    this.root = root;
    this.layers = root.resolve(LAYERS);
    this.maxBytes = maxBytes;
  }

  /**
   * The cache at {@code root} (created if absent), holding at most about {@code maxBytes} on disk
   * over all its files; evicts at once if it holds more.
   */
  public static LayerCache open(Path root, long maxBytes) throws IOException {
    if (maxBytes <= 0) {
      throw new IllegalArgumentException("layer cache size must be positive: " + maxBytes);
    }
    LayerCache cache = new LayerCache(root.toAbsolutePath(), maxBytes);
    Files.createDirectories(cache.layers);
    cache.evict();
    return cache;
  }

  /** Caches opened by {@link #shared}, by root. */
  private static final ConcurrentHashMap<Path, LayerCache> SHARED = new ConcurrentHashMap<>();

  /**
   * The one cache of this JVM at {@code root}, opened on first use: every render of a worker goes
   * through the same instance, so their size estimate and eviction are one. The size of the first
   * opening stands.
   */
  public static LayerCache shared(Path root, long maxBytes) throws IOException {
    Path key = root.toAbsolutePath().normalize();
    LayerCache cache = SHARED.get(key);
    if (cache == null) {
      synchronized (SHARED) {
        cache = SHARED.get(key);
        if (cache == null) {
          cache = open(key, maxBytes);
          SHARED.put(key, cache);
        }
      }
    }
    return cache;
  }

  public Path root() {
    return root;
  }

  public long maxBytes() {
    return maxBytes;
  }

  /**
   * {@code layers} wired to {@code cache} (when it is null, to no cache: only the bytes decoded are
   * counted), reporting hits, misses and bytes to {@code counters}.
   */
  public static List<LayerBlob> attach(LayerCache cache, List<LayerBlob> layers, WorkCounters counters) {
    return attach(cache, layers, counters, KEEP_ALL);
  }

  /** Keeps every layer it misses: the CLI's policy (a user's next render may use any of them). */
  public static final Predicate<LayerBlob> KEEP_ALL = layer -> true;

  /**
   * As {@link #attach(LayerCache, List, WorkCounters)}, adding to the cache only the layers that
   * {@code keep} accepts: a layer it rejects is still read from the cache when there (a hit), but a
   * miss decodes it without writing an entry, without claiming its decoding and without waiting for
   * another render's. A catalog job passes the layers that more than one of its images use: a
   * layer of one image is read once, so writing it (LZ4, CRC32C, its disk) costs more than it can
   * save. The decoded bytes are the same either way.
   */
  public static List<LayerBlob> attach(LayerCache cache, List<LayerBlob> layers, WorkCounters counters,
      Predicate<LayerBlob> keep) {
    Hook hook = new Hook(cache, Objects.requireNonNull(counters, "counters"), Objects.requireNonNull(keep, "keep"));
    List<LayerBlob> out = new ArrayList<>(layers.size());
    for (LayerBlob layer : layers) {
      out.add(layer.withDecodeHook(hook));
    }
    return out;
  }

  /** Where the entry for {@code layer} is (or would be). */
  public Path entryFor(LayerBlob layer) {
    Digest digest = layer.descriptor().digest();
    return layers.resolve(digest.algorithm() + "-" + digest.hex() + "-" + variant(layer) + SUFFIX);
  }

  /**
   * What besides the digest decides how the blob decodes: its media type (a blob declared as zstd
   * but holding gzip must fail, not hit a gzip decoding's entry) and the uncompressed digest it is
   * checked against. 12 hex digits of a SHA-256 over both.
   */
  private static String variant(LayerBlob layer) {
    String mediaType = layer.descriptor().mediaType();
    Digest verify = layer.verifyUncompressed();
    String text = (mediaType == null ? "" : mediaType) + "\n" + (verify == null ? "" : verify.toString());
    try {
      byte[] sha = MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(sha, 0, 6);
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * Records that {@code bytes} of new files were renamed into the root (by this cache or by
   * another user of the root in this JVM, such as the block cache), and evicts if the cache may
   * now be over its size. Also rescans after every tenth of the size written, which catches up
   * with what other JVMs sharing the root wrote.
   */
  public void fileAdded(long bytes) {
    long now = estimate.addAndGet(bytes);
    long since = addedSinceScan.addAndGet(bytes);
    if (now > maxBytes || since > maxBytes / 10) {
      evict();
    }
  }

  /**
   * Scans every regular file under the root and deletes the least recently used (oldest mtime)
   * until the total is at most nine tenths of the size; removes temporaries that crashed writers
   * left. Returns the bytes on disk afterwards. One scan at a time: a caller that finds another
   * scan running returns at once, and that scan runs once more when it ends, since it may have
   * listed the directories before this caller's file was renamed into place.
   */
  public long evict() {
    evictRequested.set(true);
    long total = estimate.get();
    while (evictRequested.get() && evicting.tryLock()) {
      try {
        evictRequested.set(false);
        total = evictOnce();
      } finally {
        evicting.unlock();
      }
    }
    return total;
  }

  private long evictOnce() {
    List<CachedFile> files = scan();
    long total = 0;
    for (CachedFile f : files) {
      total += f.size;
    }
    long target = total > maxBytes ? maxBytes - maxBytes / 10 : total;
    files.sort(Comparator.comparing((CachedFile f) -> f.modified).thenComparing(f -> f.path.toString()));
    for (int i = 0; i < files.size() && total > target; i++) {
      CachedFile f = files.get(i);
      if (TemporaryFiles.OUTPUT_TEMPORARY.matcher(f.path.getFileName().toString()).matches()) {
        continue; // being written now (stale ones went in the scan); its writer renames or removes it
      }
      try {
        // A render reading this file keeps its open descriptor: on Linux the data stays until closed.
        if (Files.deleteIfExists(f.path)) {
          total -= f.size;
        }
      } catch (IOException e) {
        Log.LOG.debug("could not evict {}: {}", f.path, e.toString());
      }
    }
    estimate.set(total);
    addedSinceScan.set(0);
    return total;
  }

  /** Bytes of the regular files under the root now (entries and temporaries being written). */
  public long sizeOnDisk() {
    long total = 0;
    for (CachedFile f : scan()) {
      total += f.size;
    }
    return total;
  }

  private record CachedFile(Path path, long size, FileTime modified) {}

  /** Every regular file under the root; stale temporaries are deleted on the way. */
  private List<CachedFile> scan() {
    List<CachedFile> files = new ArrayList<>();
    FileTime stale = FileTime.fromMillis(System.currentTimeMillis() - STALE_TEMPORARY.toMillis());
    try (Stream<Path> walk = Files.walk(root)) {
      walk.forEach(p -> {
        BasicFileAttributes a;
        try {
          a = Files.readAttributes(p, BasicFileAttributes.class);
        } catch (IOException e) {
          return; // gone meanwhile (evicted by another JVM)
        }
        if (!a.isRegularFile()) {
          return;
        }
        String name = p.getFileName().toString();
        if (TemporaryFiles.OUTPUT_TEMPORARY.matcher(name).matches() && a.lastModifiedTime().compareTo(stale) < 0) {
          try {
            Files.deleteIfExists(p);
            return;
          } catch (IOException e) {
            // counted below like any other file
          }
        }
        files.add(new CachedFile(p, a.size(), a.lastModifiedTime()));
      });
    } catch (IOException | UncheckedIOException e) {
      // A file vanishing under the walk (another JVM evicting) ends it early: this pass is partial,
      // the next one catches up.
      Log.LOG.debug("scanning layer cache {}: {}", root, e.toString());
    }
    return files;
  }

  /** Deletes a damaged entry, unless another writer has already replaced it with a new file. */
  void discard(Path entry, Object fileKey, String why) {
    Log.LOG.warn("layer cache entry {} is damaged ({}); deleting it, the layer is decoded from its blob", entry, why);
    try {
      BasicFileAttributes now = Files.readAttributes(entry, BasicFileAttributes.class);
      if (fileKey == null || fileKey.equals(now.fileKey())) {
        Files.deleteIfExists(entry);
      }
    } catch (NoSuchFileException e) {
      // already gone
    } catch (IOException e) {
      Log.LOG.debug("could not delete {}: {}", entry, e.toString());
    }
  }

  /**
   * One render's decoding of one entry, claimed so that other renders of this JVM missing the same
   * layer wait for its entry instead of decoding the layer too. Ended ({@link #release}) when the
   * entry is in place or the copy was dropped; it counts as stalled when no bytes were decoded for
   * the {@link #stall} time (its render stopped reading, or never started).
   */
  static final class Decoding {
    private final Thread owner = Thread.currentThread();
    private final CountDownLatch ended = new CountDownLatch(1);
    private volatile long lastProgress = System.nanoTime();
    /** The temporary the copy goes to, once it is being written; null before. */
    private volatile Path temporary;
    /** Bytes of complete frames in {@link #temporary}, from its start. */
    private volatile long written;
    /** Set once the entry is in place with every frame of {@link #written}. */
    private volatile boolean committed;
    private final Object changes = new Object();

    /** Bytes were decoded: the decoding is alive. */
    void progressed() {
      lastProgress = System.nanoTime();
    }

    boolean stalled(Duration stall) {
      return System.nanoTime() - lastProgress > stall.toNanos();
    }

    /** The copy is being written to {@code file}: renders waiting for the layer may follow it. */
    void writing(Path file) {
      temporary = file;
      signal();
    }

    /** Frames up to {@code framesEnd} are complete in the temporary. */
    void wrote(long framesEnd) {
      written = framesEnd;
      signal();
    }

    /** The entry is in place (called before the claim is released). */
    void committed() {
      committed = true;
    }

    Path temporary() {
      return temporary;
    }

    long written() {
      return written;
    }

    boolean isCommitted() {
      return committed;
    }

    boolean hasEnded() {
      return ended.getCount() == 0;
    }

    /** Waits at most {@code millis} for the copy to start or the decoding to end. */
    void awaitWriting(long millis) throws InterruptedException {
      synchronized (changes) {
        if (temporary == null && !hasEnded()) {
          changes.wait(millis);
        }
      }
    }

    /** Waits at most {@code millis} for frames beyond {@code position} or the end of the decoding. */
    void awaitFramesBeyond(long position, long millis) throws InterruptedException {
      synchronized (changes) {
        if (written <= position && !committed && !hasEnded()) {
          changes.wait(millis);
        }
      }
    }

    private void signal() {
      synchronized (changes) {
        changes.notifyAll();
      }
    }

    private void end() {
      ended.countDown();
      signal();
    }
  }

  /**
   * Claims the decoding of {@code entry} for the calling thread: the new claim, or null when
   * another decoding of it is under way and not stalled (a stalled claim is taken over).
   */
  Decoding tryClaim(Path entry) {
    Decoding mine = new Decoding();
    Duration limit = stall;
    return decodings.compute(entry, (k, held) -> held == null || held.stalled(limit) ? mine : held) == mine ? mine : null;
  }

  /** Ends {@code decoding} of {@code entry} (its entry is in place, or will not be): its waiters go on. Idempotent. */
  void release(Path entry, Decoding decoding) {
    decodings.remove(entry, decoding);
    decoding.end();
  }

  /**
   * Waits for another thread's decoding of {@code entry} to write its copy or to end: its stream
   * ({@link FollowingLayerStream}) once the copy is being written, so the caller reads the frames
   * right behind the writer instead of idling until the whole layer is done; {@link #LOOK_AGAIN}
   * once it ended (its entry is in place, or it failed) or when there is none; null when the caller
   * should decode the layer itself: the decoding under way is its own thread's, or it stalled.
   */
  InputStream awaitDecodingOf(Path entry, LayerBlob layer, WorkCounters counters) throws InterruptedIOException {
    Decoding theirs = decodings.get(entry);
    if (theirs == null) {
      return LOOK_AGAIN;
    }
    if (theirs.owner == Thread.currentThread()) {
      return null;
    }
    waiting.incrementAndGet();
    try {
      Duration limit = stall;
      long poll = Math.max(1, limit.toMillis() / 4);
      while (!theirs.hasEnded()) {
        Path temporary = theirs.temporary();
        if (temporary != null) {
          InputStream following = FollowingLayerStream.open(this, theirs, temporary, layer, counters);
          return following != null ? following : LOOK_AGAIN; // null: renamed or dropped meanwhile
        }
        theirs.awaitWriting(poll);
        if (theirs.stalled(limit)) {
          Log.LOG.info("layer cache: the decoding of {} by another render made no progress for {} ms; decoding it here too",
              entry.getFileName(), limit.toMillis());
          return null;
        }
      }
      return LOOK_AGAIN;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("waiting for another render's decoding of " + entry.getFileName());
    } finally {
      waiting.decrementAndGet();
    }
  }

  /** What {@link #awaitDecodingOf} answers when the caller should look for the entry again. */
  static final InputStream LOOK_AGAIN = InputStream.nullInputStream();

  /** How long a render waits for another's decoding that makes no progress. */
  Duration stall() {
    return stall;
  }

  /** How many renders are waiting for another's decoding now. */
  int waitingForDecodings() {
    return waiting.get();
  }

  /** Sets how long a waiter tolerates a decoding without progress (tests use a short one). */
  void stallAfter(Duration duration) {
    stall = Objects.requireNonNull(duration, "duration");
  }

  static ByteBuffer trailer(long frames, long decodedLength, long framesLength) {
    ByteBuffer t = ByteBuffer.allocate(TRAILER_SIZE).order(ByteOrder.LITTLE_ENDIAN);
    t.putLong(TRAILER_MAGIC).putLong(frames).putLong(decodedLength).putLong(framesLength);
    CRC32C crc = new CRC32C();
    crc.update(t.array(), 0, 32);
    t.putInt((int) crc.getValue());
    return t.flip();
  }

  /** The trailer's frame count, decoded length and frames length; throws if it is not a trailer for {@code size}. */
  static long[] checkTrailer(ByteBuffer t, long size) throws IOException {
    CRC32C crc = new CRC32C();
    crc.update(t.array(), 0, 32);
    if (t.getLong(0) != TRAILER_MAGIC || t.getInt(32) != (int) crc.getValue()) {
      throw new IOException("no valid trailer (incomplete or damaged file)");
    }
    long framesLength = t.getLong(24);
    if (framesLength != size - TRAILER_SIZE) {
      throw new IOException("trailer says " + framesLength + " bytes of frames, the file has " + (size - TRAILER_SIZE));
    }
    return new long[] {t.getLong(8), t.getLong(16), framesLength};
  }

  /** Renames a finished temporary into place (replacing an equal entry another writer put there). */
  void commit(Path temporary, Path entry, long size) throws IOException {
    try {
      Files.move(temporary, entry, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (AtomicMoveNotSupportedException e) {
      Files.deleteIfExists(temporary);
      throw e;
    }
    fileAdded(size);
  }

  /** A new temporary beside {@code entry}, in the pattern {@link TemporaryFiles} recognises. */
  static Path temporaryFor(Path entry) {
    return entry.resolveSibling(TempNames.hidden(entry.getFileName().toString(), TempNames.TMP));
  }

  /** One render's view of the cache (or of no cache): the {@link LayerBlob.DecodeHook} of its layers. */
  private static final class Hook implements LayerBlob.DecodeHook {
    private final LayerCache cache;
    private final WorkCounters counters;
    private final Predicate<LayerBlob> keep;
    /** Decodings this render claimed in {@link #openCached}, until {@link #decoded} takes them up. */
    private final ConcurrentHashMap<Path, Decoding> claims = new ConcurrentHashMap<>();

    Hook(LayerCache cache, WorkCounters counters, Predicate<LayerBlob> keep) {
      this.cache = cache;
      this.counters = counters;
      this.keep = keep;
    }

    @Override
    public boolean sharesDecodings() {
      return cache != null;
    }

    @Override
    public InputStream openCached(LayerBlob layer) throws IOException {
      if (cache == null) {
        return null;
      }
      Path entry = cache.entryFor(layer);
      boolean waited = false;
      while (true) {
        CachedLayerStream stream = CachedLayerStream.open(cache, entry, layer, counters);
        if (stream != null) {
          try {
            Files.setLastModifiedTime(entry, FileTime.fromMillis(System.currentTimeMillis()));
          } catch (IOException e) {
            // evicted meanwhile: the open file reads on; LRU order is only a hint
          }
          counters.layerCacheHit();
          return stream;
        }
        if (!keep.test(layer)) {
          return null; // decoded by this render, not kept: no claim, and no waiting for another's
        }
        Decoding mine = cache.tryClaim(entry);
        if (mine != null) {
          claims.put(entry, mine); // taken up by decoded(), which the caller calls next
          return null;
        }
        // Another render is decoding this layer: follow its copy as it is written, or wait for its
        // entry once and look again. If it failed, claim it here; if it stalls, decode here without
        // a claim (the copy is kept all the same).
        if (waited) {
          return null;
        }
        InputStream next = cache.awaitDecodingOf(entry, layer, counters);
        if (next == null) {
          return null;
        }
        if (next != LOOK_AGAIN) {
          counters.layerCacheHit();
          return next;
        }
        waited = true;
      }
    }

    @Override
    public InputStream decoded(LayerBlob layer, InputStream decoded) {
      if (cache == null) {
        return new CachingLayerStream(decoded, null, null, counters, layer.toString(), null);
      }
      counters.layerCacheMiss();
      if (!keep.test(layer)) {
        return new CachingLayerStream(decoded, null, null, counters, layer.toString(), null);
      }
      Path entry = cache.entryFor(layer);
      Decoding claim = claims.remove(entry);
      if (claim == null) {
        claim = cache.tryClaim(entry); // decoded without asking the cache first (a decode-ahead): claim it now if free
      }
      return new CachingLayerStream(decoded, cache, entry, counters, layer.toString(), claim);
    }

    @Override
    public boolean holds(LayerBlob layer) {
      return cache != null && Files.isRegularFile(cache.entryFor(layer));
    }

    /** The blob failed before decoding: release the claim, so renders waiting for it go on now, not after the stall time. */
    @Override
    public void notDecoded(LayerBlob layer) {
      if (cache == null) {
        return;
      }
      Path entry = cache.entryFor(layer);
      Decoding claim = claims.remove(entry);
      if (claim != null) {
        cache.release(entry, claim);
      }
    }
  }
}
