package dev.ocirender.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ocirender.testing.ExternalTools;
import dev.ocirender.testing.ImageBuilder;
import dev.ocirender.testing.LayerBuilder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The per-image entry budget ({@code --max-entries}): checked while entries stream, one clear line. */
class MaxEntriesTest {

  @TempDir Path tmp;

  private Path image(int files) throws Exception {
    LayerBuilder layer = LayerBuilder.layer();
    for (int i = 0; i < files; i++) {
      layer.file("f/" + i, "x", 0644);
    }
    Path dir = tmp.resolve("img");
    ImageBuilder.of(layer).tag("v1").writeLayout(dir);
    return dir;
  }

  @Test
  void moreEntriesThanTheLimit_failsTheImageWithOneLineAndLeavesNothing() throws Exception {
    Path img = image(2_000);
    Path out = Files.createDirectories(tmp.resolve("out"));
    MainTest.Run r = MainTest.run("render", "oci:" + img + ":v1", "--max-entries", "1000", "--output",
        out.resolve("image.tar").toString());
    assertThat(r.exitCode()).as(r.err()).isEqualTo(1);
    assertThat(r.errLines()).hasSize(1);
    assertThat(r.errLines().get(0)).startsWith("ocirender: error: oci:" + img + ":v1: ")
        .contains("layer 0").contains("entry 'f/1000'").contains("image has more than 1000 entries");
    assertThat(out).isEmptyDirectory();
  }

  @Test
  void entriesWithinTheLimit_render() throws Exception {
    Path img = image(1_000); // exactly the limit: the layer has no entry but the files
    Path out = tmp.resolve("image.tar");
    MainTest.Run r = MainTest.run("render", "oci:" + img + ":v1", "--max-entries", "1000", "--output", out.toString());
    assertThat(r.exitCode()).as(r.err()).isEqualTo(0);
    ExternalTools.assumeTools("tar");
    List<String> listed = new String(ExternalTools.run(tmp, List.of("tar", "-tf", out.toString())), StandardCharsets.UTF_8)
        .lines().toList();
    assertThat(listed).contains("f/999").hasSize(1_000 + 2); // files, f/ and the root
  }
}
