package dev.ocirender.store;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Objects;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;

/**
 * The stream of an {@link AtomicFileOutput}: bytes gather in large native buffers, and a thread of
 * this stream writes each full buffer to the file while the caller fills the next, so the kernel's
 * share of writing (for a tar render a third of the merge thread's CPU) runs beside the render
 * instead of on its thread.
 *
 * <p>Where the file system accepts it, the buffers go to the file with {@code O_DIRECT}: the disk
 * reads them straight from our memory, and the kernel neither copies them into its page cache nor
 * has to write them back at the publish's fsync. On this project's machine copying a 1 GB output
 * into the page cache costs 0.2–2.8 s of kernel CPU (more the first time the guest touches the
 * memory), a direct write of it 0.15 s. Direct writes need the file offset, length and address of
 * every write aligned to the file system's block; so every buffer but the last is whole and
 * aligned, and the last one's unaligned tail is written through the page cache at
 * {@link #finish()}. When the file system refuses {@code O_DIRECT} (some tmpfs, network file
 * systems), or {@code -Docirender.directWrite=false}, the writer thread writes through the page
 * cache instead. Either way it tells {@code writeBack} how much it wrote, which starts a background
 * fsync now and then: after page-cache writes the publish's fsync would otherwise wait for all of
 * them, and after direct writes for the disk to flush its own write cache (a virtual disk's is the
 * host's page cache): the final fsync of a 1 GB render took 0.27 s without these, 0.02–0.03 s with them.
 *
 * <p>Memory: at most {@link #BUFFERS} buffers of {@link #BUFFER_SIZE} bytes, outside the heap,
 * allocated as the output grows (a small output uses one and no thread). A failure of the writer
 * thread surfaces at the caller's next write, or at {@link #finish()}; {@link #abort()} stops the
 * thread without writing more. {@link #flush()} and {@link #close()} do nothing: what was written
 * reaches the file by {@link #finish()}. One producer thread.
 */
final class WriterThreadStream extends OutputStream {

  static final int BUFFER_SIZE = 4 << 20;
  static final int BUFFERS = 4;
  /** The smallest alignment of direct writes we use: a page, so the page-cache tail never shares one. */
  private static final int MIN_ALIGN = 4096;

  /** A buffer to write at a file offset; a null buffer ends the writer thread. */
  private record Job(ByteBuffer buffer, long position) {}

  private static final Job END = new Job(null, -1);

  /** Something to call after {@code bytes} more were written (to start a background write-back). */
  @FunctionalInterface
  interface WriteBack {
    void written(long bytes) throws IOException;
  }

  private final Path file;
  private final FileChannel plain;
  private final boolean tryDirect;
  private final WriteBack writeBack;
  private final String name;
  private final BlockingQueue<Job> full = new ArrayBlockingQueue<>(BUFFERS + 1);
  private final BlockingQueue<ByteBuffer> free = new ArrayBlockingQueue<>(BUFFERS);
  private int allocated;
  private ByteBuffer current;
  /** The file offset of {@link #current}'s first byte: everything before it went to the writer. */
  private long handedOff;
  private FileChannel direct;
  private int align = MIN_ALIGN;
  private Thread writer;
  private volatile Throwable failure;
  private boolean finished;

  /**
   * @param plain the file, open for writing, used for the page-cache writes (and not closed here)
   * @param tryDirect open the file a second time with {@code O_DIRECT} for the whole buffers
   */
  WriterThreadStream(Path file, FileChannel plain, boolean tryDirect, WriteBack writeBack) {
    this.file = Objects.requireNonNull(file, "file");
    this.plain = Objects.requireNonNull(plain, "plain");
    this.tryDirect = tryDirect;
    this.writeBack = Objects.requireNonNull(writeBack, "writeBack");
    this.name = "ocirender-write " + file.getFileName();
  }

  /** Whether whole buffers go to the file with {@code O_DIRECT} (known once the first one went). */
  boolean writesDirect() {
    return direct != null;
  }

  @Override
  public void write(int b) throws IOException {
    ensureCurrent();
    current.put((byte) b);
  }

  @Override
  public void write(byte[] b, int off, int len) throws IOException {
    Objects.checkFromIndexSize(off, len, b.length);
    while (len > 0) {
      ensureCurrent();
      int n = Math.min(len, current.remaining());
      current.put(b, off, n);
      off += n;
      len -= n;
    }
  }

  /** Makes {@link #current} a buffer with room, handing a full one to the writer thread. */
  private void ensureCurrent() throws IOException {
    if (finished) {
      throw new IOException("writing " + file + ": stream already finished");
    }
    throwFailure();
    if (current != null && current.hasRemaining()) {
      return;
    }
    if (current != null) {
      startWriter();
      current.flip();
      long position = handedOff;
      handedOff += current.limit();
      put(new Job(current, position));
      current = null;
    }
    current = free.poll();
    if (current == null && allocated < BUFFERS) {
      current = allocate();
    }
    if (current == null) {
      try {
        current = free.take();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new InterruptedIOException("writing " + file + ": interrupted");
      }
      throwFailure();
    }
  }

  private ByteBuffer allocate() {
    allocated++;
    return ByteBuffer.allocateDirect(BUFFER_SIZE + align).alignedSlice(align).limit(BUFFER_SIZE);
  }

  private void put(Job job) throws IOException {
    try {
      full.put(job);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("writing " + file + ": interrupted");
    }
  }

  /** Opens the direct channel if allowed and possible, and starts the thread, at the first full buffer. */
  private void startWriter() {
    if (writer != null) {
      return;
    }
    if (tryDirect) {
      direct = openDirect(file);
      if (direct != null) {
        try {
          align = Math.max(MIN_ALIGN, (int) Files.getFileStore(file).getBlockSize());
        } catch (IOException | RuntimeException e) {
          align = Integer.MAX_VALUE;
        }
        if (BUFFER_SIZE % align != 0 || !isAligned(current)) {
          closeQuietly(direct);
          direct = null;
          align = MIN_ALIGN;
        }
      }
    }
    writer = new Thread(this::drain, name);
    writer.setDaemon(true);
    writer.start();
  }

  private boolean isAligned(ByteBuffer buffer) {
    return buffer.alignmentOffset(0, align) == 0;
  }

  /** The file opened once more with {@code O_DIRECT}, or null when the file system refuses it. */
  private static FileChannel openDirect(Path file) {
    try {
      return FileChannel.open(file, StandardOpenOption.WRITE, com.sun.nio.file.ExtendedOpenOption.DIRECT);
    } catch (IOException | UnsupportedOperationException e) {
      return null;
    }
  }

  /** The writer thread: writes every job in order; after a failure only recycles the buffers. */
  private void drain() {
    try {
      while (true) {
        Job job = full.take();
        if (job.buffer == null) {
          return;
        }
        if (failure == null) {
          try {
            FileChannel channel = direct != null ? direct : plain;
            writeFully(channel, job.buffer, job.position);
            writeBack.written(job.buffer.limit());
          } catch (IOException | RuntimeException e) {
            failure = e;
          }
        }
        job.buffer.clear().limit(BUFFER_SIZE);
        free.put(job.buffer);
      }
    } catch (InterruptedException e) {
      // aborted
    }
  }

  private static void writeFully(FileChannel channel, ByteBuffer buffer, long position) throws IOException {
    long at = position;
    while (buffer.hasRemaining()) {
      at += channel.write(buffer, at);
    }
  }

  /**
   * Writes what is left, waits for the writer thread and closes the direct channel; the first
   * failure of any write is thrown here. Idempotent once it succeeded.
   */
  void finish() throws IOException {
    if (finished) {
      throwFailure();
      return;
    }
    finished = true;
    try {
      if (current != null && current.position() > 0) {
        int n = current.position();
        if (writer != null && direct != null) {
          // The aligned part of the last buffer goes direct; its tail, under one block, through
          // the page cache, at an offset where the direct writes stopped (a page boundary).
          int whole = n - n % align;
          ByteBuffer tail = ByteBuffer.allocate(n - whole);
          current.flip().position(whole);
          tail.put(current).flip();
          writeFully(plain, tail, handedOff + whole);
          if (whole > 0) {
            current.position(0).limit(whole);
            long position = handedOff;
            handedOff += whole;
            put(new Job(current, position));
            current = null;
          }
        } else if (writer != null) {
          current.flip();
          long position = handedOff;
          handedOff += current.limit();
          put(new Job(current, position));
          current = null;
        } else {
          // Never more than one buffer: no thread was needed.
          current.flip();
          writeFully(plain, current, handedOff);
          handedOff += n;
        }
      }
      stopWriter(false);
    } catch (IOException | RuntimeException e) {
      abort();
      throw e;
    }
    throwFailure();
  }

  /** Stops the writer thread without writing what is still queued; for a discarded output. Idempotent. */
  void abort() {
    finished = true;
    stopWriter(true);
  }

  private void stopWriter(boolean now) {
    Thread t = writer;
    if (t != null) {
      if (now) {
        full.clear();
        t.interrupt();
      } else if (!full.offer(END)) {
        t.interrupt(); // cannot happen: the queue holds every buffer and one END
      }
      boolean interrupted = false;
      while (true) {
        try {
          t.join();
          break;
        } catch (InterruptedException e) {
          interrupted = true;
          t.interrupt();
        }
      }
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
      writer = null;
    }
    if (direct != null) {
      closeQuietly(direct);
    }
  }

  private void throwFailure() throws IOException {
    Throwable f = failure;
    if (f != null) {
      throw new IOException("writing " + file + ": " + f.getMessage(), f);
    }
  }

  private static void closeQuietly(FileChannel channel) {
    try {
      channel.close();
    } catch (IOException e) {
      // nothing was left to write through it
    }
  }

  @Override
  public void flush() {
    // Nothing to do: a direct write must wait for a whole buffer, and finish() writes the rest.
  }

  @Override
  public void close() {
    // As the stream of an AtomicFileOutput: closing by a writer only ends its writing; the output
    // is written by finish() (publish) or discarded by abort().
  }
}
