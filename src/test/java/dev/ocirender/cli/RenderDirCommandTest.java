package dev.ocirender.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code render --format dir}: the sample image onto disk, the summary, and {@code --force}. */
class RenderDirCommandTest {

  @TempDir Path tmp;

  @Test
  void formatDir_writesTheTree_refusesAnExistingOneWithoutForce_replacesItWithForce() throws Exception {
    String spec = SampleImage.write(tmp.resolve("layout"));
    Path out = tmp.resolve("rootfs");

    MainTest.Run r = MainTest.run("render", spec, "--format", "dir", "--output", out.toString());
    assertThat(r.exitCode()).as(r.err()).isZero();
    assertThat(r.errLines()).hasSize(1).first().asString().contains("entries on disk");
    assertThat(out.resolve("usr/bin/tool-alias")).isRegularFile();
    assertThat(Files.exists(out.resolve("etc/motd"), LinkOption.NOFOLLOW_LINKS)).as("whited out").isFalse();

    Files.writeString(out.resolve("marker"), "old tree");
    r = MainTest.run("render", spec, "--format", "dir", "--output", out.toString());
    assertThat(r.exitCode()).isEqualTo(1);
    assertThat(r.err()).contains("not an empty directory").contains("--force");
    assertThat(out.resolve("marker")).as("the old tree is untouched").exists();

    r = MainTest.run("render", spec, "--format", "dir", "--output", out.toString(), "--force");
    assertThat(r.exitCode()).as(r.err()).isZero();
    assertThat(out.resolve("marker")).doesNotExist();
    assertThat(out.resolve("usr/bin/tool-alias")).isRegularFile();
    try (Stream<Path> names = Files.list(tmp)) {
      assertThat(names.map(p -> p.getFileName().toString())).as("no staging or old tree left").containsExactlyInAnyOrder("layout", "rootfs");
    }
  }

  @Test
  void formatDir_intoAnEmptyDirectory_needsNoForce() throws Exception {
    String spec = SampleImage.write(tmp.resolve("layout"));
    Path out = Files.createDirectory(tmp.resolve("empty"));
    MainTest.Run r = MainTest.run("render", spec, "--format", "dir", "--output", out.toString());
    assertThat(r.exitCode()).as(r.err()).isZero();
    assertThat(out.resolve("usr/bin/tool-alias")).isRegularFile();
  }
}
