package dev.ocirender.store;

import dev.ocirender.io.TemporaryFiles;
import dev.ocirender.io.TempNames;
import java.io.BufferedOutputStream;
import java.io.Closeable;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.DirectoryStream;
import java.nio.file.LinkOption;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * A local file that appears under its final name all at once, or not at all.
 *
 * <p>Bytes go to a temporary file beside the target ({@code .NAME.tmp-RANDOM}, same directory so
 * the final rename never crosses a filesystem). {@link #publish()} makes the content durable and
 * renames it onto the target in one step, replacing an existing file; {@link #close()} without a
 * publish deletes the temporary file. So a reader of the target path sees either the old file (or
 * nothing) or the complete new one, never a partial write, and a failed write leaves no debris.
 *
 * <p>Writing: where the file system allows {@code O_DIRECT}, {@link #stream()} hands its bytes to
 * a thread of its own that writes them with it (no copy into the page cache; see
 * {@link WriterThreadStream}); elsewhere, or with {@code -Docirender.directWrite=false}, it writes
 * through the page cache on the caller's thread.
 *
 * <p>Writing back early: the fsync of a publish has to wait for every byte still only in the page
 * cache (or, after direct writes, in the disk's write cache), which for an output of hundreds of MB
 * stalls the render for seconds with the disk busy and the CPU idle. So every
 * {@link #WRITEBACK_BYTES} written, a background thread asks the kernel to write what is there
 * ({@code fdatasync}) while the render goes on, and
 * the publish's own fsync finds little left to do. Durability is unchanged: the publish still
 * fsyncs the whole file before the rename, and a failed background fsync fails the publish (the
 * kernel reports a write-back error to one fsync only, so it must not be lost).
 *
 * <p>Deliberately not done here: object storage (GCS and friends publish differently), directory
 * outputs, and locking against a concurrent writer of the same target (the last publish wins).
 * Not thread-safe; one writer per instance.
 */
public final class AtomicFileOutput implements Closeable {

  /**
   * Whether {@link #stream()} writes whole buffers with {@code O_DIRECT} where the file system
   * allows it ({@link WriterThreadStream}); {@code -Docirender.directWrite=false} keeps every write
   * in the page cache.
   */
  static final boolean DIRECT_WRITES = !"false".equals(System.getProperty("ocirender.directWrite"));

  /** Bytes written through {@link #stream()} between two background write-backs. */
  static final long WRITEBACK_BYTES = 64L << 20;

  /**
   * Threads for the write-backs of the JVM's outputs (one at a time per output): they wait for the
   * disk, not the CPU, and one output's must not queue behind another's.
   */
  private static final ExecutorService WRITEBACK = Executors.newCachedThreadPool(r -> {
    Thread t = new Thread(r, "ocirender-writeback");
    t.setDaemon(true);
    return t;
  });

  private final Path target;
  private final Path temp;
  private final FileChannel channel;
  private final boolean direct;
  /** Made by the first {@link #stream()}. */
  private OutputStream stream;
  /** The stream when it writes with {@code O_DIRECT} on a thread of its own, else null. */
  private WriterThreadStream threaded;
  private boolean published;
  private boolean closed;
  private final long writebackBytes;
  private long sinceWriteback;
  private int writebacks;
  /** The background write-back under way or last done, or null. */
  private Future<?> writeback;

  private AtomicFileOutput(Path target, Path temp, FileChannel channel, long writebackBytes, boolean direct) {
    this.writebackBytes = writebackBytes;
    this.target = target;
    this.temp = temp;
    this.channel = channel;
    this.direct = direct;
  }

  /**
   * The stream, made at the first {@link #stream()}: writers that use {@link #channel()} (squashfs)
   * get no second descriptor and no buffers.
   */
  private void openStream() throws IOException {
    FileChannel directChannel = direct ? WriterThreadStream.openDirect(temp) : null;
    if (directChannel != null) {
      try {
        threaded = new WriterThreadStream(temp, channel, directChannel, this::writtenByStream);
      } catch (IOException | RuntimeException e) {
        directChannel.close();
        throw e;
      }
      stream = threaded;
      return;
    }
    // The stream's close() must not close the channel: writers (a TarEntrySink) close their stream
    // when they are done, but publish() still needs the channel to fsync.
    stream = new BufferedOutputStream(new FilterOutputStream(Channels.newOutputStream(channel)) {
      @Override
      public void write(byte[] b, int off, int len) throws IOException {
        out.write(b, off, len);
        writtenByStream(len);
      }

      @Override
      public void close() throws IOException {
        flush();
      }
    }, 1 << 16);
  }

  /**
   * Starts writing a new version of {@code target}.
   *
   * @throws IOException if the target's directory does not exist, the target is a directory, or
   *     the temporary file cannot be created
   */
  public static AtomicFileOutput create(Path target) throws IOException {
    return create(target, WRITEBACK_BYTES);
  }

  /** As {@link #create(Path)}, writing back in the background every {@code writebackBytes} (tests use less). */
  static AtomicFileOutput create(Path target, long writebackBytes) throws IOException {
    return create(target, writebackBytes, DIRECT_WRITES);
  }

  /**
   * As {@link #create(Path, long)}; {@code direct} false keeps {@link #stream()}'s writes in the page
   * cache even where the file system allows {@code O_DIRECT} (tests of both ways).
   */
  static AtomicFileOutput create(Path target, long writebackBytes, boolean direct) throws IOException {
    Path absolute = target.toAbsolutePath().normalize();
    Path dir = absolute.getParent();
    if (dir == null || absolute.getFileName() == null) {
      throw new IOException("cannot write " + target + ": not a file path");
    }
    if (!Files.isDirectory(dir)) {
      throw new IOException("cannot write " + target + ": directory " + dir + " does not exist");
    }
    if (Files.isDirectory(absolute)) {
      throw new IOException("cannot write " + target + ": it is a directory");
    }
    for (int attempt = 0; ; attempt++) {
      Path temp = dir.resolve(TempNames.hidden(absolute.getFileName().toString(), TempNames.TMP));
      try {
        // CREATE_NEW with default permissions (0666 minus umask), unlike Files.createTempFile's
        // 0600: the published file should look like any other file the user writes. Readable too:
        // the squashfs writer reads its own blocks back to confirm de-duplication candidates.
        FileChannel channel = FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE,
            StandardOpenOption.READ);
        TemporaryFiles.register(temp); // removed by a shutdown hook if the process is stopped before close
        // Held until the file is published or discarded, and released by the kernel when this process
        // dies however it dies: a temporary nobody holds a lock on is one a killed writer left behind.
        channel.tryLock();
        removeAbandoned(absolute);
        return new AtomicFileOutput(absolute, temp, channel, writebackBytes, direct);
      } catch (FileAlreadyExistsException e) {
        if (attempt >= 10) {
          throw e;
        }
      }
    }
  }

  /** Where the content will appear on {@link #publish()}. */
  public Path target() {
    return target;
  }

  /** The temporary file currently being written (for tests and diagnostics). */
  public Path tempFile() {
    return temp;
  }

  /**
   * The stream to write the content to: with {@code O_DIRECT} on a thread of its own where the file
   * system allows it ({@link WriterThreadStream}), else buffered on the caller's thread. Closing it
   * at most flushes; the file stays unpublished until {@link #publish()}.
   */
  public OutputStream stream() throws IOException {
    if (stream == null) {
      if (closed) {
        throw new IllegalStateException("already " + (published ? "published" : "closed") + ": " + target);
      }
      openStream();
    }
    return stream;
  }

  /**
   * The temporary file's channel, open for reading and writing, for writers that need positional
   * writes (a squashfs image writes its superblock last, at offset 0) or read back what they wrote.
   * Do not close it, and do not mix it with {@link #stream()}.
   */
  public FileChannel channel() {
    return channel;
  }

  /** Called by the stream (on its writer thread, if it has one) after it wrote {@code bytes}. */
  private void writtenByStream(long bytes) throws IOException {
    sinceWriteback += bytes;
    if (sinceWriteback >= writebackBytes) {
      writeBackInBackground();
    }
  }

  /** Starts writing back what was written so far, unless the previous write-back is still under way. */
  private void writeBackInBackground() throws IOException {
    if (writeback != null) {
      if (!writeback.isDone()) {
        return; // the disk is behind: the next one starts when this one is over
      }
      awaitWriteback();
    }
    sinceWriteback = 0;
    writebacks++;
    writeback = WRITEBACK.submit(() -> {
      channel.force(false);
      return null;
    });
  }

  /** Waits for the background write-back, if any; its failure is this output's. */
  private void awaitWriteback() throws IOException {
    Future<?> pending = writeback;
    writeback = null;
    if (pending == null) {
      return;
    }
    try {
      pending.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("writing " + target + ": interrupted");
    } catch (ExecutionException e) {
      throw e.getCause() instanceof IOException io ? new IOException("writing " + temp + " back to disk: " + io.getMessage(), io)
          : new IOException("writing " + temp + " back to disk", e.getCause());
    }
  }

  /**
   * Flushes, fsyncs and atomically renames the temporary file onto the target, then fsyncs the
   * directory so the rename itself survives a crash.
   */
  public void publish() throws IOException {
    if (closed || published) {
      throw new IllegalStateException("already " + (published ? "published" : "closed") + ": " + target);
    }
    if (threaded != null) {
      // After the writer thread is done, its write-back state is this thread's to read.
      threaded.finish();
    } else if (stream != null) {
      stream.flush();
    }
    awaitWriteback();
    channel.force(true);
    try {
      // Renamed while still open, so the lock covers the temporary until it has its final name.
      Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } finally {
      channel.close();
    }
    published = true;
    closed = true;
    TemporaryFiles.forget(temp);
    syncDirectory(target.getParent());
  }

  /** Whether the stream's whole buffers went to the file with {@code O_DIRECT} (for tests). */
  boolean wroteDirect() {
    return threaded != null;
  }

  /** How many background write-backs were started (for tests). */
  int writebacks() {
    return writebacks;
  }

  /** Whether {@link #publish()} completed. */
  public boolean isPublished() {
    return published;
  }

  /** Discards the temporary file unless the content was published. Idempotent. */
  @Override
  public void close() throws IOException {
    if (closed) {
      return;
    }
    closed = true;
    try {
      if (threaded != null) {
        threaded.abort();
      }
      channel.close();
    } finally {
      Files.deleteIfExists(temp);
      TemporaryFiles.forget(temp);
    }
  }

  /**
   * Removes the temporaries of {@code target} ({@code .NAME.tmp-…}) that no live writer holds: a
   * writer keeps an exclusive lock on its temporary until it is published or discarded, and the
   * kernel drops the lock when the writer's process dies, SIGKILL included. So a runner that
   * re-runs a render after losing a worker (or a user re-running a killed render) clears what the
   * lost attempt left, without any age threshold, and never touches a write in progress, in this
   * process or another. Best effort: a temporary it cannot open or lock is left alone.
   */
  public static void removeAbandoned(Path target) {
    Path absolute = target.toAbsolutePath();
    Path dir = absolute.getParent();
    String prefix = "." + absolute.getFileName() + TempNames.TMP;
    try (DirectoryStream<Path> candidates = Files.newDirectoryStream(dir,
        p -> p.getFileName().toString().startsWith(prefix)
            && TemporaryFiles.OUTPUT_TEMPORARY.matcher(p.getFileName().toString()).matches())) {
      for (Path candidate : candidates) {
        if (TemporaryFiles.live().contains(candidate)) {
          continue; // ours, being written
        }
        try (FileChannel c = FileChannel.open(candidate, StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS)) {
          FileLock lock = c.tryLock();
          if (lock != null) {
            Files.deleteIfExists(candidate);
          }
        } catch (OverlappingFileLockException | IOException e) {
          // held in this JVM, gone already, or not ours to open: leave it
        }
      }
    } catch (IOException | RuntimeException e) {
      // best effort: the render goes on with its own, new temporary
    }
  }

  private static void syncDirectory(Path dir) {
    // Opening a directory for fsync works on Linux and macOS but not everywhere (Windows); the
    // rename is already done, so failing to make it durable is not worth failing the publish.
    try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
      d.force(true);
    } catch (IOException | UnsupportedOperationException e) {
      // best effort
    }
  }
}
