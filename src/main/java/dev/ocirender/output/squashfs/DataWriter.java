package dev.ocirender.output.squashfs;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.ArrayDeque;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The data area of a squashfs image: compresses data and fragment blocks on a small worker pool
 * and writes them to the file strictly in submission order, so the layout (and therefore the image)
 * does not depend on thread timing.
 *
 * <p>Every operation goes through one FIFO of at most {@code 16 × threads} pending operations; the
 * submitting thread completes the oldest one (waits for its compression, writes it) when the FIFO
 * is full, which bounds memory to that many blocks. Their input and compressed-output buffers are
 * reused once a block is written, so the steady state allocates nothing per block. Besides blocks,
 * the FIFO carries {@linkplain #inOrder in-order tasks}: noting where a file's blocks start, and
 * checking a file's blocks against an earlier copy once both are written (a copy is then moved
 * back over, so what follows overwrites it, and the file is truncated at the end). Results (block
 * positions and size words) are filled into the caller's records when their operation completes;
 * they are all known after {@link #drain()}.
 *
 * <p>Not thread-safe: one submitting thread. Does not decide what is a block, a fragment or a
 * duplicate; {@link SquashfsEntrySink} does.
 */
final class DataWriter implements AutoCloseable {

  /** Set in a block size word when the block is stored uncompressed. */
  static final int UNCOMPRESSED_BIT = 1 << 24;

  /** Where a completed block reports its position and size word. */
  interface BlockResult {
    void written(long position, int sizeWord);
  }

  private interface Op {
    void complete() throws IOException;
  }

  private final FileChannel channel;
  private final SquashfsCompression compression;
  private final int level;
  private final int blockSize;
  private final ExecutorService pool;
  private final ThreadLocal<BlockCompressor> compressors;
  private final java.util.Queue<BlockCompressor> created = new java.util.concurrent.ConcurrentLinkedQueue<>();
  private final ArrayDeque<Op> pending = new ArrayDeque<>();
  /** Input block buffers, taken and given back by the submitting thread only. */
  private final ArrayDeque<byte[]> buffers = new ArrayDeque<>();
  /** Compressed-output buffers: taken by workers, given back by the submitting thread. */
  private final java.util.Queue<byte[]> outputs = new java.util.concurrent.ConcurrentLinkedQueue<>();
  private final int maxPending;
  private long position;
  private long end;

  DataWriter(FileChannel channel, long start, SquashfsOptions options) {
    this.channel = channel;
    this.compression = options.compression();
    this.level = options.level();
    this.blockSize = options.blockSize();
    this.position = start;
    this.end = start;
    AtomicInteger n = new AtomicInteger();
    this.pool = Executors.newFixedThreadPool(options.threads(), r -> {
      Thread t = new Thread(r, "squashfs-compress-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    });
    this.compressors = ThreadLocal.withInitial(() -> {
      BlockCompressor c = BlockCompressor.create(compression, level, blockSize);
      created.add(c);
      return c;
    });
    this.maxPending = 16 * options.threads();
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
    Future<Compressed> compressed = pool.submit(() -> compress(data, len));
    enqueue(() -> {
      Compressed c = await(compressed);
      long at = position;
      if (c.length >= 0) {
        write(c.buffer, c.length);
        result.written(at, c.length);
      } else {
        write(data, len);
        result.written(at, len | UNCOMPRESSED_BIT);
      }
      outputs.add(c.buffer);
      release(data);
    });
  }

  /** On a worker: compresses into a pooled output buffer. */
  private Compressed compress(byte[] data, int len) {
    BlockCompressor c = compressors.get();
    int need = c.maxCompressedLength(blockSize);
    byte[] out = outputs.poll();
    if (out == null || out.length < need) {
      out = new byte[need];
    }
    return new Compressed(out, c.compressInto(data, 0, len, out));
  }

  /** A compressed block in a pooled buffer; length -1 when it is to be stored raw. */
  private record Compressed(byte[] buffer, int length) {}

  /** Work that must see the data area exactly as the blocks queued before it left it. */
  interface InOrderTask {
    void run() throws IOException;
  }

  /**
   * Runs {@code task} on the submitting thread once every block queued before it is written: it
   * may then read them back from the file, read {@link #position()} (where the next block will
   * land) and {@link #moveTo} another position.
   */
  void inOrder(InOrderTask task) throws IOException {
    enqueue(task::run);
  }

  /** Where the next block will be written; meaningful in an {@link #inOrder} task. */
  long position() {
    return position;
  }

  /**
   * From an {@link #inOrder} task: the next block lands at {@code to}. Moving back over blocks
   * already written lets what follows overwrite them; the file is truncated to the final end.
   */
  void moveTo(long to) {
    position = to;
  }

  /** Completes every pending operation and returns the end of the data area. */
  long drain() throws IOException {
    while (!pending.isEmpty()) {
      pending.poll().complete();
    }
    return position;
  }

  /** The furthest byte ever written; past {@link #drain()}'s result only after a final rewind. */
  long highWater() {
    return end;
  }

  private void enqueue(Op op) throws IOException {
    pending.add(op);
    while (pending.size() > maxPending) {
      pending.poll().complete();
    }
  }

  private void write(byte[] b, int len) throws IOException {
    ByteBuffer buf = ByteBuffer.wrap(b, 0, len);
    long at = position;
    while (buf.hasRemaining()) {
      at += channel.write(buf, at);
    }
    position = at;
    end = Math.max(end, at);
  }

  private static <T> T await(Future<T> f) throws IOException {
    try {
      return f.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while compressing squashfs blocks");
    } catch (ExecutionException e) {
      Throwable c = e.getCause();
      if (c instanceof RuntimeException r) {
        throw r;
      }
      throw new IOException("compressing a squashfs block: " + c, c);
    }
  }

  @Override
  public void close() {
    pending.clear();
    pool.shutdownNow();
    try {
      if (pool.awaitTermination(10, java.util.concurrent.TimeUnit.SECONDS)) {
        // Native compression contexts are freed only once no worker can still be using them.
        created.forEach(BlockCompressor::close);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
