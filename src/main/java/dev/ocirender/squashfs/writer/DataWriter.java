package dev.ocirender.squashfs.writer;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.ArrayDeque;
import java.util.function.Supplier;

/**
 * The data area of a squashfs image: compresses data and fragment blocks on a few worker threads
 * and writes them to the file strictly in submission order, so the layout (and therefore the image)
 * does not depend on thread timing.
 *
 * <p>Every operation goes through one FIFO of at most {@code 16 × threads} pending operations (fewer
 * in a small heap, see {@link #maxPending}); the submitting thread completes the oldest one (waits
 * for its compression, writes it) when the FIFO is full, which bounds memory to that many blocks.
 * Their input and compressed-output buffers are reused once a block is written, so the steady state
 * allocates nothing per block but its job.
 * Besides blocks, the FIFO carries {@linkplain #inOrder in-order tasks}: noting where a file's
 * blocks start, and checking a file's blocks against an earlier copy once both are written (a copy
 * is then moved back over, so what follows overwrites it, and the file is truncated at the end).
 * Results (block positions and size words) are filled into the caller's records when their
 * operation completes; they are all known after {@link #drain()}.
 *
 * <p>The hand-off uses plain monitors and a fixed set of threads rather than an executor and
 * futures: this is the producer's per-block path, and the JIT inlines it into every caller; the
 * executor's code made those compilations several times larger (about 0.5 s of compiler time per
 * run on 2 cores).
 *
 * <p>Writing back early ({@link #writeBackEvery}): an image that is published with an fsync (the
 * CLI's output file) would otherwise have all of its hundreds of MB still in the page cache at the
 * end, and the publish would wait for the disk with the CPU idle (0.35 s for the 380 MB real-file
 * image, BENCHMARKS.md, session 8). So every so many bytes written, a background thread asks the
 * kernel to write what is there ({@code fdatasync}) while blocks keep coming; one at a time, none
 * started while the last one still runs. Its failure fails the writer (at the next flush or at
 * {@link #awaitWriteBack()}): the kernel reports a write-back error to one fsync only, so the
 * publish's own fsync might not see it.
 *
 * <p>Not thread-safe: one submitting thread, which also runs every completion and in-order task.
 * Does not decide what is a block, a fragment or a duplicate; {@link SquashfsEntrySink} does.
 */
final class DataWriter implements AutoCloseable {

  /** Set in a block size word when the block is stored uncompressed. */
  static final int UNCOMPRESSED_BIT = 1 << 24;

  private static final int STAGING_SIZE = 1 << 20;

  /** Where a completed block reports its position and size word. */
  interface BlockResult {
    void written(long position, int sizeWord);
  }

  /** Work that must see the data area exactly as the blocks queued before it left it. */
  interface InOrderTask {
    void run() throws IOException;
  }

  private final FileChannel channel;
  private final int blockSize;
  private final ArrayDeque<Job> pending = new ArrayDeque<>();
  /** Jobs waiting for a worker; guarded by itself. */
  private final ArrayDeque<Job> work = new ArrayDeque<>();
  private final Thread[] workers;
  /** Input block buffers and compressed-output buffers, used by the submitting thread only. */
  private final ArrayDeque<byte[]> buffers = new ArrayDeque<>();
  private final ArrayDeque<byte[]> outputs = new ArrayDeque<>();
  private final int maxPending;
  /**
   * Written blocks collect here and go to the file in large writes: the channel's per-call path is
   * long (and the JIT would inline it into every caller), and a direct buffer spares it a copy.
   */
  private final ByteBuffer staging;
  /** Where the staged bytes go in the file. */
  private long stagingStart;
  private boolean closed;
  private long position;
  /** Bytes flushed between two background write-backs; 0: none. */
  private long writeBackEvery;
  private long sinceWriteBack;
  /** The background write-back under way or last done, or null. */
  private Thread writeBack;
  private int writeBacks;
  /** A background write-back's failure, thrown on the submitting thread. */
  private volatile IOException writeBackFailure;
  private long end;

  /** One FIFO entry: a block to compress and write, or an in-order task. */
  private static final class Job {
    final byte[] data;
    final int length;
    final BlockResult result;
    final InOrderTask task;
    /** A pooled compressed-output buffer; null if the pool was empty (the worker allocates one). */
    byte[] output;
    /** A reused block's stored bytes when they are not in {@link #output} (a view of a store file). */
    final ByteBuffer storedBytes;
    /** Compressed length, or -1 to store the block raw; set by the worker before {@link #done}. */
    int compressedLength;
    Throwable failure;
    boolean done;

    Job(byte[] data, int length, BlockResult result, byte[] output) {
      this.data = data;
      this.length = length;
      this.result = result;
      this.output = output;
      this.storedBytes = null;
      this.task = null;
    }

    /** A block compressed before (reused): written as given, no worker involved. */
    Job(byte[] stored, int storedLength, int sizeWord, BlockResult result) {
      this.data = null;
      this.length = sizeWord;
      this.result = result;
      this.output = stored;
      this.storedBytes = null;
      this.compressedLength = storedLength;
      this.task = null;
      this.done = true;
    }

    /** A block compressed before, its stored bytes the remaining ones of {@code stored}. */
    Job(ByteBuffer stored, int sizeWord, BlockResult result) {
      this.data = null;
      this.length = sizeWord;
      this.result = result;
      this.output = null;
      this.storedBytes = stored;
      this.compressedLength = stored.remaining();
      this.task = null;
      this.done = true;
    }

    Job(InOrderTask task) {
      this.data = null;
      this.length = 0;
      this.result = null;
      this.storedBytes = null;
      this.task = task;
      this.done = true;
    }

    synchronized void finish(int compressedLength, Throwable failure) {
      this.compressedLength = compressedLength;
      this.failure = failure;
      done = true;
      notifyAll();
    }

    synchronized void awaitDone() throws InterruptedIOException {
      try {
        while (!done) {
          wait();
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new InterruptedIOException("interrupted while compressing squashfs blocks");
      }
    }
  }

  DataWriter(FileChannel channel, long start, SquashfsOptions options) {
    this(channel, start, options,
        () -> BlockCompressor.create(options.compression(), options.level(), options.blockSize()));
  }

  /** With each worker's compressor made by {@code compressors} (tests inject failures here). */
  DataWriter(FileChannel channel, long start, SquashfsOptions options, Supplier<BlockCompressor> compressors) {
    this.channel = channel;
    this.blockSize = options.blockSize();
    this.position = start;
    this.end = start;
    this.stagingStart = start;
    this.staging = ByteBuffer.allocateDirect(Math.max(STAGING_SIZE, blockSize));
    this.maxPending = maxPending(options.threads(), blockSize, Runtime.getRuntime().maxMemory());
    this.workers = new Thread[options.threads()];
    for (int i = 0; i < workers.length; i++) {
      Thread t = new Thread(() -> compressLoop(compressors), "squashfs-compress-" + (i + 1));
      t.setDaemon(true);
      workers[i] = t;
      t.start();
    }
  }

  /**
   * How many operations may wait: 16 per worker keep the workers busy through blocks of uneven
   * cost. Each pending block holds an input and an output buffer of about a block, and stays pooled
   * once written; so in a small heap (a million small files at {@code -Xmx128m}) they get at most a
   * 32nd of it, which leaves 16 per worker untouched from a heap of 256 MiB up (128 KiB blocks, two
   * workers), and never fewer than 2 per worker.
   */
  static int maxPending(int threads, int blockSize, long maxHeap) {
    long byHeap = maxHeap / 32 / (2L * blockSize);
    return (int) Math.max(2L * threads, Math.min(16L * threads, byHeap));
  }

  /**
   * A block buffer ({@code blockSize} bytes) for {@link #block}, reused from blocks already written:
   * the writer then allocates nothing per block in the steady state.
   */
  byte[] buffer() {
    byte[] b = buffers.poll();
    return b != null ? b : new byte[blockSize];
  }

  /** Gives back a buffer from {@link #buffer()} that was not queued. */
  void release(byte[] buffer) {
    if (buffer.length == blockSize) {
      buffers.add(buffer);
    }
  }

  /**
   * Queues a block for compression; {@code data} must not be changed afterwards. A buffer from
   * {@link #buffer()} goes back to the pool once the block is written.
   */
  void block(byte[] data, int len, BlockResult result) throws IOException {
    Job job = new Job(data, len, result, outputs.poll());
    synchronized (work) {
      work.add(job);
      work.notify();
    }
    enqueue(job);
  }

  /**
   * Queues a block that was compressed before: {@code storedLength} bytes of {@code stored} are
   * written as they are, in order with the other blocks, with size word {@code sizeWord} (which
   * carries the uncompressed flag when the block was stored raw). Nothing is compressed.
   */
  void stored(byte[] stored, int storedLength, int sizeWord, BlockResult result) throws IOException {
    enqueue(new Job(stored, storedLength, sizeWord, result));
  }

  /**
   * As {@link #stored(byte[], int, int, BlockResult)}, the stored bytes being the remaining ones of
   * {@code stored} (a view of a block store file, copied once, into the file's staging buffer),
   * which must not change until the block is written.
   */
  void stored(ByteBuffer stored, int sizeWord, BlockResult result) throws IOException {
    enqueue(new Job(stored, sizeWord, result));
  }

  /**
   * Runs {@code task} on the submitting thread once every block queued before it is written: it
   * may then read them back from the file, read {@link #position()} (where the next block will
   * land) and {@link #moveTo} another position.
   */
  void inOrder(InOrderTask task) throws IOException {
    enqueue(new Job(task));
  }

  /** Where the next block will be written; meaningful in an {@link #inOrder} task. */
  long position() {
    return position;
  }

  /**
   * From an {@link #inOrder} task: the next block lands at {@code to}. Moving back over blocks
   * already written lets what follows overwrite them; the file is truncated to the final end.
   */
  void moveTo(long to) throws IOException {
    flush();
    position = to;
    stagingStart = to;
  }

  /** Puts every block written so far into the file, for reading it back. */
  void flush() throws IOException {
    staging.flip();
    long at = stagingStart;
    int len = staging.remaining();
    while (staging.hasRemaining()) {
      at += channel.write(staging, at);
    }
    staging.clear();
    stagingStart = position;
    if (writeBackEvery > 0) {
      wroteBytes(len);
    }
  }

  /**
   * From now on, asks the kernel in the background to write the file back to disk every {@code
   * bytes} flushed (see the class comment); for an output that is fsynced when published.
   */
  void writeBackEvery(long bytes) {
    if (bytes <= 0) {
      throw new IllegalArgumentException("write-back interval must be positive: " + bytes);
    }
    writeBackEvery = bytes;
  }

  /** Counts flushed bytes; starts a background write-back when enough are due and none runs. */
  private void wroteBytes(int len) throws IOException {
    IOException failed = writeBackFailure;
    if (failed != null) {
      throw new IOException("writing the squashfs image back to disk: " + failed.getMessage(), failed);
    }
    sinceWriteBack += len;
    if (sinceWriteBack < writeBackEvery || (writeBack != null && writeBack.isAlive())) {
      return;
    }
    sinceWriteBack = 0;
    writeBacks++;
    Thread t = new Thread(() -> {
      try {
        channel.force(false);
      } catch (IOException e) {
        if (channel.isOpen()) {
          writeBackFailure = e;
        }
      }
    }, "squashfs-writeback");
    t.setDaemon(true);
    writeBack = t;
    t.start();
  }

  /** How many background write-backs were started (for tests). */
  int writeBacks() {
    return writeBacks;
  }

  /**
   * Waits for the background write-back under way, if any, and throws its failure or an earlier
   * one's. Call after the last write, before the image is published.
   */
  void awaitWriteBack() throws IOException {
    Thread t = writeBack;
    if (t != null) {
      try {
        t.join();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new InterruptedIOException("interrupted while writing the squashfs image back to disk");
      }
    }
    IOException failed = writeBackFailure;
    if (failed != null) {
      throw new IOException("writing the squashfs image back to disk: " + failed.getMessage(), failed);
    }
  }

  /** Completes every pending operation, flushes, and returns the end of the data area. */
  long drain() throws IOException {
    while (!pending.isEmpty()) {
      complete(pending.poll());
    }
    flush();
    return position;
  }

  /** The furthest byte ever written; past {@link #drain()}'s result only after a final rewind. */
  long highWater() {
    return end;
  }

  private void enqueue(Job job) throws IOException {
    pending.add(job);
    while (pending.size() > maxPending) {
      complete(pending.poll());
    }
  }

  /** Waits for the oldest operation's compression if need be, then writes it or runs its task. */
  private void complete(Job job) throws IOException {
    if (job.task != null) {
      job.task.run();
      return;
    }
    if (job.data == null) {
      long at = position;
      if (job.storedBytes != null) {
        write(job.storedBytes);
      } else {
        write(job.output, job.compressedLength);
      }
      job.result.written(at, job.length); // a reused block: length holds its size word
      return;
    }
    job.awaitDone();
    if (job.failure != null) {
      if (job.failure instanceof RuntimeException r) {
        throw r;
      }
      throw new IOException("compressing a squashfs block: " + job.failure, job.failure);
    }
    long at = position;
    if (job.compressedLength >= 0) {
      write(job.output, job.compressedLength);
      job.result.written(at, job.compressedLength);
    } else {
      write(job.data, job.length);
      job.result.written(at, job.length | UNCOMPRESSED_BIT);
    }
    outputs.add(job.output);
    release(job.data);
  }

  /**
   * A worker: takes blocks in submission order and compresses them with its own compressor. Every
   * failure, making the compressor included (a native library that will not load), is handed to
   * the block's job: a worker never dies with jobs waiting on it.
   */
  private void compressLoop(Supplier<BlockCompressor> compressors) {
    BlockCompressor compressor = null;
    Throwable broken = null;
    try {
      compressor = compressors.get();
    } catch (RuntimeException | Error e) {
      broken = e;
    }
    try {
      for (Job job; (job = nextJob()) != null; ) {
        int n = -1;
        Throwable failure = broken;
        if (failure == null) {
          try {
            if (job.output == null) {
              job.output = new byte[compressor.maxCompressedLength(blockSize)];
            }
            n = compressor.compressInto(job.data, 0, job.length, job.output);
          } catch (RuntimeException | Error e) {
            failure = e;
          }
        }
        job.finish(n, failure);
      }
    } finally {
      if (compressor != null) {
        compressor.close();
      }
    }
  }

  /** The next job for a worker, or null once the writer is closed. */
  private Job nextJob() {
    synchronized (work) {
      while (work.isEmpty()) {
        if (closed) {
          return null;
        }
        try {
          work.wait();
        } catch (InterruptedException e) {
          // Only close() ends a worker: one lost while blocks wait would hang the writer.
        }
      }
      return work.poll();
    }
  }

  private void write(ByteBuffer b) throws IOException {
    int len = b.remaining();
    if (staging.remaining() < len) {
      flush();
    }
    staging.put(b);
    position += len;
    end = Math.max(end, position);
  }

  private void write(byte[] b, int len) throws IOException {
    if (staging.remaining() < len) {
      flush();
    }
    staging.put(b, 0, len);
    position += len;
    end = Math.max(end, position);
  }

  /**
   * Stops the workers. A worker finishes the block in hand first (its native compression context
   * is freed by the worker itself, never under it); jobs not yet started are dropped.
   */
  @Override
  public void close() {
    pending.clear();
    synchronized (work) {
      closed = true;
      work.clear();
      work.notifyAll();
    }
  }
}
