package dev.ocirender.io;

import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;

/**
 * For the project's input-stream wrappers, whose real work (digesting, decoding, bounds, errors
 * that name the layer) lives in {@code read(byte[], int, int)}: the other read paths go through it
 * rather than around it. Also the one way to close something whose failure to close changes
 * nothing ({@link #closeQuietly}).
 */
public final class Streams {

  private Streams() {}

  /**
   * Closes {@code c} (nothing when null), ignoring an {@link IOException}: for streams, files and
   * channels that are given up (a failed or abandoned read, a temporary file) where a failure to
   * close changes nothing.
   */
  public static void closeQuietly(Closeable c) {
    if (c == null) {
      return;
    }
    try {
      c.close();
    } catch (IOException e) {
      // given up anyway
    }
  }

  /** {@link InputStream#read()} by way of {@code in.read(byte[], int, int)}. */
  public static int readByte(InputStream in) throws IOException {
    byte[] one = new byte[1];
    int n = in.read(one, 0, 1);
    return n < 0 ? -1 : one[0] & 0xff;
  }

  /**
   * {@link InputStream#skip(long)} by reading and dropping up to {@code n} bytes, so that skipped
   * bytes are still digested or decoded; returns how many there were.
   */
  public static long skipByReading(InputStream in, long n) throws IOException {
    if (n <= 0) {
      return 0;
    }
    byte[] scratch = new byte[(int) Math.min(n, 64 * 1024)];
    long done = 0;
    while (done < n) {
      int r = in.read(scratch, 0, (int) Math.min(scratch.length, n - done));
      if (r < 0) {
        break;
      }
      done += r;
    }
    return done;
  }

  /**
   * A failure handed over from another thread (a read-ahead or decoding thread), as the
   * {@link IOException} to throw on the reading thread: I/O failures as they are, unchecked ones
   * and errors rethrown here unchanged, anything else wrapped.
   */
  public static IOException asIOException(Throwable t) {
    if (t instanceof IOException e) {
      return e;
    }
    if (t instanceof UncheckedIOException e) {
      return e.getCause();
    }
    if (t instanceof RuntimeException e) {
      throw e;
    }
    if (t instanceof Error e) {
      throw e;
    }
    return new IOException(t);
  }
}
