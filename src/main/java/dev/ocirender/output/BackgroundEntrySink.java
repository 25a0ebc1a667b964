package dev.ocirender.output;

import dev.ocirender.layer.EntryHeader;
import dev.ocirender.layer.EntryType;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Runs another sink on a thread of its own, so that what the sink costs (for the directory writer:
 * the kernel's work of creating inodes and copying content into the page cache) overlaps with what
 * the merge thread costs (reading and decoding layers, parsing tar, merging). On two cores the two
 * halves then take one core each instead of taking turns on one.
 *
 * <p><b>Memory is bounded.</b> The merge thread copies each file's content into chunks from a fixed
 * pool ({@value #CHUNKS} chunks of {@value #CHUNK_SIZE} bytes); small files share a chunk, packed one
 * after the other, and a chunk goes back to the pool when the writer has consumed every file in
 * it. At most {@value #QUEUED} entries wait in the queue. When the writer falls behind, the merge
 * thread waits.
 *
 * <p><b>Same calls, same order.</b> The wrapped sink receives every entry, in the order the merge
 * gave them, on the writer thread, with a content stream that yields the same bytes; then
 * {@link #finish()} waits for the writer to drain the queue and calls the sink's {@code finish()} on
 * the caller's thread. So the output is what the sink would have written on the merge thread.
 *
 * <p><b>Errors are not lost, and nothing hangs.</b> When the wrapped sink fails, the writer thread
 * records the first failure and from then on only drains the queue (returning chunks), so the merge
 * thread never waits forever; the next {@code accept} (or {@code finish}) throws an
 * {@link IOException} that names the entry the writer failed on. When the merge fails instead (its
 * content stream throws, or it closes the sink without finishing), {@link #close()} tells the
 * writer to stop, waits until it has stopped, and only then closes the wrapped sink, so whoever
 * deletes the partial output afterwards does not race the writer. A file whose content the merge
 * could not finish reading reaches the wrapped sink as a stream that throws, so the sink never
 * takes a truncated file for a complete one.
 *
 * <p>Used by one merge thread; the wrapped sink is used by one thread at a time (the writer, then
 * after it ended the caller), with the queue and {@link Thread#join()} ordering their memory.
 */
public final class BackgroundEntrySink implements EntrySink {

  static final int CHUNK_SIZE = 128 * 1024;
  static final int CHUNKS = 64;
  static final int QUEUED = 4096;
  /** How often a waiting thread looks whether the other side failed or ended. */
  private static final long POLL_MILLIS = 50;

  /** A pooled buffer; {@code refs} counts the filler's hold plus each queued slice in it. */
  private static final class Chunk {
    final byte[] bytes = new byte[CHUNK_SIZE];
    final AtomicInteger refs = new AtomicInteger();
    int fill;
  }

  private enum Kind {
    /** An entry; for a file, with the first slice of its content. */
    ENTRY,
    /** A further slice of the current file's content. */
    MORE,
    /** The merge could not finish reading the current file's content. */
    BROKEN,
    /** Every entry has been queued. */
    FINISH,
    /** Stop: the render failed. */
    ABORT
  }

  /** One queue element: for content, {@code length} bytes of {@code chunk} from {@code offset}. */
  private record Op(Kind kind, EntryHeader header, ContentOrigin origin, boolean hasContent, Chunk chunk, int offset, int length,
      boolean last) {}

  private static final Op FINISH = new Op(Kind.FINISH, null, null, false, null, 0, 0, true);
  private static final Op ABORT = new Op(Kind.ABORT, null, null, false, null, 0, 0, true);
  private static final Op BROKEN = new Op(Kind.BROKEN, null, null, false, null, 0, 0, true);

  private static final AtomicInteger THREADS = new AtomicInteger();

  private final EntrySink sink;
  private final String what;
  private final BlockingQueue<Op> queue = new ArrayBlockingQueue<>(QUEUED);
  private final BlockingQueue<Chunk> free = new ArrayBlockingQueue<>(CHUNKS);
  private final Thread writer;
  /** Chunks made so far (merge thread only); at most {@link #CHUNKS}. */
  private int chunks;
  /** The chunk the merge thread is filling, or null. */
  private Chunk filling;
  /** The writer's first failure and the entry it was writing (written by the writer only). */
  private volatile Throwable failure;
  private volatile EntryHeader failedEntry;
  private volatile ContentOrigin failedOrigin;
  private boolean finishing;
  private boolean closed;

  /**
   * Starts the writer thread.
   *
   * @param sink the sink to run on it; closed by {@link #close()}
   * @param what what the sink writes, for the thread's name and for errors ("directory output")
   */
  public BackgroundEntrySink(EntrySink sink, String what) {
    this.sink = sink;
    this.what = what;
    this.writer = new Thread(this::write, "ocirender-writer-" + THREADS.incrementAndGet());
    writer.setDaemon(true); // never keeps a failing process alive; close() and finish() join it
    writer.start();
  }

  @Override
  public void accept(EntryHeader header, InputStream content) throws IOException {
    accept(header, content, null);
  }

  @Override
  public void accept(EntryHeader header, InputStream content, ContentOrigin origin) throws IOException {
    if (finishing || closed) {
      throw new IllegalStateException("entry after " + (closed ? "close" : "finish") + ": " + header.path());
    }
    checkWriter();
    if (content == null || header.type() != EntryType.FILE) {
      put(new Op(Kind.ENTRY, header, origin, content != null, null, 0, 0, true));
      return;
    }
    boolean first = true;
    boolean end = false;
    try {
      while (!end) {
        if (!first) {
          checkWriter(); // a writer that failed stops a long file early
        }
        Chunk c = filling();
        int start = c.fill;
        while (c.fill < CHUNK_SIZE) {
          int n = content.read(c.bytes, c.fill, CHUNK_SIZE - c.fill);
          if (n < 0) {
            end = true;
            break;
          }
          c.fill += n;
        }
        int length = c.fill - start;
        if (length > 0) {
          c.refs.incrementAndGet();
        }
        put(new Op(first ? Kind.ENTRY : Kind.MORE, first ? header : null, origin, true, length > 0 ? c : null, start, length, end));
        first = false;
        if (c.fill == CHUNK_SIZE) {
          filling = null;
          release(c);
        }
      }
    } catch (IOException | RuntimeException | Error e) {
      if (!first) {
        // The writer has this file open: make its content stream fail rather than end short.
        putQuietly(BROKEN);
      }
      throw e;
    }
  }

  @Override
  public void finish() throws IOException {
    if (finishing || closed) {
      throw new IllegalStateException("finish() after " + (closed ? "close()" : "finish()"));
    }
    checkWriter();
    finishing = true;
    put(FINISH);
    join();
    checkWriter();
    sink.finish();
  }

  /** Stops the writer (after a failure, without finish: it drops what is still queued), then closes the sink. */
  @Override
  public void close() throws IOException {
    if (closed) {
      return;
    }
    closed = true;
    try {
      if (writer.isAlive()) {
        putQuietly(ABORT);
        join();
      }
    } finally {
      sink.close();
    }
  }

  // ---- merge thread

  /** The chunk to fill, with room: the current one, else one from the pool (waiting if all are in use). */
  private Chunk filling() throws IOException {
    if (filling != null && filling.fill < CHUNK_SIZE) {
      return filling;
    }
    Chunk c = free.poll();
    if (c == null && chunks < CHUNKS) {
      chunks++;
      c = new Chunk();
    }
    while (c == null) {
      checkWriter();
      try {
        c = free.poll(POLL_MILLIS, TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new InterruptedIOException("interrupted while waiting for the " + what + " writer");
      }
    }
    c.fill = 0;
    c.refs.set(1); // the filler's hold
    filling = c;
    return c;
  }

  private void put(Op op) throws IOException {
    try {
      while (!queue.offer(op, POLL_MILLIS, TimeUnit.MILLISECONDS)) {
        checkWriter();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while waiting for the " + what + " writer");
    }
  }

  /** Queues {@code op} unless the writer has ended (it then needs no message). */
  private void putQuietly(Op op) {
    boolean interrupted = false;
    try {
      while (writer.isAlive()) {
        try {
          if (queue.offer(op, POLL_MILLIS, TimeUnit.MILLISECONDS)) {
            return;
          }
        } catch (InterruptedException e) {
          interrupted = true;
        }
      }
    } finally {
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /** Throws the writer's failure, or that it ended without one before being told to. */
  private void checkWriter() throws IOException {
    Throwable t = failure;
    if (t != null) {
      EntryHeader h = failedEntry;
      ContentOrigin o = failedOrigin;
      String entry = h == null ? "" : "entry " + h.path().quoted() + (o == null ? "" : " (layer " + o.layer() + ")") + ": ";
      String message = t.getMessage() == null ? t.toString() : t.getMessage();
      throw new IOException(entry + "writing the " + what + " failed: " + message, t);
    }
    if (!writer.isAlive() && !finishing && !closed) {
      throw new IOException("the " + what + " writer thread ended unexpectedly");
    }
  }

  private void join() throws IOException {
    boolean interrupted = false;
    try {
      while (true) {
        try {
          writer.join();
          return;
        } catch (InterruptedException e) {
          interrupted = true; // the writer ends on its own: FINISH or ABORT is queued
        }
      }
    } finally {
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }

  // ---- writer thread

  private void write() {
    try {
      Op op;
      while ((op = queue.take()).kind != Kind.FINISH && op.kind != Kind.ABORT) {
        if (op.kind != Kind.ENTRY || failure != null) {
          release(op); // a slice of a file the sink stopped reading, or we only drain after a failure
          continue;
        }
        Content content = op.hasContent ? new Content(op) : null;
        try {
          sink.accept(op.header, content, op.origin);
        } catch (Throwable t) {
          if (!(t instanceof MergeStopped)) {
            failedEntry = op.header;
            failedOrigin = op.origin;
          }
          failure = t;
        }
        if (content != null && content.drain()) {
          return; // the merge stopped (ABORT or FINISH came in the middle of a file)
        }
      }
    } catch (InterruptedException e) {
      if (failure == null) {
        failure = e;
      }
    } catch (Throwable t) {
      if (failure == null) {
        failure = t;
      }
    } finally {
      // Return whatever is still queued; the merge thread only waits on the pool while we live.
      for (Op left; (left = queue.poll()) != null; ) {
        release(left);
      }
    }
  }

  /** Thrown into the wrapped sink when the merge stopped in the middle of a file: not the sink's failure. */
  private static final class MergeStopped extends IOException {
    private static final long serialVersionUID = 1L;

    MergeStopped(String message) {
      super(message);
    }
  }

  private void release(Op op) {
    if (op.chunk != null) {
      release(op.chunk);
    }
  }

  private void release(Chunk c) {
    if (c.refs.decrementAndGet() == 0) {
      free.add(c);
    }
  }

  /** A file's content, slice by slice from the queue (writer thread). */
  private final class Content extends InputStream {
    private Op slice;
    private int position;
    private boolean ended;
    private boolean stopped;

    Content(Op first) {
      this.slice = first;
    }

    @Override
    public int read() throws IOException {
      byte[] one = new byte[1];
      return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      if (len == 0) {
        return 0;
      }
      while (!ended && (slice == null || position == slice.length)) {
        next();
      }
      if (ended) {
        return -1;
      }
      int n = Math.min(len, slice.length - position);
      System.arraycopy(slice.chunk.bytes, slice.offset + position, b, off, n);
      position += n;
      return n;
    }

    /** Done with the current slice: the end, or the next slice from the queue. */
    private void next() throws IOException {
      boolean last = slice == null || slice.last;
      if (slice != null) {
        release(slice);
        slice = null;
      }
      position = 0;
      if (last) {
        ended = true;
        return;
      }
      Op op;
      try {
        op = queue.take();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new InterruptedIOException("interrupted");
      }
      if (op.kind != Kind.MORE) {
        ended = true;
        stopped = op.kind == Kind.ABORT || op.kind == Kind.FINISH;
        throw new MergeStopped("the render stopped while this file's content was being read");
      }
      slice = op;
    }

    /**
     * Consumes the rest of this file's slices (after the sink read them, or failed); returns whether
     * the render was told to stop meanwhile.
     */
    boolean drain() throws IOException {
      while (!ended) {
        try {
          position = slice == null ? 0 : slice.length;
          next();
        } catch (MergeStopped e) {
          break;
        }
      }
      return stopped;
    }
  }
}
