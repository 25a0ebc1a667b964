package dev.ocirender.cli;

import static dev.ocirender.testing.LayerBuilder.layer;
import static org.assertj.core.api.Assertions.assertThat;

import dev.ocirender.testing.ExternalTools;
import dev.ocirender.testing.FsSnapshot;
import dev.ocirender.testing.ImageBuilder;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code render --format squashfs} end to end, with the built-in writer and both external tools:
 * the sample image's squashfs, extracted by unsquashfs, equals its tar render.
 */
class SquashfsRenderTest {

  @TempDir Path tmp;

  private FsSnapshot tarRender(String spec) throws IOException {
    Path tar = tmp.resolve("sample.tar");
    MainTest.Run r = MainTest.run("render", spec, "--output", tar.toString());
    assertThat(r.exitCode()).as(r.err()).isZero();
    try (InputStream in = Files.newInputStream(tar)) {
      return FsSnapshot.fromTarExact(in);
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"builtin", "mksquashfs", "tar2sqfs"})
  void sampleImage_squashfsEqualsTar(String backend) throws IOException {
    ExternalTools.assumeTools("unsquashfs", "mksquashfs", "tar2sqfs");
    String spec = MainTest.run("sample", tmp.resolve("layout").toString()).out().strip();
    FsSnapshot expected = tarRender(spec);
    Path sqfs = tmp.resolve("sample.sqfs");
    List<String> args = new java.util.ArrayList<>(List.of("render", spec, "--format", "squashfs", "-o", sqfs.toString(),
        "--compression", "gzip", "--block-size", "64K"));
    if (!backend.equals("builtin")) {
      args.addAll(List.of("--squashfs-tool", backend));
    }
    MainTest.Run r = MainTest.run(args.toArray(String[]::new));
    assertThat(r.exitCode()).as(r.err()).isZero();
    ExternalTools.run(tmp, List.of("unsquashfs", "-no-progress", "-d", tmp.resolve("x").toString(), sqfs.toString()));
    FsSnapshot got = FsSnapshot.fromDirectory(tmp.resolve("x"), true);
    // External tools give the root directory their own metadata.
    expected.assertMatches(got, FsSnapshot.Compare.EXACT.ignoringMtimeNanos().ignoringSymlinkModes()
        .ignoringRootMetadata());
    try (var files = Files.list(tmp)) {
      assertThat(files.map(p -> p.getFileName().toString())).containsExactlyInAnyOrder("layout", "sample.tar", "sample.sqfs", "x");
    }
  }

  /**
   * Copies make the writer read its own blocks back (to confirm a de-duplication candidate) from
   * the CLI's temporary output file: that file must be readable, not just writable.
   */
  @Test
  void imageWithCopies_rendersThroughTheCli_andCopiesShareTheirData() throws IOException {
    ExternalTools.assumeTools("unsquashfs", "rdsquashfs");
    byte[] big = new byte[3 * 131072 + 1234];
    new java.util.SplittableRandom(5).nextBytes(big);
    var layout = ImageBuilder.of(
        layer().file("a/big.bin", big, 0644).file("a/small.txt", "small and repeated\n", 0644),
        layer().file("b/big-copy.bin", big, 0600).file("b/small-copy.txt", "small and repeated\n", 0644))
        .writeLayout(tmp.resolve("copies"));
    String spec = "oci:" + layout.dir() + ":" + layout.tag();
    FsSnapshot expected = tarRender(spec);
    Path sqfs = tmp.resolve("copies.sqfs");
    MainTest.Run r = MainTest.run("render", spec, "--format", "squashfs", "-o", sqfs.toString());
    assertThat(r.exitCode()).as(r.err()).isZero();
    ExternalTools.run(tmp, List.of("unsquashfs", "-no-progress", "-d", tmp.resolve("x").toString(), sqfs.toString()));
    expected.assertMatches(FsSnapshot.fromDirectory(tmp.resolve("x"), true),
        FsSnapshot.Compare.EXACT.ignoringMtimeNanos().ignoringSymlinkModes());
    String original = ExternalTools.output("rdsquashfs", "-s", "/a/big.bin", sqfs.toString());
    String copy = ExternalTools.output("rdsquashfs", "-s", "/b/big-copy.bin", sqfs.toString());
    assertThat(dataLines(copy)).isEqualTo(dataLines(original)).hasSize(3);
  }

  /** rdsquashfs -s lines that say where a file's data is. */
  private static List<String> dataLines(String stat) {
    return stat.lines().filter(l -> l.startsWith("Blocks start") || l.startsWith("Fragment")).toList();
  }

  @Test
  void badBlockSize_isRejectedAndLeavesNothing() throws IOException {
    String spec = MainTest.run("sample", tmp.resolve("layout").toString()).out().strip();
    MainTest.Run r = MainTest.run("render", spec, "--format", "squashfs", "-o", tmp.resolve("o.sqfs").toString(), "--block-size", "3000");
    assertThat(r.exitCode()).isNotZero();
    assertThat(r.err()).contains("power of two");
    assertThat(tmp.resolve("o.sqfs")).doesNotExist();
  }
}
