package dev.ocirender.layer;

import dev.ocirender.io.Streams;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;

/**
 * Reads a stream ahead on a thread of its own, so that producing the bytes (reading the blob,
 * checking its digest, decompressing) overlaps with consuming them (parsing tar, merging,
 * writing the output). On two cores this hides most of the merge behind decompression.
 *
 * <p>Memory is bounded: a fixed pool of chunks circulates between the two threads. Errors of the
 * source (I/O, digest mismatch, corrupt data) reach the consumer at the point in the stream where
 * they happened, unchanged. Closing stops the reader thread and closes the source. Single
 * consumer only; not for streams that are read a few bytes at a time.
 */
public final class ReadAheadInputStream extends InputStream {

  private static final int CHUNK_SIZE = 256 * 1024;
  private static final int CHUNKS = 8;

  /** A filled chunk, the end of the stream ({@code length < 0}), or a failure. */
  private record Chunk(byte[] buffer, int length, Throwable failure) {}

  private final BlockingQueue<Chunk> filled = new ArrayBlockingQueue<>(CHUNKS + 1);
  private final BlockingQueue<byte[]> free = new ArrayBlockingQueue<>(CHUNKS);
  private final Thread reader;
  private Chunk current;
  private int position;
  private boolean ended;
  private volatile boolean closed;

  public ReadAheadInputStream(InputStream source, String name) {
    for (int i = 0; i < CHUNKS; i++) {
      free.add(new byte[CHUNK_SIZE]);
    }
    reader = new Thread(() -> fill(source), "read-ahead " + name);
    reader.setDaemon(true);
    reader.start();
  }

  private void fill(InputStream source) {
    Chunk last;
    try (source) {
      while (true) {
        byte[] buffer = free.take();
        int n = 0;
        try {
          while (n < buffer.length) {
            int r = source.read(buffer, n, buffer.length - n);
            if (r < 0) {
              break;
            }
            n += r;
          }
        } catch (IOException | RuntimeException e) {
          // Deliver what was read before the failure first, so the failure surfaces where it
          // happened (inside the entry whose bytes were being decoded), not a chunk early.
          if (n > 0) {
            filled.put(new Chunk(buffer, n, null));
          }
          throw e;
        }
        if (n > 0) {
          filled.put(new Chunk(buffer, n, null));
        }
        if (n < buffer.length) {
          break;
        }
      }
      last = new Chunk(null, -1, null);
    } catch (InterruptedException e) {
      return; // closed by the consumer
    } catch (Throwable t) {
      if (closed) {
        return;
      }
      last = new Chunk(null, -1, t);
    }
    try {
      filled.put(last);
    } catch (InterruptedException e) {
      // closed by the consumer
    }
  }

  @Override
  public int read() throws IOException {
    return Streams.readByte(this);
  }

  @Override
  public int read(byte[] b, int off, int len) throws IOException {
    if (len == 0) {
      return 0;
    }
    if (!ensureChunk()) {
      return -1;
    }
    int n = Math.min(len, current.length - position);
    System.arraycopy(current.buffer, position, b, off, n);
    position += n;
    return n;
  }

  @Override
  public long skip(long n) throws IOException {
    long skipped = 0;
    while (skipped < n && ensureChunk()) {
      int step = (int) Math.min(n - skipped, current.length - position);
      position += step;
      skipped += step;
    }
    return skipped;
  }

  @Override
  public int available() {
    return current == null ? 0 : current.length - position;
  }

  /** Makes {@code current} a chunk with unread bytes; false at the end of the stream. */
  private boolean ensureChunk() throws IOException {
    if (closed) {
      throw new IOException("stream closed");
    }
    if (current != null && position < current.length) {
      return true;
    }
    if (ended) {
      return false;
    }
    if (current != null) {
      free.add(current.buffer);
      current = null;
    }
    Chunk next;
    try {
      next = filled.take();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while reading ahead");
    }
    if (next.length < 0) {
      ended = true;
      if (next.failure != null) {
        throw Streams.asIOException(next.failure);
      }
      return false;
    }
    current = next;
    position = 0;
    return true;
  }

  @Override
  public void close() throws IOException {
    if (closed) {
      return;
    }
    closed = true;
    reader.interrupt();
    try {
      reader.join();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    filled.clear();
  }
}
