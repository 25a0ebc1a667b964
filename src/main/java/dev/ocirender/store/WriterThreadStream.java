package dev.ocirender.store;

import static dev.ocirender.io.Streams.closeQuietly;

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
 * The stream of an {@link AtomicFileOutput} on a file system that takes {@code O_DIRECT}: bytes
 * gather in large aligned native buffers, and a thread of this stream writes each full buffer to the
 * file with {@code O_DIRECT} while the caller fills the next. The disk reads the buffers straight
 * from our memory: the kernel neither copies them into its page cache (on this project's machine
 * 0.2–2.8 s of kernel CPU on the merge thread for a 1 GB output, more the first time the guest
 * touches the memory; a direct write of it costs 0.15 s) nor writes them back at the publish.
 *
 * <p>Direct writes need the file offset, length and address of every write aligned to the file
 * system's block; so every buffer but the last is whole and aligned, and the last one's unaligned
 * tail is written through the page cache at {@link #finish()} (as is a small output's only buffer,
 * without any thread). The writer thread tells {@code writeBack} how much it wrote, which starts a
 * background fsync now and then: otherwise the publish's fsync waits for the disk to flush its own
 * write cache (a virtual disk's is the host's page cache): the final fsync of a 1 GB render took
 * 0.27 s without these, 0.02–0.03 s with them.
 *
 * <p>Not used for the page cache: handing buffers to a thread of ours that copies them into the
 * page cache cost more kernel time than writing them on the caller's thread (3.8–4.7 s of sys
 * against 1.6–2.1 s for the same render; the copy reads a 16 MiB ring that is no longer in the
 * CPU's caches), so {@link AtomicFileOutput} writes there itself when {@code O_DIRECT} is refused.
 *
 * <p>Memory: at most {@link #BUFFERS} buffers of {@link #BUFFER_SIZE} bytes, outside the heap,
 * allocated as the output grows. A failure of the writer thread surfaces at the caller's next
 * write, or at {@link #finish()}; {@link #abort()} stops the thread without writing more.
 * {@link #flush()} and {@link #close()} do nothing: what was written reaches the file by
 * {@link #finish()}. One producer thread.
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
  private final FileChannel direct;
  private final int align;
  private final WriteBack writeBack;
  private final String name;
  private final BlockingQueue<Job> full = new ArrayBlockingQueue<>(BUFFERS + 1);
  private final BlockingQueue<ByteBuffer> free = new ArrayBlockingQueue<>(BUFFERS);
  private int allocated;
  private ByteBuffer current;
  /** The file offset of {@link #current}'s first byte: everything before it went to the writer. */
  private long handedOff;
  private Thread writer;
  private volatile Throwable failure;
  private boolean finished;

  /**
   * @param plain the file, open for writing, for the unaligned tail (not closed here)
   * @param direct the same file opened by {@link #openDirect}, for the whole buffers (closed here)
   */
  WriterThreadStream(Path file, FileChannel plain, FileChannel direct, WriteBack writeBack) throws IOException {
    this.file = Objects.requireNonNull(file, "file");
    this.plain = Objects.requireNonNull(plain, "plain");
    this.direct = Objects.requireNonNull(direct, "direct");
    this.align = alignment(file);
    this.writeBack = Objects.requireNonNull(writeBack, "writeBack");
    this.name = "ocirender-write " + file.getFileName();
  }

  /**
   * {@code file} opened for writing with {@code O_DIRECT}, or null when the file system refuses it
   * or its block size does not divide our buffers.
   */
  static FileChannel openDirect(Path file) {
    try {
      if (BUFFER_SIZE % alignment(file) != 0) {
        return null;
      }
      return FileChannel.open(file, StandardOpenOption.WRITE, com.sun.nio.file.ExtendedOpenOption.DIRECT);
    } catch (IOException | UnsupportedOperationException e) {
      return null;
    }
  }

  /** The alignment of direct writes to {@code file}: its file system's block, at least a page. */
  private static int alignment(Path file) throws IOException {
    long block = Files.getFileStore(file).getBlockSize();
    return (int) Math.min(Integer.MAX_VALUE, Math.max(MIN_ALIGN, block));
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

  /** Starts the writer thread, at the first full buffer (a small output needs none). */
  private void startWriter() {
    if (writer != null) {
      return;
    }
    writer = new Thread(this::drain, name);
    writer.setDaemon(true);
    writer.start();
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
            writeFully(direct, job.buffer, job.position);
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
        if (writer != null) {
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
        } else {
          // Never more than one buffer: no thread was needed, and the page cache takes it all.
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
    closeQuietly(direct);
  }

  private void throwFailure() throws IOException {
    Throwable f = failure;
    if (f != null) {
      throw new IOException("writing " + file + ": " + f.getMessage(), f);
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
