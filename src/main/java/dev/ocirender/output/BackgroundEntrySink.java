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
 * <p><b>Several writer threads.</b> A sink that can be written by several threads at once
 * implements {@link Lanes}: the merge thread asks it, entry by entry and in order, which lane writes
 * the entry, and each lane has its own queue and thread (started at its first entry), so the
 * kernel's work of two lanes runs on two cores. The entries of one lane reach the sink in the
 * merge's order; between lanes the sink itself orders what must be ordered (it receives each
 * entry's sequence number for that). The chunk pool is shared, so memory stays bounded as with one
 * lane. The first failure of any lane (or a refusal by {@link Lanes#lane}) stops all of them: the
 * others only drain their queues from then on, and {@link Lanes#stop()} tells the sink to give up
 * any wait for another lane. Unlike one lane, entries after the failed one may have been written
 * by another lane before it saw the failure; the output is deleted on failure either way.
 *
 * <p>Used by one merge thread; the wrapped sink is used by its lane threads, then after they ended
 * by the caller, with the queues and {@link Thread#join()} ordering their memory.
 */
public final class BackgroundEntrySink implements EntrySink {

  static final int CHUNK_SIZE = 128 * 1024;
  static final int CHUNKS = 64;
  /** Queued entries (and content slices) per lane at most. */
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
      boolean last, long sequence) {}

  private static final Op FINISH = new Op(Kind.FINISH, null, null, false, null, 0, 0, true, -1);
  private static final Op ABORT = new Op(Kind.ABORT, null, null, false, null, 0, 0, true, -1);
  private static final Op BROKEN = new Op(Kind.BROKEN, null, null, false, null, 0, 0, true, -1);

  private static final AtomicInteger THREADS = new AtomicInteger();

  /**
   * A sink that several threads may write at once, each entry on the lane the sink chooses for it.
   * {@link #finish()} and {@link #close()} are called once every lane's thread has ended.
   */
  public interface Lanes extends EntrySink {
    /** How many lanes (threads) the sink can use; fixed. */
    int lanes();

    /**
     * Merge thread, called for every entry in the merge's order before it is queued: the lane
     * (0 to {@code lanes() - 1}) that writes it. May refuse the entry with an exception, which then
     * fails the render as a failure of writing that entry would.
     *
     * @param sequence the entry's number in the merge's order, from 0
     */
    int lane(EntryHeader header, long sequence) throws IOException;

    /** Lane {@code lane}'s thread: writes an entry (as {@link EntrySink#accept}), {@code sequence} as given to {@link #lane}. */
    void accept(int lane, long sequence, EntryHeader header, InputStream content, ContentOrigin origin) throws IOException;

    /** Any thread: the render is stopping; a lane waiting for another lane's work should give up. */
    void stop();
  }

  /** A plain sink as one lane. */
  private record OneLane(EntrySink sink) implements Lanes {
    @Override
    public int lanes() {
      return 1;
    }

    @Override
    public int lane(EntryHeader header, long sequence) {
      return 0;
    }

    @Override
    public void accept(int lane, long sequence, EntryHeader header, InputStream content, ContentOrigin origin) throws IOException {
      sink.accept(header, content, origin);
    }

    @Override
    public void accept(EntryHeader header, InputStream content) {
      throw new UnsupportedOperationException();
    }

    @Override
    public void stop() {}

    @Override
    public void finish() throws IOException {
      sink.finish();
    }

    @Override
    public void close() throws IOException {
      sink.close();
    }
  }

  private final Lanes sink;
  private final String what;
  private final int threadNumber = THREADS.incrementAndGet();
  private final BlockingQueue<Op>[] queues;
  private final BlockingQueue<Chunk> free = new ArrayBlockingQueue<>(CHUNKS);
  /** Each lane's thread, null until the lane's first entry (lane 0's starts at once). */
  private final Thread[] writers;
  /** The lane of the file whose content the merge thread is queuing. */
  private int currentLane;
  /** Entries queued so far (merge thread only): the next entry's sequence number. */
  private long sequence;
  /** Chunks made so far (merge thread only); at most {@link #CHUNKS}. */
  private int chunks;
  /** The chunk the merge thread is filling, or null. */
  private Chunk filling;
  /** The first failure of any lane and the entry it was writing (set once, by {@link #fail}). */
  private volatile Throwable failure;
  private volatile EntryHeader failedEntry;
  private volatile ContentOrigin failedOrigin;
  private boolean finishing;
  private boolean closed;

  /**
   * Starts the writer thread, one lane for a sink that only one thread may write.
   *
   * @param sink the sink to run on it; closed by {@link #close()}
   * @param what what the sink writes, for the thread's name and for errors ("directory output")
   */
  public BackgroundEntrySink(EntrySink sink, String what) {
    this(new OneLane(sink), what);
  }

  /**
   * Starts the first lane's thread; the others start at their first entry.
   *
   * @param sink the sink whose lanes to run; closed by {@link #close()}
   * @param what what the sink writes, for the threads' names and for errors ("directory output")
   */
  @SuppressWarnings("unchecked")
  public BackgroundEntrySink(Lanes sink, String what) {
    this.sink = sink;
    this.what = what;
    int n = sink.lanes();
    if (n < 1) {
      throw new IllegalArgumentException("lanes: " + n);
    }
    this.queues = new BlockingQueue[n];
    this.writers = new Thread[n];
    for (int i = 0; i < n; i++) {
      queues[i] = new ArrayBlockingQueue<>(QUEUED);
    }
    started(0);
  }

  /** Lane {@code lane}'s thread, started now if it was not yet. */
  private Thread started(int lane) {
    Thread t = writers[lane];
    if (t == null) {
      t = new Thread(() -> write(lane), "ocirender-writer-" + threadNumber + (lane == 0 ? "" : "-" + lane));
      t.setDaemon(true); // never keeps a failing process alive; close() and finish() join it
      writers[lane] = t;
      t.start();
    }
    return t;
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
    long number = sequence++;
    int lane;
    try {
      lane = sink.lane(header, number);
    } catch (IOException | RuntimeException e) {
      fail(e, header, origin);
      checkWriter();
      throw e; // not reached: checkWriter throws the failure just recorded
    }
    started(lane);
    currentLane = lane;
    if (content == null || header.type() != EntryType.FILE) {
      put(new Op(Kind.ENTRY, header, origin, content != null, null, 0, 0, true, number));
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
        put(new Op(first ? Kind.ENTRY : Kind.MORE, first ? header : null, origin, true, length > 0 ? c : null, start, length, end, number));
        first = false;
        if (c.fill == CHUNK_SIZE) {
          filling = null;
          release(c);
        }
      }
    } catch (IOException | RuntimeException | Error e) {
      if (!first) {
        // The writer has this file open: make its content stream fail rather than end short.
        putQuietly(currentLane, BROKEN);
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
    for (int lane = 0; lane < writers.length; lane++) {
      if (writers[lane] != null) {
        put(lane, FINISH);
      }
    }
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
      sink.stop();
      for (int lane = 0; lane < writers.length; lane++) {
        putQuietly(lane, ABORT);
      }
      join();
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
    put(currentLane, op);
  }

  private void put(int lane, Op op) throws IOException {
    try {
      while (!queues[lane].offer(op, POLL_MILLIS, TimeUnit.MILLISECONDS)) {
        checkWriter();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while waiting for the " + what + " writer");
    }
  }

  /** Queues {@code op} for a lane unless its writer has not started or has ended (it then needs no message). */
  private void putQuietly(int lane, Op op) {
    Thread writer = writers[lane];
    boolean interrupted = false;
    try {
      while (writer != null && writer.isAlive()) {
        try {
          if (queues[lane].offer(op, POLL_MILLIS, TimeUnit.MILLISECONDS)) {
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

  /** Records the first failure of any lane (or of routing) and tells the sink to stop. */
  private void fail(Throwable t, EntryHeader header, ContentOrigin origin) {
    synchronized (this) {
      if (failure != null) {
        return;
      }
      failedEntry = header;
      failedOrigin = origin;
      failure = t;
    }
    sink.stop();
  }

  /** Throws the first lane's failure, or that a writer ended without one before being told to. */
  private void checkWriter() throws IOException {
    Throwable t = failure;
    if (t != null) {
      EntryHeader h = failedEntry;
      ContentOrigin o = failedOrigin;
      String entry = h == null ? "" : "entry " + h.path().quoted() + (o == null ? "" : " (layer " + o.layer() + ")") + ": ";
      String message = t.getMessage() == null ? t.toString() : t.getMessage();
      throw new IOException(entry + "writing the " + what + " failed: " + message, t);
    }
    if (!finishing && !closed) {
      for (Thread writer : writers) {
        if (writer != null && !writer.isAlive()) {
          throw new IOException("the " + what + " writer thread " + writer.getName() + " ended unexpectedly");
        }
      }
    }
  }

  /** Waits for every started writer to end. */
  private void join() throws IOException {
    boolean interrupted = false;
    try {
      for (Thread writer : writers) {
        while (writer != null) {
          try {
            writer.join();
            break;
          } catch (InterruptedException e) {
            interrupted = true; // the writer ends on its own: FINISH or ABORT is queued
          }
        }
      }
    } finally {
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }

  // ---- writer thread

  private void write(int lane) {
    BlockingQueue<Op> queue = queues[lane];
    try {
      Op op;
      while ((op = queue.take()).kind != Kind.FINISH && op.kind != Kind.ABORT) {
        if (op.kind != Kind.ENTRY || failure != null) {
          release(op); // a slice of a file the sink stopped reading, or we only drain after a failure
          continue;
        }
        Content content = op.hasContent ? new Content(queue, op) : null;
        try {
          sink.accept(lane, op.sequence, op.header, content, op.origin);
        } catch (Throwable t) {
          if (t instanceof MergeStopped) {
            fail(t, null, null);
          } else {
            fail(t, op.header, op.origin);
          }
        }
        if (content != null && content.drain()) {
          return; // the merge stopped (ABORT or FINISH came in the middle of a file)
        }
      }
    } catch (InterruptedException e) {
      fail(e, null, null);
    } catch (Throwable t) {
      fail(t, null, null);
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
    private final BlockingQueue<Op> queue;
    private Op slice;
    private int position;
    private boolean ended;
    private boolean stopped;

    Content(BlockingQueue<Op> queue, Op first) {
      this.queue = queue;
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
