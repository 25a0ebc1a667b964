package dev.ocirender.testing;

import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;

/**
 * A blob file of an OCI layout replaced by a named pipe (FIFO) whose bytes the test hands out, so a
 * test knows that a render is reading it, and which process: a render opening the blob blocks until
 * the test opens the other end, and reads only what the test writes. For tests that must act while a
 * render is provably in flight (a TaskManager killed mid-render) without depending on timing.
 *
 * <p>Linux only ({@code mkfifo}, {@code /proc/PID/fd}). Readers are served one at a time, whole blob
 * each, once {@link #serveAll()} is called (the next one only after the last one closed the pipe: a
 * reader still holding it would otherwise read a second copy); before that {@link #awaitReader} gives
 * the first reader only the first half. {@link #close()} stops serving (unblocking a pending open with
 * a reader of its own).
 */
public final class FifoBlob implements AutoCloseable {

  private final Path fifo;
  private final byte[] content;
  private final ExecutorService thread = Executors.newSingleThreadExecutor(r -> {
    Thread t = new Thread(r, "fifo-blob");
    t.setDaemon(true);
    return t;
  });
  private OutputStream held;
  private volatile boolean closed;

  private FifoBlob(Path fifo, byte[] content) {
    this.fifo = fifo;
    this.content = content;
  }

  /** Replaces the regular file {@code blob} by a named pipe that will give out its current bytes. */
  public static FifoBlob replace(Path blob) throws IOException, InterruptedException {
    byte[] content = Files.readAllBytes(blob);
    Files.delete(blob);
    Process p = new ProcessBuilder("mkfifo", "-m", "0644", blob.toString()).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    if (p.waitFor() != 0) {
      throw new IOException("mkfifo " + blob + " failed: " + out);
    }
    return new FifoBlob(blob.toRealPath(), content); // as /proc/PID/fd shows it
  }

  /**
   * Waits until a reader has opened the blob and consumed the first half of it (more than a pipe
   * buffer, so the reader is decoding it), then returns the PID among {@code candidates} that holds
   * it open; the reader then waits for the rest, which it gets only from {@link #serveAll()}.
   *
   * @param stillWorth checked while waiting; false ends the wait (the job died)
   */
  public long awaitReader(List<Long> candidates, Duration timeout, BooleanSupplier stillWorth) throws Exception {
    Future<OutputStream> opened = thread.submit(() -> {
      while (true) {
        OutputStream out = new FileOutputStream(fifo.toFile()); // blocks until a reader opens the blob
        try {
          out.write(content, 0, content.length / 2);
          out.flush();
          return out;
        } catch (IOException brokenPipe) {
          closeQuietly(out); // a reader that only peeked (or was cancelled): wait for the next one
        }
      }
    });
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      try {
        held = opened.get(200, TimeUnit.MILLISECONDS);
        break;
      } catch (TimeoutException notYet) {
        if (System.nanoTime() > deadline || !stillWorth.getAsBoolean()) {
          close();
          throw new IllegalStateException("no render read " + fifo + " within " + timeout);
        }
      } catch (ExecutionException e) {
        throw new IOException("writing the first half of " + fifo + " to its reader", e.getCause());
      }
    }
    for (long pid : candidates) {
      if (holdsOpen(pid)) {
        return pid;
      }
    }
    throw new IllegalStateException(fifo + " is read by none of the processes " + candidates);
  }

  /** From now on, every reader (one at a time) gets the whole blob; the first reader's pipe is closed. */
  public void serveAll() {
    closeQuietly(held);
    held = null;
    thread.submit(() -> {
      while (!closed) {
        try (OutputStream out = new FileOutputStream(fifo.toFile())) {
          if (!closed) {
            out.write(content);
          }
        } catch (IOException brokenPipe) {
          // A reader that went away mid-blob (a cancelled task): serve the next one from the start.
        }
        // A reader sees the end only once no writer has the pipe open; opening it again before this
        // reader closed would append a second copy to its stream. So wait until it has let go.
        while (!closed && anyReader()) {
          Thread.sleep(20);
        }
      }
      return null;
    });
  }

  @Override
  public void close() throws InterruptedException {
    closed = true;
    closeQuietly(held);
    // A writer blocked in open() waits for a reader: be that reader, and drain what it writes.
    Thread drain = new Thread(() -> {
      try (InputStream in = new FileInputStream(fifo.toFile())) {
        in.transferTo(OutputStream.nullOutputStream());
      } catch (IOException ignored) {
        // nothing was waiting
      }
    });
    drain.setDaemon(true);
    drain.start();
    thread.shutdown();
    if (!thread.awaitTermination(10, TimeUnit.SECONDS)) {
      thread.shutdownNow();
    }
  }

  /** Whether any process that this user can see has the blob open (the readers: this JVM only writes it). */
  private boolean anyReader() throws IOException {
    try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
      for (Path proc : procs.filter(p -> p.getFileName().toString().chars().allMatch(Character::isDigit)).toList()) {
        try {
          if (holdsOpen(Long.parseLong(proc.getFileName().toString()))) {
            return true;
          }
        } catch (IOException | SecurityException unreadable) {
          // another user's process, or gone
        }
      }
    }
    return false;
  }

  /** Whether process {@code pid} has the blob open. */
  private boolean holdsOpen(long pid) throws IOException {
    Path fds = Path.of("/proc/" + pid + "/fd");
    if (!Files.isDirectory(fds)) {
      return false;
    }
    try (Stream<Path> s = Files.list(fds)) {
      return s.anyMatch(fd -> {
        try {
          return Files.readSymbolicLink(fd).equals(fifo);
        } catch (IOException gone) {
          return false;
        }
      });
    }
  }

  private static void closeQuietly(OutputStream out) {
    if (out != null) {
      try {
        out.close();
      } catch (IOException ignored) {
        // the reader is gone (killed): nothing to close cleanly
      }
    }
  }
}
