package dev.ocirender.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Random;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The writer thread of {@link AtomicFileOutput#stream()}: the published file holds exactly the
 * bytes written, whether the whole buffers went with {@code O_DIRECT} and the tail through the page
 * cache or (without direct writes) everything through the page cache on the caller's thread, and no
 * writer thread outlives a failure or a discard.
 */
class WriterThreadStreamTest {

  @TempDir Path dir;

  @Test
  void directWrites_unalignedSizes_publishExactlyTheBytesWritten() throws IOException {
    for (int extra : new int[] {0, 1, 4095, 4096, 4097, 511_111}) {
      // Three whole buffers and then some: the direct part, a partial last buffer and its tail.
      long size = 3L * WriterThreadStream.BUFFER_SIZE + extra;
      Path target = dir.resolve("direct-" + extra + ".tar");
      byte[] expected;
      boolean direct;
      try (AtomicFileOutput out = AtomicFileOutput.create(target, AtomicFileOutput.WRITEBACK_BYTES, true)) {
        expected = writeRandom(out, size, extra);
        out.publish();
        direct = out.wroteDirect();
      }
      assertThat(Files.size(target)).as("size with %d bytes past the buffers", extra).isEqualTo(size);
      assertThat(sha256(Files.readAllBytes(target))).as("content with %d bytes past the buffers", extra)
          .isEqualTo(expected);
      assertThat(direct).as("O_DIRECT used where the file system takes it").isEqualTo(directSupported(dir));
    }
    assertThat(writerThreads()).isZero();
  }

  @Test
  void withoutDirectWrites_pageCacheOnTheCallersThread_publishesExactlyTheBytesWritten() throws IOException {
    long size = 2L * WriterThreadStream.BUFFER_SIZE + 12_345;
    Path target = dir.resolve("cached.tar");
    byte[] expected;
    try (AtomicFileOutput out = AtomicFileOutput.create(target, 1 << 20, false)) {
      expected = writeRandom(out, size, 3);
      assertThat(writerThreads()).as("no writer thread for page-cache writes").isZero();
      out.publish();
      assertThat(out.wroteDirect()).isFalse();
      assertThat(out.writebacks()).as("background write-backs every 1 MiB of page-cache writes").isPositive();
    }
    assertThat(sha256(Files.readAllBytes(target))).isEqualTo(expected);
  }

  @Test
  void smallOutput_needsNoThread_andIsWritten() throws IOException {
    Path target = dir.resolve("small");
    try (AtomicFileOutput out = AtomicFileOutput.create(target, AtomicFileOutput.WRITEBACK_BYTES, true)) {
      out.stream().write(new byte[] {1, 2, 3});
      assertThat(writerThreads()).isZero();
      out.publish();
    }
    assertThat(Files.readAllBytes(target)).containsExactly(1, 2, 3);
  }

  @Test
  void discardedWhileTheWriterRuns_leavesNoFileAndNoThread() throws IOException {
    Path target = dir.resolve("discarded.tar");
    try (AtomicFileOutput out = AtomicFileOutput.create(target, AtomicFileOutput.WRITEBACK_BYTES, true)) {
      writeRandom(out, 5L * WriterThreadStream.BUFFER_SIZE + 7, 1);
      assertThat(writerThreads()).as("a writer thread while the output is written").isOne();
    }
    assertThat(target).doesNotExist();
    try (var files = Files.list(dir)) {
      assertThat(files).isEmpty();
    }
    assertThat(writerThreads()).isZero();
  }

  @Test
  void failedWrite_surfacesAtTheNextWrite_andStopsTheThread() throws IOException {
    Path file = dir.resolve("broken");
    FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
    FileChannel direct = WriterThreadStream.openDirect(file);
    Assumptions.assumeTrue(direct != null, "this file system refuses O_DIRECT: nothing to test here");
    WriterThreadStream stream = new WriterThreadStream(file, channel, direct, bytes -> {});
    byte[] chunk = new byte[1 << 20];
    direct.close(); // every write of the writer thread now fails
    assertThatThrownBy(() -> {
      for (int i = 0; i < 64; i++) {
        stream.write(chunk);
      }
    }).isInstanceOf(IOException.class).hasMessageContaining("writing " + file);
    assertThatThrownBy(stream::finish).isInstanceOf(IOException.class);
    assertThat(writerThreads()).isZero();
    channel.close();
  }

  private static byte[] writeRandom(AtomicFileOutput out, long size, int seed) throws IOException {
    Random random = new Random(seed);
    MessageDigest digest = sha256();
    byte[] chunk = new byte[262_147]; // odd, so buffer boundaries fall inside writes
    long left = size;
    while (left > 0) {
      int n = (int) Math.min(left, 1 + random.nextInt(chunk.length));
      random.nextBytes(chunk);
      out.stream().write(chunk, 0, n);
      digest.update(chunk, 0, n);
      left -= n;
    }
    return digest.digest();
  }

  /** Independent of the code under test: whether this file system lets a file be opened with O_DIRECT. */
  private static boolean directSupported(Path dir) throws IOException {
    Path probe = Files.createTempFile(dir, "probe", "");
    try (FileChannel c = FileChannel.open(probe, StandardOpenOption.WRITE, com.sun.nio.file.ExtendedOpenOption.DIRECT)) {
      return true;
    } catch (IOException | UnsupportedOperationException e) {
      return false;
    } finally {
      Files.delete(probe);
    }
  }

  private static long writerThreads() {
    return Thread.getAllStackTraces().keySet().stream()
        .filter(t -> t.getName().startsWith("ocirender-write ") && t.isAlive()).count();
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new AssertionError(e);
    }
  }

  private static byte[] sha256(byte[] bytes) {
    return sha256().digest(bytes);
  }
}
