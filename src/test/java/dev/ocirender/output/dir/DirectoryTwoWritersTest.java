package dev.ocirender.output.dir;

import static dev.ocirender.testing.LayerBuilder.layer;
import static org.assertj.core.api.Assertions.assertThat;

import dev.ocirender.layer.EntryHeader;
import dev.ocirender.layer.EntryPath;
import dev.ocirender.layer.EntryType;
import dev.ocirender.layer.LayerBlob;
import dev.ocirender.merge.MergeListener;
import dev.ocirender.merge.OverlayMerge;
import dev.ocirender.output.EntrySink;
import dev.ocirender.output.tar.TarEntrySink;
import dev.ocirender.render.DirectoryRenderTarget;
import dev.ocirender.testing.ExternalTools;
import dev.ocirender.testing.FsSnapshot;
import dev.ocirender.testing.ImageBuilder;
import dev.ocirender.testing.LayerBuilder;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
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

/**
 * The directory writer with two writer threads from the first entry ({@code firstLaneEntries} 0),
 * direct calls: a three-layer image where the order of the calls matters (deep nesting, hard links
 * across directories and layers, a link whose target is replaced later, a directory replaced by a
 * file, a file replaced by a directory, opaque directories, whiteouts, read-only directories)
 * rendered several times must each time equal GNU tar's extraction of the same image merged to tar;
 * and the failures one writer has when entries conflict (an entry below a file, a file where an
 * earlier entry needs a directory) still happen, on the entry that comes later, when the two
 * entries are written by different threads.
 */
class DirectoryTwoWritersTest {

  @TempDir Path tmp;

  private static final int TWO = 2;

  private static byte[] content(Random random, int size) {
    byte[] b = new byte[size];
    random.nextBytes(b);
    return b;
  }

  private static ImageBuilder orderingImage() {
    Random random = new Random(7);
    StringBuilder deep = new StringBuilder("deep");
    LayerBuilder lower = layer().dir("deep", 0755).mtime(1_600_000_000, 0);
    for (int i = 0; i < 40; i++) {
      deep.append("/l").append(i);
      lower.dir(deep.toString(), i % 9 == 0 ? 0555 : 0755).mtime(1_600_000_000 + i, 0);
    }
    lower.file(deep + "/leaf", content(random, 3000), 0644).mtime(1_500_000_000, 0);
    lower.dir("rep", 0755).dir("rep/a", 0700).file("rep/a/c.txt", "old tree", 0644).file("rep/x", "x", 0644);
    lower.dir("op", 0750).mtime(1_600_000_100, 0).file("op/old1", "1", 0644).dir("op/sub", 0755).file("op/sub/old2", "2", 0644);
    lower.file("f2", "a file that becomes a directory", 0644);
    lower.dir("wh", 0755).dir("wh/gone", 0755).file("wh/gone/x", "x", 0644).file("wh/keep", "k", 0644);
    lower.dir("t", 0755).file("t/orig", "the first inode of t/orig", 0644).mtime(1_400_000_000, 0);
    for (int d = 0; d < 30; d++) {
      String dir = "s/d" + d;
      lower.dir(dir, d % 7 == 3 ? 0555 : 0755).mtime(1_600_000_200 + d, 0);
      for (int f = 0; f < 20; f++) {
        lower.file(dir + "/f" + f, content(random, random.nextInt(5000)), f % 5 == 0 ? 0755 : 0644).mtime(1_500_000_000 + f, 0);
      }
      lower.file(dir + "/big", content(random, 200_000 + d), 0640).mtime(1_550_000_000, 0);
      lower.symlink(dir + "/link", "f1").mtime(1_550_000_002, 0);
      if (d > 0) {
        lower.hardlink(dir + "/same", "s/d" + (d - 1) + "/big");
      }
    }
    LayerBuilder middle = layer()
        .file("rep", "a file where a directory tree was", 0600).mtime(1_650_000_000, 0)
        .opaque("op").file("op/new1", "new", 0644)
        .whiteout("wh/gone")
        .file("s/d5/f3", "replaced in the middle layer", 0644)
        .dir("links", 0755).hardlink("links/h1", "s/d7/f1")
        .hardlink("t/link", "t/orig")
        .fifo("s/d9/pipe", 0640);
    LayerBuilder upper = layer()
        .dir("f2", 0711).mtime(1_700_000_000, 0).file("f2/child", "below a former file", 0644)
        .file(deep + "/leaf2", "deep and new", 0600)
        .file("t/orig", "a new t/orig: t/link keeps the old content", 0644)
        .dir("x", 0755).dir("x/y", 0755).dir("x/y/z", 0755)
        .hardlink("x/y/z/hl", "s/d3/f4").hardlink("x/hl2", "x/y/z/hl").hardlink("s/d20/hl3", "links/h1");
    for (int d = 0; d < 30; d += 3) {
      upper.file("s/d" + d + "/upper", content(random, 1000 + d), 0644);
    }
    return ImageBuilder.of(lower, middle, upper);
  }

  @Test
  @Timeout(value = 5, unit = TimeUnit.MINUTES)
  void twoWriters_orderingSensitiveImage_matchesGnuTarOfTheMergedTar() throws IOException {
    ExternalTools.assumeTools("tar");
    Assumptions.assumeTrue(DirectoryEntrySink.directCallsUnavailable() == null, "direct calls unavailable");
    DirectoryEntrySink.Options options = DirectoryEntrySink.Options.detect();
    List<LayerBlob> blobs = orderingImage().inMemoryBlobs();

    // The reference: the same merge to tar, extracted by GNU tar.
    Path tarFile = tmp.resolve("merged.tar");
    try (OutputStream out = Files.newOutputStream(tarFile)) {
      OverlayMerge.run(blobs, () -> new TarEntrySink(out), MergeListener.NONE);
    }
    Path reference = Files.createDirectory(tmp.resolve("gnu-tar"));
    List<String> extract = new ArrayList<>(List.of("tar", "-xpf", tarFile.toString(), "--numeric-owner", "--delay-directory-restore"));
    if (options.privileged()) {
      extract.add("--same-owner");
    }
    ExternalTools.run(reference, extract);
    FsSnapshot expected = FsSnapshot.fromDirectory(reference, false);
    FsSnapshot.Compare compare = FsSnapshot.Compare.EXACT.ignoringRootMetadata();
    if (!options.privileged()) {
      compare = compare.ignoringOwnership();
    }
    assertThat(expected.has("rep/a")).isFalse();
    assertThat(expected.has("op/old1")).isFalse();
    assertThat(expected.linkGroupOf("x/hl2")).hasSize(3);
    assertThat(expected.linkGroupOf("s/d20/hl3")).hasSize(3);
    Set<String> before = writerThreadNames();

    for (int round = 0; round < 4; round++) {
      Path ours = tmp.resolve("ours" + round);
      Set<String> lanesSeen = new HashSet<>();
      MergeListener watch = new MergeListener() {
        @Override
        public void layerFinished(LayerBlob layer, long entriesRead) {
          lanesSeen.addAll(writerThreadNames());
        }
      };
      try (DirectoryRenderTarget target = new DirectoryRenderTarget(ours, false, options, TWO, 0)) {
        OverlayMerge.run(blobs, target, watch);
        target.publish();
      }
      assertThat(lanesSeen).as("a second writer thread wrote this render").anyMatch(n -> n.matches("ocirender-writer-\\d+-1"));
      FsSnapshot actual = FsSnapshot.fromDirectory(ours, false);
      expected.assertMatches(actual, compare);
      assertThat(Files.readString(ours.resolve("t/link"))).isEqualTo("the first inode of t/orig");
      assertThat(actual.node(deep40() + "/leaf2").size()).isEqualTo(12);
    }
    assertThat(writerThreadNames()).as("no writer thread left").isSubsetOf(before);
  }

  private static String deep40() {
    StringBuilder deep = new StringBuilder("deep");
    for (int i = 0; i < 40; i++) {
      deep.append("/l").append(i);
    }
    return deep.toString();
  }

  /** A directory name in the root whose entries go to lane {@code lane} (of two). */
  private static String dirOnLane(int lane, String prefix) {
    for (int i = 0; ; i++) {
      if (DirectoryEntrySink.laneOf(EntryPath.of(prefix + i), TWO) == lane) {
        return prefix + i;
      }
    }
  }

  private static final int ROOT_LANE = DirectoryEntrySink.laneOf(EntryPath.ROOT, TWO);

  @Test
  @Timeout(value = 2, unit = TimeUnit.MINUTES)
  void entryBelowAFile_onTheOtherThread_failsNamingTheLaterEntry() throws IOException {
    Assumptions.assumeTrue(DirectoryEntrySink.directCallsUnavailable() == null, "direct calls unavailable");
    String a = dirOnLane(1 - ROOT_LANE, "p");
    // The root's thread has 6 MB to write before it gets to file a; the other thread, idle, gets
    // a/b at once, and would make directory a first if it did not wait for the earlier file.
    IOException failure = renderFailing(List.of(file("r1", 3_000_000), file("r2", 3_000_000), file(a, 10), file(a + "/b", 10)));
    assertThat(failure.getMessage()).startsWith("entry '" + a + "/b'").contains("not a directory in the output");
  }

  @Test
  @Timeout(value = 2, unit = TimeUnit.MINUTES)
  void fileWhereAnEarlierEntryNeedsADirectory_failsNamingTheFile() throws IOException {
    Assumptions.assumeTrue(DirectoryEntrySink.directCallsUnavailable() == null, "direct calls unavailable");
    String a = dirOnLane(1 - ROOT_LANE, "p");
    String c = dirOnLane(1 - ROOT_LANE, "c");
    // One writer: a/b makes directory a, then the file a fails. Two: a/b's thread has 6 MB in c to
    // write first, while the root's thread, idle, would make file a at once if routing let it.
    IOException failure = renderFailing(List.of(file(c + "/f1", 3_000_000), file(c + "/f2", 3_000_000), file(a + "/b", 10),
        file(a, 10)));
    assertThat(failure.getMessage()).startsWith("entry '" + a + "'").contains("already exists in the output");
  }

  /** Renders {@code entries} with two writers from the first entry; returns the failure, having checked that nothing is left. */
  private IOException renderFailing(List<Entry> entries) throws IOException {
    Path out = tmp.resolve("out");
    Set<String> before = writerThreadNames();
    DirectoryRenderTarget target = new DirectoryRenderTarget(out, false, DirectoryEntrySink.Options.rootless(), TWO, 0);
    EntrySink sink = target.open();
    IOException failure = null;
    try {
      for (Entry e : entries) {
        sink.accept(e.header(), new ByteArrayInputStream(e.content()));
      }
      sink.finish();
    } catch (IOException e) {
      failure = e;
    }
    assertThat(failure).as("the render fails").isNotNull();
    sink.close();
    target.close();
    assertThat(writerThreadNames()).as("no writer thread left").isSubsetOf(before);
    try (Stream<Path> left = Files.list(tmp)) {
      assertThat(left).as("no output, no staging tree").isEmpty();
    }
    return failure;
  }

  private static Set<String> writerThreadNames() {
    Set<String> out = new HashSet<>();
    for (Thread t : Thread.getAllStackTraces().keySet()) {
      if (t.getName().startsWith("ocirender-writer-") && t.isAlive()) {
        out.add(t.getName());
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
}
