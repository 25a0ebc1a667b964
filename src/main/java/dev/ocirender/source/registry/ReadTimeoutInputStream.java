package dev.ocirender.source.registry;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * A response body that fails with a {@link SocketTimeoutException} when a {@code read} waits longer
 * than the read timeout for its next byte. {@code java.net.http.HttpClient} has no per-read timeout
 * (its request timeout ends with the headers), so a body that stalls with the connection open would
 * otherwise wait for the operating system, which may be hours.
 *
 * <p>A watchdog on one shared daemon thread closes the underlying stream when a read has been blocked
 * for the timeout; closing the HTTP client's stream cancels the exchange and wakes the blocked read,
 * which this stream then reports as the timeout. The caller treats it like any broken body: the blob
 * download resumes with a Range request, the manifest request is retried.
 *
 * <p>Only time spent inside {@code read} counts: a consumer that is slow to ask for bytes is not a
 * stalled server. It does not retry anything itself.
 */
final class ReadTimeoutInputStream extends FilterInputStream {

  private static final ScheduledExecutorService WATCHDOG = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "ocirender-read-timeout");
    t.setDaemon(true);
    return t;
  });

  private final long timeoutNanos;
  private final Duration timeout;
  /** When the read in progress started, or 0 when none is. */
  private volatile long readingSince;
  private volatile boolean timedOut;
  private volatile boolean closed;

  ReadTimeoutInputStream(InputStream in, Duration timeout) {
    super(in);
    this.timeout = timeout;
    this.timeoutNanos = Math.max(1, timeout.toNanos());
    schedule(timeoutNanos);
  }

  private void schedule(long delayNanos) {
    WATCHDOG.schedule(this::check, delayNanos, TimeUnit.NANOSECONDS);
  }

  private void check() {
    if (closed) {
      return;
    }
    long started = readingSince;
    if (started == 0) {
      schedule(timeoutNanos);
      return;
    }
    long waited = System.nanoTime() - started;
    if (waited < timeoutNanos) {
      schedule(timeoutNanos - waited);
      return;
    }
    timedOut = true;
    try {
      in.close();
    } catch (IOException | RuntimeException ignored) {
      // The read that is waiting fails either way; it reports the timeout.
    }
  }

  @Override
  public int read() throws IOException {
    begin();
    try {
      return end(in.read(), null);
    } catch (IOException e) {
      return end(0, e);
    }
  }

  @Override
  public int read(byte[] b, int off, int len) throws IOException {
    begin();
    try {
      return end(in.read(b, off, len), null);
    } catch (IOException e) {
      return end(0, e);
    }
  }

  @Override
  public long skip(long n) throws IOException {
    begin();
    try {
      long skipped = in.skip(n);
      end(0, null);
      return skipped;
    } catch (IOException e) {
      return end(0, e);
    }
  }

  private void begin() throws IOException {
    if (timedOut) {
      throw timeout(null);
    }
    readingSince = System.nanoTime() | 1; // never 0 while reading
  }

  private int end(int result, IOException failure) throws IOException {
    readingSince = 0;
    // After the watchdog closed the stream, whatever the read saw (an exception, an end) is the timeout.
    if (timedOut) {
      throw timeout(failure);
    }
    if (failure != null) {
      throw failure;
    }
    return result;
  }

  private SocketTimeoutException timeout(IOException cause) {
    SocketTimeoutException e = new SocketTimeoutException(
        "no data received for " + describe(timeout) + " (read timeout)");
    if (cause != null) {
      e.initCause(cause);
    }
    return e;
  }

  private static String describe(Duration d) {
    return d.toMillis() % 1000 == 0 ? d.toSeconds() + " s" : d.toMillis() + " ms";
  }

  @Override
  public void close() throws IOException {
    closed = true;
    super.close();
  }
}
