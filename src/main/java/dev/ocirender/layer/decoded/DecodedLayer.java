package dev.ocirender.layer.decoded;

import dev.ocirender.io.Streams;
import dev.ocirender.layer.decoded.FrameFile.Frame;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;

/**
 * One layer's decoded tar stream, written once by a decoding thread and read once, in order, by
 * the merge, possibly while it is still being written.
 *
 * <p>Each chunk the writer hands over goes to one of three places: if the layer is being read,
 * to memory, holding the writer back once a few chunks wait (the reader is slower: backpressure,
 * as in a read-ahead); otherwise to memory while the {@link DecodedLayerStore}'s budget lasts; and
 * beyond that to this layer's {@link FrameFile}. Chunks are read back in the order written,
 * wherever they are. A failure of the writer (I/O, digest mismatch, corrupt data) reaches the
 * reader after the last good chunk, as the original exception, just as if the reader had decoded
 * the blob itself. Closing discards everything and stops the writer.
 */
public final class DecodedLayer implements AutoCloseable {

  /** Chunks that may wait for a reader that is reading (4 x 256 KiB). */
  private static final int READING_BACKLOG = 4;

  /** A chunk in memory; {@code budgeted} if it holds a share of the store's budget. */
  private record Held(byte[] buffer, int length, boolean budgeted) {}

  private final DecodedLayerStore store;
  private final String name;
  private final ArrayDeque<Object> chunks = new ArrayDeque<>();
  private int unbudgeted;
  private boolean ended;
  private Throwable failure;
  private boolean reading;
  private boolean closed;
  private FrameFile file;
  private long bytesWritten;
  private long bytesSpilled;

  DecodedLayer(DecodedLayerStore store, String name) {
    this.store = store;
    this.name = name;
  }

  // ---------------------------------------------------------------- writer side

  /** A buffer to fill and pass to {@link #write}. */
  public byte[] buffer() {
    return store.takeBuffer();
  }

  /**
   * Appends {@code buffer[0, length)}; the buffer (from {@link #buffer()}) now belongs to this layer.
   *
   * @throws InterruptedIOException when the layer was closed (nobody will read it) or the thread interrupted
   */
  public void write(byte[] buffer, int length) throws IOException {
    synchronized (this) {
      try {
        while (reading && unbudgeted >= READING_BACKLOG && !closed) {
          wait();
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new InterruptedIOException(name + ": interrupted while decoding ahead");
      }
      checkOpen();
      bytesWritten += length;
      if (reading) {
        unbudgeted++;
        chunks.add(new Held(buffer, length, false));
        notifyAll();
        return;
      }
    }
    if (store.reserve()) {
      synchronized (this) {
        checkOpen();
        chunks.add(new Held(buffer, length, true));
        notifyAll();
      }
      return;
    }
    Frame frame;
    try {
      frame = spillFile().append(buffer, length);
    } finally {
      store.recycle(buffer);
    }
    synchronized (this) {
      checkOpen();
      bytesSpilled += length;
      chunks.add(frame);
      notifyAll();
    }
  }

  /**
   * This layer's frame file, created on first use. Why under the lock: {@link #close()} takes the
   * file to close it under the same lock, so a file is either seen and closed there, or created
   * after the close and closed here by its creator; none is left open.
   */
  private FrameFile spillFile() throws IOException {
    synchronized (this) {
      checkOpen();
      if (file != null) {
        return file;
      }
    }
    FrameFile created = FrameFile.createTemp(store.tempDirectory(), store.compress(), name);
    synchronized (this) {
      if (!closed) {
        file = created;
        return created;
      }
    }
    created.close();
    throw new InterruptedIOException(name + ": decoded layer closed");
  }

  private void checkOpen() throws InterruptedIOException {
    if (closed) {
      throw new InterruptedIOException(name + ": decoded layer closed");
    }
  }

  /** Marks the end of the stream: the reader sees end of file after the last chunk. */
  public synchronized void end() {
    ended = true;
    notifyAll();
  }

  /** Ends the stream with {@code t}, which the reader gets after the last chunk written. */
  public synchronized void fail(Throwable t) {
    failure = t;
    ended = true;
    notifyAll();
  }

  /** Decoded bytes written so far, and of those, how many went to disk. */
  public synchronized long bytesWritten() {
    return bytesWritten;
  }

  public synchronized long bytesSpilled() {
    return bytesSpilled;
  }

  // ---------------------------------------------------------------- reader side

  /** The decoded stream from its start; only one reader, once. */
  public InputStream open() {
    synchronized (this) {
      if (reading) {
        throw new IllegalStateException(name + ": already being read");
      }
      reading = true;
      notifyAll();
    }
    return new Reader();
  }

  /** Takes the next chunk; null at the end; throws the writer's failure after the last chunk. */
  private Object take() throws IOException {
    synchronized (this) {
      try {
        while (chunks.isEmpty() && !ended && !closed) {
          wait();
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new InterruptedIOException(name + ": interrupted while waiting for decoded data");
      }
      checkOpen();
      Object next = chunks.poll();
      if (next instanceof Held h && !h.budgeted) {
        unbudgeted--;
        notifyAll();
      }
      if (next == null && failure != null) {
        throw Streams.asIOException(failure);
      }
      return next;
    }
  }

  private void recycle(Held h) {
    if (h.budgeted) {
      store.release();
    }
    store.recycle(h.buffer);
  }

  /** Discards what is left, deletes the frame file and stops the writer at its next chunk. */
  @Override
  public void close() throws IOException {
    FrameFile f;
    synchronized (this) {
      if (closed) {
        return;
      }
      closed = true;
      for (Object c : chunks) {
        if (c instanceof Held h) {
          recycle(h);
        }
      }
      chunks.clear();
      f = file;
      notifyAll();
    }
    if (f != null) {
      f.close();
    }
  }

  /** The reader's view: chunks in order, frames read back and checked. */
  private final class Reader extends InputStream {
    private byte[] current;
    private Held held;
    private int position;
    private int limit;
    private byte[] frameBuffer;
    private ByteBuffer scratch;
    private boolean eof;

    @Override
    public int read() throws IOException {
      return Streams.readByte(this);
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      if (len == 0) {
        return 0;
      }
      if (!ensure()) {
        return -1;
      }
      int n = Math.min(len, limit - position);
      System.arraycopy(current, position, b, off, n);
      position += n;
      return n;
    }

    @Override
    public long skip(long n) throws IOException {
      long skipped = 0;
      while (skipped < n && ensure()) {
        int step = (int) Math.min(n - skipped, limit - position);
        position += step;
        skipped += step;
      }
      return skipped;
    }

    @Override
    public int available() {
      return limit - position;
    }

    private boolean ensure() throws IOException {
      if (position < limit) {
        return true;
      }
      if (eof) {
        return false;
      }
      if (held != null) {
        recycle(held);
        held = null;
      }
      Object next = take();
      if (next == null) {
        eof = true;
        return false;
      }
      if (next instanceof Held h) {
        held = h;
        current = h.buffer;
        limit = h.length;
      } else {
        Frame frame = (Frame) next;
        if (frameBuffer == null) {
          frameBuffer = new byte[DecodedLayerStore.CHUNK_SIZE];
        }
        scratch = file.read(frame, frameBuffer, scratch);
        current = frameBuffer;
        limit = frame.decodedLength();
      }
      position = 0;
      return true;
    }

    @Override
    public void close() throws IOException {
      if (held != null) {
        recycle(held);
        held = null;
      }
      DecodedLayer.this.close();
    }
  }
}
