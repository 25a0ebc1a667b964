package dev.ocirender.squashfs.writer;

import static dev.ocirender.testing.LayerBuilder.layer;
import static org.assertj.core.api.Assertions.assertThat;

import dev.ocirender.merge.MergeListener;
import dev.ocirender.merge.OverlayMerge;
import dev.ocirender.output.tar.TarEntrySink;
import dev.ocirender.squashfs.reader.SquashfsReader;
import dev.ocirender.testing.ExternalTools;
import dev.ocirender.testing.FsSnapshot;
import dev.ocirender.testing.ImageBuilder;
import dev.ocirender.testing.LayerBuilder;
import dev.ocirender.testing.OverlayModel;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.LongStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The size of our images against tar2sqfs's on the same merged tar, for a layer of many small files
 * (the shape where metadata is most of the image: issue 14's million-entry layer, scaled down to
 * 20 000 entries), and the export table, which is off by default as in tar2sqfs.
 */
class SquashfsSizeTest {

  @TempDir static Path tmp;

  private static ImageBuilder image;
  private static Path mergedTar;

  /** 20 directories of 999 files of 0 to 99 bytes, as scripts/bench-image.sh makes "million". */
  @BeforeAll
  static void manySmallFiles() throws IOException {
    SquashfsTools.assumeTools();
    ExternalTools.assumeTools("tar2sqfs");
    LayerBuilder l = layer();
    for (int d = 0; d < 20; d++) {
      String dir = String.format("data/d%03d", d);
      l.dir(dir, 0755, 0, 0, 1_728_053_248L);
      for (int f = 0; f < 999; f++) {
        int size = (d * 31 + f * 7) % 100;
        byte[] content = Arrays.copyOf((d + "/" + f + " ").repeat(20).getBytes(StandardCharsets.US_ASCII), size);
        l.file(String.format("%s/f%03d.txt", dir, f), content, 0644, 0, 0, 1_728_053_248L);
      }
    }
    l.file("data/last", new byte[0], 0644, 0, 0, 1_728_053_248L);
    image = ImageBuilder.of(l);
    mergedTar = tmp.resolve("merged.tar");
    try (OutputStream out = Files.newOutputStream(mergedTar)) {
      OverlayMerge.run(image.inMemoryBlobs(), () -> new TarEntrySink(out), MergeListener.NONE);
    }
  }

  private static long tar2sqfs(Path out, String... extra) {
    List<String> cmd = new java.util.ArrayList<>(List.of("tar2sqfs", "--quiet", "--force", "-c", "zstd", "-X", "level=3",
        "-b", "131072", "-j", "1"));
    cmd.addAll(List.of(extra));
    cmd.add(out.toString());
    ExternalTools.bash(tmp, String.join(" ", cmd) + " < '" + mergedTar + "'");
    return out.toFile().length();
  }

  @Test
  void manySmallFiles_imageIsWithin2PercentOfTar2sqfs_andReadsBack() throws IOException {
    Path ours = SquashfsTools.render(image, tmp.resolve("ours.sqfs"), SquashfsOptions.defaults());
    long theirs = tar2sqfs(tmp.resolve("theirs.sqfs"));
    long size = Files.size(ours);
    assertThat((double) size / theirs).as("our image %d bytes, tar2sqfs's %d", size, theirs).isLessThanOrEqualTo(1.02);
    FsSnapshot expected = OverlayModel.apply(image.logicalLayers()).snapshot();
    expected.assertMatches(SquashfsTools.ngRead(ours, tmp), SquashfsEntrySinkTest.squashfsCompare());
  }

  @Test
  void exportTable_isOffByDefault_andWhenAskedFor_mapsEveryInodeNumberToItsInode() throws IOException {
    Path plain = SquashfsTools.render(image, tmp.resolve("plain.sqfs"), SquashfsOptions.defaults());
    Path exportable = SquashfsTools.render(image, tmp.resolve("exportable.sqfs"), SquashfsOptions.defaults().withExportable(true));
    assertThat(superblockSummary(plain)).contains("Filesystem is not exportable via NFS");
    assertThat(superblockSummary(exportable)).contains("Filesystem is exportable via NFS");
    // Like tar2sqfs --exportable: the table is the only difference, so it costs what theirs does.
    long theirsPlain = tar2sqfs(tmp.resolve("theirs-plain.sqfs"));
    long theirsExportable = tar2sqfs(tmp.resolve("theirs-exportable.sqfs"), "--exportable");
    assertThat((double) Files.size(exportable) / theirsExportable).isLessThanOrEqualTo(1.02);
    assertThat(Files.size(exportable)).isGreaterThan(Files.size(plain));
    assertThat(theirsExportable).isGreaterThan(theirsPlain);
    try (SquashfsReader r = SquashfsReader.open(exportable); SquashfsReader p = SquashfsReader.open(plain)) {
      long[] numbers = r.exportedInodeNumbers();
      assertThat(numbers).hasSize((int) r.superblock().inodeCount());
      assertThat(numbers).containsExactly(LongStream.rangeClosed(1, numbers.length).toArray());
      assertThat(p.exportedInodeNumbers()).isEmpty();
    }
    FsSnapshot expected = OverlayModel.apply(image.logicalLayers()).snapshot();
    expected.assertMatches(SquashfsTools.extract(exportable, tmp), SquashfsEntrySinkTest.squashfsCompare());
  }

  private static String superblockSummary(Path image) {
    return new String(ExternalTools.run(tmp, List.of("unsquashfs", "-s", image.toString())), StandardCharsets.UTF_8);
  }
}
