package dev.ocirender.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ocirender.testing.ExternalTools;
import dev.ocirender.testing.ImageBuilder;
import dev.ocirender.testing.LayerBuilder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The layer limits a user may raise on the command line ({@code --max-path-depth},
 * {@code --max-path-bytes}) reach every reader of the image: the default refuses a path 5 000
 * levels deep with one line naming the image, the layer and the entry; a raised limit renders it
 * (GNU tar lists the result) and {@code verify} with the same limit reads the image and the output.
 */
class LimitFlagsTest {

  private static final int DEPTH = 5_000;

  @TempDir Path tmp;

  private static String deep(int depth) {
    return IntStream.range(0, depth).mapToObj(i -> "d").collect(Collectors.joining("/"));
  }

  private Path image() throws Exception {
    Path dir = tmp.resolve("img");
    ImageBuilder.of(LayerBuilder.layer().file(deep(DEPTH) + "/leaf", "deep", 0644)).tag("v1").writeLayout(dir);
    return dir;
  }

  @Test
  void pathDeeperThanTheDefault_isRefusedInOneLineNamingImageLayerEntry() throws Exception {
    Path img = image();
    Path out = Files.createDirectories(tmp.resolve("out"));
    MainTest.Run r = MainTest.run("render", "oci:" + img + ":v1", "--output", out.resolve("image.tar").toString());
    assertThat(r.exitCode()).as(r.err()).isEqualTo(1);
    assertThat(r.errLines()).hasSize(1);
    assertThat(r.errLines().get(0)).startsWith("ocirender: error: oci:" + img + ":v1: ")
        .contains("layer 0").contains("entry 'd/d/d").contains("5001 levels deep").contains("4096");
    assertThat(out).isEmptyDirectory();
  }

  @Test
  void raisedPathDepth_rendersTheImageAndVerifyAcceptsIt() throws Exception {
    Path img = image();
    Path out = tmp.resolve("image.tar");
    MainTest.Run r = MainTest.run("render", "oci:" + img + ":v1", "--max-path-depth", "6000", "--output", out.toString());
    assertThat(r.exitCode()).as(r.err()).isEqualTo(0);

    MainTest.Run v = MainTest.run("verify", out.toString(), "--reference", "oci:" + img + ":v1", "--max-path-depth", "6000");
    assertThat(v.exitCode()).as(v.err() + v.out()).isEqualTo(0);
    MainTest.Run refused = MainTest.run("verify", out.toString(), "--reference", "oci:" + img + ":v1");
    assertThat(refused.exitCode()).isEqualTo(2);
    assertThat(refused.err()).contains("levels deep");

    ExternalTools.assumeTools("tar");
    List<String> listed = new String(ExternalTools.run(tmp, List.of("tar", "-tf", out.toString())), StandardCharsets.UTF_8)
        .lines().toList();
    assertThat(listed).contains(deep(DEPTH) + "/leaf").hasSize(DEPTH + 2);
  }

  @Test
  void pathLongerThanARaisedByteLimitAllows_isStillRefused() throws Exception {
    // 10 001 bytes fit the default (65 536) but not a lowered limit: the option reaches the reader both ways.
    Path img = image();
    MainTest.Run r = MainTest.run("render", "oci:" + img + ":v1", "--max-path-depth", "6000", "--max-path-bytes", "10000",
        "--output", tmp.resolve("image.tar").toString());
    assertThat(r.exitCode()).as(r.err()).isEqualTo(1);
    assertThat(r.errLines()).hasSize(1);
    assertThat(r.errLines().get(0)).contains("layer 0").contains("exceeds the limit of 10000 bytes");
  }

  @Test
  void nonPositiveLimit_isAUsageError() throws Exception {
    MainTest.Run r = MainTest.run("render", "oci:" + image() + ":v1", "--max-path-depth", "0", "--output",
        tmp.resolve("x.tar").toString());
    assertThat(r.exitCode()).isEqualTo(2);
    assertThat(r.err()).contains("--max-path-depth must be positive");
  }
}
