package dev.ocirender.render;

import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.util.Objects;

/**
 * An output stream to a file that has the kernel write the file's pages to disk while the file is
 * still being written, so that the fsync at publication finds little left to do.
 *
 * <p>Why: a render writes its output into the page cache, and the kernel's own writeback starts
 * only after 30 s or once a tenth of the memory is dirty; a 1 GB tar was therefore written to disk
 * only by {@code AtomicFileOutput.publish()}'s fsync, one second at the end of the render with both
 * cores idle (BENCHMARKS.md, issue 14 goal 1). Here, after every {@link #DEFAULT_INTERVAL} bytes, a
 * thread of this stream calls {@link FileChannel#force(boolean) force(false)} (fdatasync), which
 * writes the file's dirty pages and waits for the disk on that thread while the render goes on.
 *
 * <p>The bytes are the same either way; this changes only when they reach the disk. A failing
 * background fdatasync is ignored: the fsync at publication reports any real error. The thread is
 * never interrupted (an interrupt would close the channel, {@link FileChannel} being
 * interruptible); {@link #close()} lets a running fdatasync finish, then stops it. Single writer.
 */
final class EarlyWritebackStream extends FilterOutputStream {

  /** Bytes written between two background fdatasyncs. */
  static final long DEFAULT_INTERVAL = 32L << 20;

  private final FileChannel channel;
  private final long interval;
  private long sinceSync;
  // Guarded by this: a sync asked for and not started yet; closing (no more syncs); the thread.
  private boolean syncWanted;
  private boolean stopped;
  private Thread syncer;
  private int syncsDone;

  /**
   * @param out the stream that writes to {@code channel} (it may buffer)
   * @param channel the file, forced in the background every {@code interval} bytes
   */
  EarlyWritebackStream(OutputStream out, FileChannel channel, long interval) {
    super(Objects.requireNonNull(out, "out"));
    this.channel = Objects.requireNonNull(channel, "channel");
    if (interval <= 0) {
      throw new IllegalArgumentException("interval must be positive: " + interval);
    }
    this.interval = interval;
  }

  @Override
  public void write(int b) throws IOException {
    out.write(b);
    counted(1);
  }

  @Override
  public void write(byte[] b, int off, int len) throws IOException {
    out.write(b, off, len);
    counted(len);
  }

  private void counted(int n) {
    sinceSync += n;
    if (sinceSync >= interval) {
      sinceSync = 0;
      requestSync();
    }
  }

  private synchronized void requestSync() {
    if (stopped) {
      return;
    }
    syncWanted = true;
    if (syncer == null) {
      syncer = new Thread(this::syncLoop, "early-writeback");
      syncer.setDaemon(true);
      syncer.start();
    }
    notifyAll();
  }

  private void syncLoop() {
    while (true) {
      synchronized (this) {
        while (!syncWanted && !stopped) {
          try {
            wait();
          } catch (InterruptedException e) {
            return; // nobody interrupts this thread; if someone does, writeback is left to the final fsync
          }
        }
        if (stopped) {
          return;
        }
        syncWanted = false;
      }
      try {
        channel.force(false);
      } catch (IOException e) {
        // Left to the fsync at publication, which fails the render if the disk really fails.
      }
      synchronized (this) {
        syncsDone++;
      }
    }
  }

  /** Background fdatasyncs completed so far (for tests). */
  synchronized int syncsDone() {
    return syncsDone;
  }

  /** Stops the background thread, after the fdatasync it may be running, then closes the stream. */
  @Override
  public void close() throws IOException {
    Thread t;
    synchronized (this) {
      stopped = true;
      t = syncer;
      notifyAll();
    }
    if (t != null) {
      boolean interrupted = false;
      while (t.isAlive()) {
        try {
          t.join();
        } catch (InterruptedException e) {
          interrupted = true;
        }
      }
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
    super.close();
  }
}
