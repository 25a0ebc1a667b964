package dev.ocirender.output.dir;

import static dev.ocirender.testing.LayerBuilder.layer;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ocirender.layer.EntryHeader;
import dev.ocirender.layer.EntryPath;
import dev.ocirender.layer.EntryType;
import dev.ocirender.merge.MergeListener;
import dev.ocirender.merge.OverlayMerge;
import dev.ocirender.output.EntrySink;
import dev.ocirender.render.DirectoryRenderTarget;
import dev.ocirender.testing.ExternalTools;
import dev.ocirender.testing.FsSnapshot;
import dev.ocirender.testing.ImageBuilder;
import dev.ocirender.testing.LayerBuilder;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The directory writer on its own thread ({@code output.BackgroundEntrySink}, as
 * {@link DirectoryRenderTarget} runs it): the same tree as GNU tar's extraction when content is
 * packed into and streamed through the shared chunk pool many times over; a failure of the writer
 * stops the render with the entry named; a failure of the merge in the middle of a file stops the
 * writer, and neither leaves a thread or a partial tree behind. Real writers and real files
 * throughout, no stand-ins.
 */
class DirectoryWriterThreadTest {

  @TempDir Path tmp;

  private static DirectoryEntrySink.Options options(boolean direct) {
    DirectoryEntrySink.Options o = DirectoryEntrySink.Options.detect();
    return direct ? o : o.withoutDirectCalls();
  }

  /** Content of {@code size} bytes, with whole zero blocks in it when {@code holes}. */
  private static byte[] content(Random random, int size, boolean holes) {
    byte[] b = new byte[size];
    random.nextBytes(b);
    if (holes) {
      for (int block = 1; block * 4096 + 4096 <= size; block += 3) {
        java.util.Arrays.fill(b, block * 4096, block * 4096 + 4096, (byte) 0);
      }
    }
    return b;
  }

  @ParameterizedTest(name = "direct calls: {0}")
  @ValueSource(booleans = {true, false})
  @Timeout(value = 5, unit = TimeUnit.MINUTES)
  void manyFilesThroughTheChunkPool_matchGnuTarExtraction(boolean direct) throws IOException {
    ExternalTools.assumeTools("tar");
    if (direct) {
      Assumptions.assumeTrue(DirectoryEntrySink.directCallsUnavailable() == null, "direct calls unavailable");
    }
    // Small files packed several to a chunk, files of exactly a chunk and just over, large files
    // over many chunks, zero blocks (holes), hard links, symlinks, and more content than the pool
    // holds, so chunks go round many times. Each directory's entries together, as GNU tar needs
    // them to restore directory times.
    Random random = new Random(14);
    int chunk = 128 * 1024;
    LayerBuilder layer = layer().dir("t", 0755).mtime(1_600_000_000, 0);
    for (int d = 0; d < 40; d++) {
      String dir = "t/d" + d;
      layer.dir(dir, d % 7 == 0 ? 0555 : 0755).mtime(1_600_000_000 + d, 0);
      for (int f = 0; f < 80; f++) {
        layer.file(dir + "/f" + f, content(random, random.nextInt(6000), false), 0644).mtime(1_500_000_000 + f, 0);
      }
      int[] big = {chunk, chunk + 1, chunk - 1, 700_000 + d * 1000};
      layer.file(dir + "/big", content(random, big[d % 4], d % 2 == 0), 0640).mtime(1_550_000_000, 0);
      layer.file(dir + "/empty", new byte[0], 0600).mtime(1_550_000_001, 0);
      layer.symlink(dir + "/link", "f1").mtime(1_550_000_002, 0);
      if (d > 0) {
        layer.hardlink(dir + "/same", "t/d" + (d - 1) + "/big");
      }
    }
    Path tarFile = tmp.resolve("layer.tar");
    Files.write(tarFile, layer.tar());
    Path reference = Files.createDirectory(tmp.resolve("gnu-tar"));
    ExternalTools.run(reference, List.of("tar", "--numeric-owner", "-xpf", tarFile.toString()));

    Path ours = tmp.resolve("ours");
    try (DirectoryRenderTarget target = new DirectoryRenderTarget(ours, false, options(direct))) {
      OverlayMerge.run(ImageBuilder.of(layer).inMemoryBlobs(), target, MergeListener.NONE);
      target.publish();
    }
    FsSnapshot actual = FsSnapshot.fromDirectory(ours, false);
    FsSnapshot.fromDirectory(reference, false).assertMatches(actual, FsSnapshot.Compare.EXACT.ignoringRootMetadata().ignoringOwnership());
    assertThat(actual.node("t/d3/big").size()).isEqualTo(703_000);
    assertThat(actual.linkGroupOf("t/d5/big")).hasSize(2);
  }

  @Test
  @Timeout(value = 2, unit = TimeUnit.MINUTES)
  void writerFailure_stopsTheRender_namingTheEntry_andLeavesNothing() throws IOException {
    Path out = tmp.resolve("out");
    Set<Thread> before = writerThreads();
    DirectoryRenderTarget target = new DirectoryRenderTarget(out, false, DirectoryEntrySink.Options.rootless());
    EntrySink sink = target.open();
    Set<Thread> started = writerThreads();
    started.removeAll(before);
    assertThat(started).as("the writer thread of this render").hasSize(1);
    Path staging = onlyStaging();

    accept(sink, file("a", 10));
    // Below a file: the writer refuses it, on its own thread, while the merge goes on.
    accept(sink, file("a/b", 10));
    int accepted = 0;
    IOException failure = null;
    try {
      for (; accepted < 100_000; accepted++) {
        accept(sink, file("later/f" + accepted, 1000));
      }
    } catch (IOException e) {
      failure = e;
    }
    assertThat(failure).as("the writer's failure reaches the merge thread").isNotNull();
    assertThat(failure.getMessage())
        .startsWith("entry 'a/b'")
        .contains("directory output")
        .contains("not a directory in the output");
    // It stopped the render within the queue's length, and nothing after it was written.
    assertThat(accepted).isLessThan(5000);
    assertThat(staging.resolve("later")).doesNotExist();
    assertThat(staging.resolve("a")).isRegularFile();
    // finish() after a failure throws it too
    assertThatThrownBy(sink::finish).hasMessageStartingWith("entry 'a/b'");

    sink.close();
    target.close();
    assertThat(started.iterator().next().isAlive()).as("writer thread after close").isFalse();
    try (Stream<Path> left = Files.list(tmp)) {
      assertThat(left).as("no output, no staging tree").isEmpty();
    }
  }

  @Test
  @Timeout(value = 2, unit = TimeUnit.MINUTES)
  void mergeFailureInTheMiddleOfAFile_stopsTheWriter_andLeavesNothing() throws IOException {
    Path out = tmp.resolve("out");
    Set<Thread> before = writerThreads();
    DirectoryRenderTarget target = new DirectoryRenderTarget(out, false, DirectoryEntrySink.Options.rootless());
    EntrySink sink = target.open();
    Set<Thread> started = writerThreads();
    started.removeAll(before);
    Path staging = onlyStaging();
    for (int i = 0; i < 50; i++) {
      accept(sink, file("d/f" + i, 3000));
    }
    // The source fails after several chunks of a file: the writer already has it open.
    IOException broken = new IOException("layer blob: digest mismatch");
    EntryHeader big = EntryHeader.builder(EntryType.FILE, EntryPath.of("d/big")).mode(0644).size(4_000_000).build();
    InputStream failing = new InputStream() {
      long left = 1_000_000;

      @Override
      public int read() throws IOException {
        byte[] one = new byte[1];
        return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
      }

      @Override
      public int read(byte[] b, int off, int len) throws IOException {
        if (left == 0) {
          throw broken;
        }
        int n = (int) Math.min(len, left);
        java.util.Arrays.fill(b, off, off + n, (byte) 7);
        left -= n;
        return n;
      }
    };
    assertThatThrownBy(() -> sink.accept(big, failing)).isSameAs(broken);
    sink.close();
    assertThat(started).hasSize(1);
    assertThat(started.iterator().next().isAlive()).as("writer thread after close").isFalse();
    assertThat(staging).as("the partial tree is deleted once the writer stopped").doesNotExist();
    target.close();
    try (Stream<Path> left = Files.list(tmp)) {
      assertThat(left).isEmpty();
    }
  }

  private Path onlyStaging() throws IOException {
    try (Stream<Path> s = Files.list(tmp)) {
      List<Path> all = s.toList();
      assertThat(all).as("the staging directory").hasSize(1);
      return all.get(0);
    }
  }

  private static Set<Thread> writerThreads() {
    Set<Thread> out = new HashSet<>();
    for (Thread t : Thread.getAllStackTraces().keySet()) {
      if (t.getName().startsWith("ocirender-writer-")) {
        out.add(t);
      }
    }
    return out;
  }

  private record Entry(EntryHeader header, byte[] content) {}

  private static Entry file(String path, int size) {
    byte[] content = new byte[size];
    new Random(path.hashCode()).nextBytes(content);
    return new Entry(EntryHeader.builder(EntryType.FILE, EntryPath.of(path)).mode(0644).size(size).build(), content);
  }

  private static void accept(EntrySink sink, Entry e) throws IOException {
    sink.accept(e.header(), new ByteArrayInputStream(e.content()));
  }
}
