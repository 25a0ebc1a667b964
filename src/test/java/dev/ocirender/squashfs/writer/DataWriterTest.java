package dev.ocirender.squashfs.writer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The data area's hand-off to its worker threads: blocks land in submission order whatever the
 * workers' timing, and a failing worker becomes an error for the writer, never a hang.
 */
@Timeout(60)
class DataWriterTest {

  private static final int BLOCK = 4096;

  @TempDir Path tmp;

  private FileChannel channel() throws IOException {
    return FileChannel.open(tmp.resolve("data"), StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
  }

  private static SquashfsOptions options(int threads) {
    return SquashfsOptions.defaults().withBlockSize(BLOCK).withThreads(threads);
  }

  /** Stores every block raw after a pause that differs per block, so workers finish out of order. */
  private static Supplier<BlockCompressor> slowRaw() {
    return () -> new BlockCompressor() {
      @Override
      byte[] compress(byte[] src, int off, int len) {
        try {
          Thread.sleep(Math.floorMod(src[off], 7));
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        return null;
      }
    };
  }

  @Test
  void blocksLandInSubmissionOrder_whateverTheWorkersTiming() throws IOException {
    int blocks = 200;
    List<long[]> results = new ArrayList<>();
    try (FileChannel ch = channel(); DataWriter w = new DataWriter(ch, 100, options(4), slowRaw())) {
      for (int i = 0; i < blocks; i++) {
        byte[] b = w.buffer();
        java.util.Arrays.fill(b, (byte) i);
        long[] r = new long[2];
        results.add(r);
        w.block(b, BLOCK, (position, word) -> {
          r[0] = position;
          r[1] = word;
        });
      }
      assertThat(w.drain()).isEqualTo(100 + (long) blocks * BLOCK);
      ByteBuffer back = ByteBuffer.allocate(BLOCK);
      for (int i = 0; i < blocks; i++) {
        assertThat(results.get(i)[0]).isEqualTo(100 + (long) i * BLOCK);
        assertThat(results.get(i)[1]).isEqualTo(BLOCK | DataWriter.UNCOMPRESSED_BIT);
        back.clear();
        ch.read(back, results.get(i)[0]);
        assertThat(back.array()).containsOnly((byte) i);
      }
    }
  }

  @Test
  void aCompressorThatThrows_failsTheWriter_andItsWorkersEnd() throws IOException {
    AtomicInteger calls = new AtomicInteger();
    Supplier<BlockCompressor> failingAtTen = () -> new BlockCompressor() {
      @Override
      byte[] compress(byte[] src, int off, int len) {
        if (calls.incrementAndGet() == 10) {
          throw new IllegalStateException("compressor broke at block 10");
        }
        return null;
      }
    };
    long before = workers();
    try (FileChannel ch = channel()) {
      DataWriter w = new DataWriter(ch, 0, options(2), failingAtTen);
      assertThatThrownBy(() -> {
        for (int i = 0; i < 100; i++) {
          w.block(w.buffer(), BLOCK, (p, s) -> {});
        }
        w.drain();
      }).isInstanceOf(IllegalStateException.class).hasMessage("compressor broke at block 10");
      w.close();
      awaitWorkers(before);
    }
  }

  @Test
  void aCompressorThatCannotBeMade_failsEveryBlock_insteadOfHanging() throws IOException {
    Supplier<BlockCompressor> unloadable = () -> {
      throw new UnsatisfiedLinkError("no zstd-jni in java.library.path");
    };
    long before = workers();
    try (FileChannel ch = channel(); DataWriter w = new DataWriter(ch, 0, options(2), unloadable)) {
      w.block(w.buffer(), BLOCK, (p, s) -> {});
      assertThatThrownBy(w::drain).isInstanceOf(IOException.class)
          .hasMessageContaining("compressing a squashfs block").hasMessageContaining("no zstd-jni");
    }
    awaitWorkers(before);
  }

  /** Waits until no more compression threads are alive than before the test started. */
  private static void awaitWorkers(long before) {
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (workers() > before && System.nanoTime() < deadline) {
      Thread.onSpinWait();
    }
    assertThat(workers()).as("squashfs-compress threads still alive").isLessThanOrEqualTo(before);
  }

  private static long workers() {
    return Thread.getAllStackTraces().keySet().stream()
        .filter(t -> t.getName().startsWith("squashfs-compress-") && t.isAlive()).count();
  }

  /** Writes {@code blocks} blocks (each filled with its number) through {@code w}, then drains it. */
  private static long writeNumberedBlocks(DataWriter w, int blocks) throws IOException {
    for (int i = 0; i < blocks; i++) {
      byte[] b = w.buffer();
      java.util.Arrays.fill(b, (byte) i);
      w.block(b, BLOCK, (p, s) -> {});
    }
    return w.drain();
  }

  @Test
  void writingBack_startsBackgroundWriteBacks_andTheFileIsTheSameAsWithout() throws IOException {
    int blocks = 700; // 2.8 MB: the staging buffer (1 MiB) is flushed twice before the drain
    Path plain = tmp.resolve("plain");
    Path writtenBack = tmp.resolve("written-back");
    try (FileChannel ch = FileChannel.open(plain, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
        DataWriter w = new DataWriter(ch, 100, options(2), slowRaw())) {
      writeNumberedBlocks(w, blocks);
      w.awaitWriteBack();
      assertThat(w.writeBacks()).isZero();
    }
    try (FileChannel ch = FileChannel.open(writtenBack, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
        DataWriter w = new DataWriter(ch, 100, options(2), slowRaw())) {
      w.writeBackEvery(1);
      assertThat(writeNumberedBlocks(w, blocks)).isEqualTo(100 + (long) blocks * BLOCK);
      w.awaitWriteBack();
      // One per flush, unless the previous one was still running: at least the first.
      assertThat(w.writeBacks()).isBetween(1, 3);
    }
    assertThat(java.nio.file.Files.readAllBytes(writtenBack)).isEqualTo(java.nio.file.Files.readAllBytes(plain));
  }

  @Test
  void aFailedBackgroundWriteBack_failsTheWriter() throws IOException {
    try (FileChannel real = channel(); FileChannel failing = new ForceFails(real);
        DataWriter w = new DataWriter(failing, 0, options(2), slowRaw())) {
      w.writeBackEvery(1);
      assertThatThrownBy(() -> {
        writeNumberedBlocks(w, 700);
        w.awaitWriteBack();
      }).isInstanceOf(IOException.class)
          .hasMessageContaining("writing the squashfs image back to disk").hasMessageContaining("disk gone");
    }
  }

  /** A file channel whose {@code force} fails, as an fsync does after a write-back error; else {@code real}'s. */
  private static final class ForceFails extends FileChannel {
    private final FileChannel real;

    ForceFails(FileChannel real) {
      this.real = real;
    }

    @Override
    public void force(boolean metaData) throws IOException {
      throw new IOException("disk gone");
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
      return real.read(dst);
    }

    @Override
    public long read(ByteBuffer[] dsts, int offset, int length) throws IOException {
      return real.read(dsts, offset, length);
    }

    @Override
    public int write(ByteBuffer src) throws IOException {
      return real.write(src);
    }

    @Override
    public long write(ByteBuffer[] srcs, int offset, int length) throws IOException {
      return real.write(srcs, offset, length);
    }

    @Override
    public long position() throws IOException {
      return real.position();
    }

    @Override
    public FileChannel position(long newPosition) throws IOException {
      real.position(newPosition);
      return this;
    }

    @Override
    public long size() throws IOException {
      return real.size();
    }

    @Override
    public FileChannel truncate(long size) throws IOException {
      real.truncate(size);
      return this;
    }

    @Override
    public long transferTo(long position, long count, java.nio.channels.WritableByteChannel target) throws IOException {
      return real.transferTo(position, count, target);
    }

    @Override
    public long transferFrom(java.nio.channels.ReadableByteChannel src, long position, long count) throws IOException {
      return real.transferFrom(src, position, count);
    }

    @Override
    public int read(ByteBuffer dst, long position) throws IOException {
      return real.read(dst, position);
    }

    @Override
    public int write(ByteBuffer src, long position) throws IOException {
      return real.write(src, position);
    }

    @Override
    public java.nio.MappedByteBuffer map(MapMode mode, long position, long size) throws IOException {
      return real.map(mode, position, size);
    }

    @Override
    public java.nio.channels.FileLock lock(long position, long size, boolean shared) throws IOException {
      return real.lock(position, size, shared);
    }

    @Override
    public java.nio.channels.FileLock tryLock(long position, long size, boolean shared) throws IOException {
      return real.tryLock(position, size, shared);
    }

    @Override
    protected void implCloseChannel() {
      // the test closes the real channel
    }
  }

  @Test
  void pendingBlocks_boundedInASmallHeapOnly() {
    int block = 128 * 1024;
    long mib = 1024 * 1024;
    // From 256 MiB up, two workers keep their 16 places each: the default run is not slowed.
    assertThat(DataWriter.maxPending(2, block, 256 * mib)).isEqualTo(32);
    assertThat(DataWriter.maxPending(2, block, 6144 * mib)).isEqualTo(32);
    // Below, the in-flight blocks (input and output buffer each) take at most a 32nd of the heap.
    assertThat(DataWriter.maxPending(2, block, 110 * mib)).isEqualTo(13);
    assertThat(13L * 2 * block).isLessThanOrEqualTo(110 * mib / 32);
    // Never fewer than 2 per worker.
    assertThat(DataWriter.maxPending(2, block, 16 * mib)).isEqualTo(4);
  }
}
