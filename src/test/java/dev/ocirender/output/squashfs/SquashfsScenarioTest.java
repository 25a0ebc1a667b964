package dev.ocirender.output.squashfs;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ocirender.merge.OverlayMergeScenarioTest;
import dev.ocirender.testing.FsSnapshot;
import dev.ocirender.testing.ImageBuilder;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every named merge scenario again, through squashfs: the merge writes a squashfs image, which
 * {@code unsquashfs -d} extracts (as root, so owners, devices and xattrs are real) and which must
 * equal the merged filesystem in paths, types, modes, owners, sizes, content, link targets,
 * hard-link groups, devices, xattrs and mtimes (to the second: the format's resolution).
 * {@code unsquashfs -lls} must list every path with its type, and squashfs-tools-ng must read the
 * image too.
 */
class SquashfsScenarioTest extends OverlayMergeScenarioTest {

  @TempDir Path tmp;
  private int image;

  @BeforeEach
  void tools() {
    SquashfsTools.assumeTools();
  }

  @Override
  protected void checkOutput(ImageBuilder built, FsSnapshot expected) throws IOException {
    Path dir = Files.createDirectories(tmp.resolve("s" + image++));
    Path sqfs = SquashfsTools.render(built, dir.resolve("out.sqfs"), SquashfsOptions.defaults().withBlockSize(4096));
    expected.assertMatches(SquashfsTools.extract(sqfs, dir), SquashfsEntrySinkTest.squashfsCompare());
    expected.assertMatches(SquashfsTools.ngRead(sqfs, dir), SquashfsEntrySinkTest.squashfsCompare());

    List<String> lines = Arrays.stream(SquashfsTools.listing(sqfs).split("\n"))
        .filter(l -> l.length() > 10 && "-dlcbps".indexOf(l.charAt(0)) >= 0).toList();
    assertThat(lines).as("unsquashfs -lls lines").hasSize(expected.paths().size());
    long dirs = expected.nodes().values().stream().filter(n -> n.type().isDirectory()).count();
    assertThat(lines.stream().filter(l -> l.charAt(0) == 'd').count()).as("directories listed").isEqualTo(dirs);
  }
}
