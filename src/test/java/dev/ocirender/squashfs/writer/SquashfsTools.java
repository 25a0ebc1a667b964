package dev.ocirender.squashfs.writer;

import dev.ocirender.merge.MergeListener;
import dev.ocirender.merge.OverlayMerge;
import dev.ocirender.testing.ExternalTools;
import dev.ocirender.testing.FsSnapshot;
import dev.ocirender.testing.ImageBuilder;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Test helpers around real squashfs readers: render an image (through the real merge) into a
 * squashfs file, extract it with {@code unsquashfs -d} and snapshot the tree, list it with
 * {@code unsquashfs -lls}, and run the squashfs-tools-ng readers over it.
 */
public final class SquashfsTools {

  private SquashfsTools() {}

  /**
   * The squashfs leg of the merge scenario suite: {@code image} rendered to squashfs must equal
   * {@code expected} (the merged filesystem) when extracted by {@code unsquashfs -d} (as root, so
   * owners, devices and xattrs are real) and when read by squashfs-tools-ng's {@code sqfs2tar};
   * {@code unsquashfs -lls} must list every path and every directory.
   */
  public static void checkScenario(ImageBuilder image, FsSnapshot expected, Path dir) throws IOException {
    assumeTools();
    Path sqfs = render(image, dir.resolve("out.sqfs"), SquashfsOptions.defaults().withBlockSize(4096));
    expected.assertMatches(extract(sqfs, dir), SquashfsEntrySinkTest.squashfsCompare());
    expected.assertMatches(ngRead(sqfs, dir), SquashfsEntrySinkTest.squashfsCompare());
    java.util.List<String> lines = java.util.Arrays.stream(listing(sqfs).split("\n"))
        .filter(l -> l.length() > 10 && "-dlcbps".indexOf(l.charAt(0)) >= 0).toList();
    org.assertj.core.api.Assertions.assertThat(lines).as("unsquashfs -lls lines").hasSize(expected.paths().size());
    long dirs = expected.nodes().values().stream().filter(n -> n.type().isDirectory()).count();
    org.assertj.core.api.Assertions.assertThat(lines.stream().filter(l -> l.charAt(0) == 'd').count())
        .as("directories listed").isEqualTo(dirs);
  }

  static void assumeTools() {
    ExternalTools.assumeTools("unsquashfs", "sqfs2tar", "rdsquashfs");
  }

  /** Merges {@code image} into a squashfs file at {@code out}. */
  static Path render(ImageBuilder image, Path out, SquashfsOptions options) throws IOException {
    OverlayMerge.run(image.inMemoryBlobs(), () -> SquashfsEntrySink.create(out, options), MergeListener.NONE);
    return out;
  }

  /** Extracts with {@code unsquashfs -d} (as root: owners, devices, xattrs) and snapshots the tree. */
  static FsSnapshot extract(Path image, Path work) throws IOException {
    Path dest = work.resolve("extracted-" + image.getFileName());
    ExternalTools.run(work, List.of("unsquashfs", "-no-progress", "-d", dest.toString(), image.toString()));
    return FsSnapshot.fromDirectory(dest, true);
  }

  static String listing(Path image) {
    return new String(ExternalTools.run(image.getParent(),
        List.of("unsquashfs", "-no-progress", "-lls", "-n", image.toString())), StandardCharsets.UTF_8);
  }

  /**
   * squashfs-tools-ng reads the whole image: {@code rdsquashfs -d} describes it, {@code rdsquashfs
   * -u /} unpacks it, and {@code sqfs2tar -r .} converts it to a tar, which is returned as a second,
   * independent reading of the image (root metadata, hard links and binary xattrs included; a
   * rdsquashfs unpack cannot be compared as is: it splits hard links, and sets xattrs before
   * chown, which makes the kernel drop {@code security.capability}).
   */
  static FsSnapshot ngRead(Path image, Path work) throws IOException {
    ExternalTools.bash(work, "rdsquashfs -d '" + image + "' > /dev/null");
    Path out = Files.createTempDirectory(work, "rdsquashfs");
    ExternalTools.run(work, List.of("rdsquashfs", "-q", "-u", "/", "-p", out.toString(), image.toString()));
    Path tar = work.resolve(image.getFileName() + ".tar");
    ExternalTools.bash(work, "sqfs2tar --no-skip -r . '" + image + "' > '" + tar + "'");
    try (InputStream in = Files.newInputStream(tar)) {
      return FsSnapshot.fromTarExact(in);
    }
  }
}
