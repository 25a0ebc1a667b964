package dev.ocirender.testing;

import static dev.ocirender.testing.LayerBuilder.layer;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Checks the reference model itself against the practical oracle, {@code umoci raw unpack}, on an
 * image that exercises whiteouts, opaque directories, replacement without whiteout, within-layer
 * duplicates and hard links whose target is whited out or overwritten. Cases where umoci is known
 * to differ from the contract (a non-directory with children in its own layer: umoci fails with
 * "not a directory") are deliberately left out.
 */
class OverlayModelUmociTest {

  @Test
  void model_matchesUmociRawUnpack(@TempDir Path tmp) throws Exception {
    boolean haveUmoci = new ProcessBuilder("sh", "-c", "command -v umoci").start().waitFor() == 0;
    if (!haveUmoci && Boolean.getBoolean("ocirender.requireTools")) {
      throw new AssertionError("umoci is required (ocirender.requireTools) but not installed");
    }
    Assumptions.assumeTrue(haveUmoci, "umoci not installed: skipping the model-vs-umoci check");
    ImageBuilder image = ImageBuilder.of(
        layer().dir("a", 0700).file("a/x", "x", 0644).file("a/y", "y", 0644).dir("d", 0755).file("d/e", "e", 0644)
            .file("f", "old", 0644).hardlink("l1", "f").hardlink("l2", "f").dir("p", 0755).file("p/old", "o", 0644)
            .file("g", "g", 0600).symlink("s", "a"),
        layer().opaque("a").file("a/z", "z", 0644).file("d", "now file", 0644).whiteout("f")
            .file("p", "p", 0644).dir("p", 0711).dir("s", 0750).file("s/in", "i", 0644),
        layer().whiteout("a/z").hardlink("m", "g").file("g", "new", 0644));
    image.writeLayout(tmp.resolve("img"));
    Process umoci = new ProcessBuilder("umoci", "raw", "unpack", "--image", tmp.resolve("img") + ":latest",
        tmp.resolve("rootfs").toString()).redirectErrorStream(true).start();
    String log = new String(umoci.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(umoci.waitFor()).as(log).isZero();
    assertThat(Files.isDirectory(tmp.resolve("rootfs"))).isTrue();

    FsSnapshot disk = FsSnapshot.fromDirectory(tmp.resolve("rootfs"), true);
    FsSnapshot.fromModel(image).assertMatches(disk,
        FsSnapshot.Compare.EXACT.ignoringSymlinkModes().ignoringRootMetadata());
  }
}
