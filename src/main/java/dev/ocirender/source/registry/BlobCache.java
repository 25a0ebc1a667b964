package dev.ocirender.source.registry;

import dev.ocirender.image.Descriptor;
import dev.ocirender.image.Digest;
import dev.ocirender.image.VerifyingInputStream;
import dev.ocirender.image.VerifyingInputStream.DigestMismatchException;
import dev.ocirender.io.Streams;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A content-addressed blob cache on local disk ({@code DIR/sha256/HEX}), shared by every image that
 * one process renders, and safe to share between processes.
 *
 * <ul>
 *   <li>A blob is downloaded at most once at a time per process: concurrent requests for one digest
 *       share one download. Readers do not wait for it to finish: {@link #open} returns a stream that
 *       follows the download as it is written, so the merge consumes a layer while it arrives.
 *   <li>A download is written to a unique temporary file, digested in the same pass, and renamed
 *       into place atomically only after its size and digest check out; a stream that follows a
 *       download ends only once that check has passed, and fails with the download's error
 *       otherwise. Other processes see either nothing or a complete, verified blob.
 *   <li>Reading a cached blob verifies it again while it streams (a damaged file is deleted), and
 *       marks it recently used. When the cache grows past its size, the least recently used blobs
 *       not open in this process are deleted.
 * </ul>
 *
 * <p>It knows nothing of registries: a {@link Fetcher} fills a download. It does not hold blobs in
 * memory, and it does not keep a blob that another process evicts while this one still needs it
 * for a later re-read: that re-read downloads it again.
 */
public final class BlobCache {

  /** Fills a download with the blob's bytes, resuming from {@link BlobPuller.Sink#position()} after breaks. */
  @FunctionalInterface
  public interface Fetcher {
    void fetch(BlobPuller.Sink sink) throws IOException;
  }

  private static final Map<Path, BlobCache> SHARED = new ConcurrentHashMap<>();
  private static final Duration STALE_TEMP = Duration.ofHours(24);

  private final Path dir;
  private final Path tmp;
  private final long maxBytes;
  private final Map<Digest, Download> inFlight = new ConcurrentHashMap<>();
  private final Map<Digest, AtomicInteger> openReaders = new ConcurrentHashMap<>();
  private final AtomicLong downloadsStarted = new AtomicLong();
  private final AtomicLong hits = new AtomicLong();
  private final AtomicLong bytesDownloaded = new AtomicLong();

  private BlobCache(Path dir, long maxBytes) throws IOException {
    this.dir = dir;
    this.tmp = dir.resolve("tmp");
    this.maxBytes = maxBytes;
    Files.createDirectories(tmp);
    removeStaleTemporaries();
  }

  /** The one cache of this process for {@code dir} (created if missing); the first caller's size wins. */
  public static BlobCache shared(Path dir, long maxBytes) throws IOException {
    Path key = dir.toAbsolutePath().normalize();
    try {
      return SHARED.computeIfAbsent(key, k -> {
        try {
          return new BlobCache(k, maxBytes);
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      });
    } catch (UncheckedIOException e) {
      throw new IOException("creating the blob cache " + key + ": " + e.getCause().getMessage(), e.getCause());
    }
  }

  public Path directory() {
    return dir;
  }

  /** Downloads started by this process (not cache hits): what tests count. */
  public long downloadsStarted() {
    return downloadsStarted.get();
  }

  /** Opens served from a complete cached copy. */
  public long hits() {
    return hits.get();
  }

  /** Blob bytes received from the network by this process's downloads (retried ranges counted again). */
  public long bytesDownloaded() {
    return bytesDownloaded.get();
  }

  /** Whether a complete, verified copy of {@code digest} is in the cache. */
  public boolean contains(Digest digest) {
    return Files.isRegularFile(pathOf(digest));
  }

  /**
   * Starts downloading {@code descriptor} on {@code executor} unless it is cached or already coming.
   */
  public void prefetch(Descriptor descriptor, Fetcher fetcher, Executor executor, String subject) {
    if (!contains(descriptor.digest())) {
      download(descriptor, fetcher, executor, subject);
    }
  }

  /**
   * Opens {@code descriptor}'s blob, verified: from the cache, or following a download (started
   * on {@code executor} if none is under way).
   *
   * @param subject for messages: {@code pulling blob sha256:… from registry/repo}
   */
  public InputStream open(Descriptor descriptor, Fetcher fetcher, Executor executor, String subject) throws IOException {
    Digest digest = descriptor.digest();
    InputStream cached = openCached(descriptor, subject);
    if (cached != null) {
      return cached;
    }
    return download(descriptor, fetcher, executor, subject).newReader();
  }

  private InputStream openCached(Descriptor descriptor, String subject) throws IOException {
    Path path = pathOf(descriptor.digest());
    InputStream in;
    try {
      in = Files.newInputStream(path);
    } catch (NoSuchFileException e) {
      return null;
    }
    hits.incrementAndGet();
    try {
      Files.setLastModifiedTime(path, FileTime.from(Instant.now()));
    } catch (IOException e) {
      // Evicted by another process after we opened it: the open file still reads whole.
    }
    pin(descriptor.digest());
    InputStream verifying = new VerifyingInputStream(in, descriptor.digest(), descriptor.size(), subject + " (cached)");
    return new FilterInputStream(verifying) {
      private boolean closed;

      @Override
      public int read(byte[] b, int off, int len) throws IOException {
        try {
          return super.read(b, off, len);
        } catch (DigestMismatchException e) {
          Files.deleteIfExists(path); // damaged on disk: the next open downloads it again
          throw e;
        }
      }

      @Override
      public void close() throws IOException {
        if (!closed) {
          closed = true;
          unpin(descriptor.digest());
        }
        super.close();
      }
    };
  }

  /**
   * Waits until no download of this process is in flight (they finish into the cache even after
   * the image that started them is closed), or the timeout passes; returns whether it is idle.
   */
  public boolean awaitIdle(java.time.Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!inFlight.isEmpty()) {
      if (System.nanoTime() > deadline) {
        return false;
      }
      Thread.sleep(10);
    }
    return true;
  }

  private Download download(Descriptor descriptor, Fetcher fetcher, Executor executor, String subject) {
    Download[] started = new Download[1];
    Download d = inFlight.computeIfAbsent(descriptor.digest(), k -> {
      started[0] = new Download(descriptor, subject);
      return started[0];
    });
    if (started[0] != null) {
      downloadsStarted.incrementAndGet();
      try {
        executor.execute(() -> started[0].run(fetcher));
      } catch (RejectedExecutionException e) {
        started[0].fail(new IOException(subject + ": the downloader is shut down", e));
      }
    }
    return d;
  }

  private Path pathOf(Digest digest) {
    return dir.resolve(digest.algorithm()).resolve(digest.hex());
  }

  private void pin(Digest digest) {
    openReaders.computeIfAbsent(digest, k -> new AtomicInteger()).incrementAndGet();
  }

  private void unpin(Digest digest) {
    openReaders.computeIfPresent(digest, (k, n) -> n.decrementAndGet() <= 0 ? null : n);
  }

  /** Deletes least recently used blobs until the cache fits, sparing blobs open or coming in this process. */
  private synchronized void evict(Digest justAdded) {
    record Entry(Path path, Digest digest, long size, long lastUsed) {}
    List<Entry> entries = new ArrayList<>();
    long total = 0;
    for (String algorithm : List.of("sha256", "sha512")) {
      Path sub = dir.resolve(algorithm);
      if (!Files.isDirectory(sub)) {
        continue;
      }
      try (DirectoryStream<Path> files = Files.newDirectoryStream(sub)) {
        for (Path p : files) {
          try {
            long size = Files.size(p);
            total += size;
            entries.add(new Entry(p, Digest.parse(algorithm + ":" + p.getFileName()), size,
                Files.getLastModifiedTime(p).toMillis()));
          } catch (IOException | IllegalArgumentException e) {
            // Gone meanwhile, or not ours.
          }
        }
      } catch (IOException e) {
        return;
      }
    }
    if (total <= maxBytes) {
      return;
    }
    entries.sort(Comparator.comparingLong(Entry::lastUsed));
    for (Entry e : entries) {
      if (total <= maxBytes) {
        break;
      }
      if (e.digest.equals(justAdded) || openReaders.containsKey(e.digest) || inFlight.containsKey(e.digest)) {
        continue;
      }
      try {
        Files.deleteIfExists(e.path);
        total -= e.size;
      } catch (IOException ignored) {
        // Another process may hold it differently; the next eviction tries again.
      }
    }
  }

  private void removeStaleTemporaries() {
    Instant cutoff = Instant.now().minus(STALE_TEMP);
    try (DirectoryStream<Path> files = Files.newDirectoryStream(tmp)) {
      for (Path p : files) {
        try {
          if (Files.getLastModifiedTime(p).toInstant().isBefore(cutoff)) {
            Files.deleteIfExists(p);
          }
        } catch (IOException ignored) {
          // Another process is cleaning up too.
        }
      }
    } catch (IOException ignored) {
      // Nothing to clean.
    }
  }

  /**
   * One blob coming in: a temporary file, the digest so far, and the readers following it. Bytes
   * up to {@code written} are in the file; {@code done} means verified and renamed into place.
   */
  private final class Download implements BlobPuller.Sink {
    private final Descriptor descriptor;
    private final String subject;
    private final Path temp;
    private final MessageDigest digest;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition progress = lock.newCondition();
    private FileChannel out;
    private long written;
    private boolean done;
    private IOException failure;

    Download(Descriptor descriptor, String subject) {
      this.descriptor = descriptor;
      this.subject = subject;
      this.temp = tmp.resolve(descriptor.digest().hex() + "." + UUID.randomUUID() + ".part");
      this.digest = descriptor.digest().newMessageDigest();
      pin(descriptor.digest());
    }

    void run(Fetcher fetcher) {
      try {
        lock.lock();
        try {
          if (failure != null) {
            return;
          }
          out = FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        } finally {
          lock.unlock();
        }
        fetcher.fetch(this);
        finish();
      } catch (IOException e) {
        fail(e);
      } catch (RuntimeException | Error e) {
        fail(new IOException(subject + ": " + e, e));
        throw e;
      } finally {
        inFlight.remove(descriptor.digest(), this);
        unpin(descriptor.digest());
      }
    }

    @Override
    public long position() {
      lock.lock();
      try {
        return written;
      } finally {
        lock.unlock();
      }
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      if (written + len > descriptor.size()) {
        throw new DigestMismatchException(subject + ": more than the expected " + descriptor.size() + " bytes");
      }
      digest.update(b, off, len);
      ByteBuffer buffer = ByteBuffer.wrap(b, off, len);
      while (buffer.hasRemaining()) {
        out.write(buffer);
      }
      bytesDownloaded.addAndGet(len);
      lock.lock();
      try {
        written += len;
        progress.signalAll();
      } finally {
        lock.unlock();
      }
    }

    private void finish() throws IOException {
      if (written != descriptor.size()) {
        throw new DigestMismatchException(subject + ": size mismatch, expected " + descriptor.size()
            + " bytes but got " + written);
      }
      byte[] actual = digest.digest();
      if (!descriptor.digest().matches(actual)) {
        throw new DigestMismatchException(subject + ": digest mismatch, expected " + descriptor.digest() + " but got "
            + descriptor.digest().algorithm() + ":" + HexFormat.of().formatHex(actual));
      }
      out.close();
      Path target = pathOf(descriptor.digest());
      Files.createDirectories(target.getParent());
      // Under the lock: a reader that sees "not done" opens the temporary, which must still be there.
      lock.lock();
      try {
        Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        done = true;
        progress.signalAll();
      } catch (AtomicMoveNotSupportedException e) {
        throw new IOException(subject + ": the blob cache " + dir + " cannot rename atomically", e);
      } finally {
        lock.unlock();
      }
      evict(descriptor.digest());
    }

    void fail(IOException e) {
      lock.lock();
      try {
        if (done) {
          return;
        }
        failure = e;
        progress.signalAll();
      } finally {
        lock.unlock();
      }
      try {
        if (out != null) {
          out.close();
        }
        Files.deleteIfExists(temp);
      } catch (IOException ignored) {
        // Removed at the next start as a stale temporary.
      }
    }

    /** A stream over the blob that follows this download, ending only once it is verified. */
    InputStream newReader() throws IOException {
      lock.lock();
      try {
        if (failure != null) {
          throw rethrow(failure);
        }
        if (done) {
          InputStream cached = openCached(descriptor, subject);
          if (cached != null) {
            return cached;
          }
          throw new IOException(subject + ": the downloaded blob was evicted from the cache at once; is it too small?");
        }
        pin(descriptor.digest());
        return new Follower();
      } finally {
        lock.unlock();
      }
    }

    private IOException rethrow(IOException e) {
      // A new exception per reader, of the same kind, so that corrupt data stays recognisable.
      return e instanceof DigestMismatchException ? new DigestMismatchException(e.getMessage())
          : e instanceof RegistryException r ? new RegistryException(r.getMessage(), r.status(), r)
          : new IOException(e.getMessage(), e);
    }

    private final class Follower extends InputStream {
      private FileChannel in;
      private long pos;
      private boolean closed;

      @Override
      public int read() throws IOException {
        return Streams.readByte(this);
      }

      @Override
      public int read(byte[] b, int off, int len) throws IOException {
        if (len == 0) {
          return 0;
        }
        long available;
        boolean finished;
        lock.lock();
        try {
          while (pos >= written && !done && failure == null) {
            progress.await();
          }
          if (failure != null) {
            throw rethrow(failure);
          }
          available = written - pos;
          finished = done;
          if (in == null && available > 0) {
            // Opened under the lock, before a failure could delete the temporary or a rename move it.
            in = FileChannel.open(done ? pathOf(descriptor.digest()) : temp, StandardOpenOption.READ);
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new InterruptedIOException(subject + ": interrupted while waiting for the download");
        } finally {
          lock.unlock();
        }
        if (available <= 0 && finished) {
          return -1;
        }
        int n = in.read(ByteBuffer.wrap(b, off, (int) Math.min(len, available)), pos);
        if (n > 0) {
          pos += n;
        }
        return n;
      }

      @Override
      public void close() throws IOException {
        if (!closed) {
          closed = true;
          unpin(descriptor.digest());
          if (in != null) {
            in.close();
          }
        }
      }
    }
  }
}
