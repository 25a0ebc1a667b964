package dev.ocirender.render;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ocirender.image.Platform;
import dev.ocirender.source.ImageSource;
import dev.ocirender.source.ImageSources;
import dev.ocirender.testing.ExternalTools;
import dev.ocirender.testing.FsSnapshot;
import dev.ocirender.testing.UmociOracleImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The oracle test of the core engine: an image built by a real tool, {@code umoci}, from real
 * directory trees (so its whiteouts, hard links, xattrs and devices are what umoci writes, not what
 * our fixtures write), rendered by ocirender to tar and extracted by GNU tar, must equal
 * {@code umoci raw unpack} of the same image path by path: type, mode, owner, size, content,
 * symlink target, hard-link groups, device numbers, xattrs and mtimes.
 *
 * <p>Runs as root (CI does), so ownership and device nodes are part of the comparison.
 */
class UmociOracleTest {

  @Test
  void renderedTar_extracted_equalsUmociRawUnpack(@TempDir Path tmp) throws Exception {
    ExternalTools.assumeTools("tar");
    UmociOracleImage image = UmociOracleImage.build(tmp);

    Path tar = tmp.resolve("ours.tar");
    try (ImageSource source = ImageSources.open(image.spec())) {
      new Renderer().renderToFile(source, Platform.LINUX_AMD64, OutputFormat.TAR, tar);
    }
    Files.createDirectory(tmp.resolve("ours"));
    ExternalTools.run(tmp, List.of("tar", "--extract", "--file", tar.toString(), "--directory", "ours",
        "--same-permissions", "--same-owner", "--numeric-owner", "--xattrs", "--xattrs-include=*"));

    FsSnapshot oracle = FsSnapshot.fromDirectory(image.oracle(), true);
    FsSnapshot ours = FsSnapshot.fromDirectory(tmp.resolve("ours"), true);
    assertThat(oracle.paths()).hasSizeGreaterThan(25);
    // The layers really carry whiteouts (--refresh-bundle makes umoci diff against the previous
    // layer), so the comparison covers them: deleted paths are gone in the oracle itself.
    assertThat(oracle.has("etc/motd")).isFalse();
    assertThat(oracle.has("var/cache/app/a.dat")).isFalse();
    assertThat(oracle.has("var/cache/app/c.dat")).isTrue();
    assertThat(oracle.has("usr/bin/tool-alias2")).isFalse();
    oracle.assertMatches(ours, FsSnapshot.Compare.EXACT.ignoringRootMetadata());
  }
}
