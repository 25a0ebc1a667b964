package dev.ocirender.render;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EarlyWritebackStreamTest {

  @TempDir Path dir;

  @Test
  void writesEveryByte_andSyncsInTheBackground_andStopsItsThreadOnClose() throws Exception {
    Path file = dir.resolve("out.bin");
    byte[] data = new byte[3 << 20];
    new Random(14).nextBytes(data);
    EarlyWritebackStream stream;
    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
      stream = new EarlyWritebackStream(Channels.newOutputStream(channel), channel, 256 * 1024);
      try (OutputStream out = stream) {
        for (int off = 0; off < data.length; off += 1000) {
          out.write(data, off, Math.min(1000, data.length - off));
        }
        out.write(7);
        // The writer never waits for a sync; give the background thread time to run at least one.
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (stream.syncsDone() == 0 && System.nanoTime() < deadline) {
          Thread.sleep(10);
        }
        assertThat(stream.syncsDone()).isPositive();
      }
    }
    assertThat(Thread.getAllStackTraces().keySet()).noneMatch(t -> t.getName().equals("early-writeback"));
    byte[] expected = new byte[data.length + 1];
    System.arraycopy(data, 0, expected, 0, data.length);
    expected[data.length] = 7;
    assertThat(Files.readAllBytes(file)).isEqualTo(expected);
  }

  @Test
  void smallOutput_startsNoThread() throws IOException {
    Path file = dir.resolve("small.bin");
    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        EarlyWritebackStream out = new EarlyWritebackStream(Channels.newOutputStream(channel), channel, 1 << 20)) {
      out.write(new byte[1000]);
      assertThat(Thread.getAllStackTraces().keySet()).noneMatch(t -> t.getName().equals("early-writeback"));
    }
    assertThat(Files.size(file)).isEqualTo(1000);
  }
}
