package dev.ocirender.output.squashfs;

import dev.ocirender.layer.ExternalTools;
import dev.ocirender.merge.MergeListener;
import dev.ocirender.merge.OverlayMerge;
import dev.ocirender.testing.FsSnapshot;
import dev.ocirender.testing.ImageBuilder;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Test helpers around real squashfs readers: render an image (through the real merge) into a
 * squashfs file, extract it with {@code unsquashfs -d} and snapshot the tree, list it with
 * {@code unsquashfs -lls}, and run the squashfs-tools-ng readers over it.
 */
final class SquashfsTools {

  private SquashfsTools() {}

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

  /** The same tree with every hard-link group split into separate files (rdsquashfs unpacks so). */
  static FsSnapshot withoutHardLinks(FsSnapshot s) {
    FsSnapshot.Builder b = FsSnapshot.builder();
    s.nodes().forEach((p, n) -> b.add(p, new FsSnapshot.Node(n.type(), n.mode(), n.uid(), n.gid(), n.mtimeSeconds(),
        n.mtimeNanos(), n.size(), n.sha256(), n.symlinkTarget(), n.devMajor(), n.devMinor(), n.xattrs()), null));
    return b.build();
  }

  /**
   * squashfs-tools-ng reads the whole image: {@code sqfs2tar} converts it, {@code rdsquashfs -d}
   * describes it, and {@code rdsquashfs -u /} unpacks it with owners, modes, times and xattrs; the
   * unpacked tree is returned as a second, independent reading of the image.
   */
  static FsSnapshot ngExtract(Path image, Path work) throws IOException {
    ExternalTools.bash(work, "sqfs2tar --no-skip '" + image + "' > /dev/null");
    ExternalTools.bash(work, "rdsquashfs -d '" + image + "' > /dev/null");
    Path out = Files.createTempDirectory(work, "rdsquashfs");
    ExternalTools.run(work, List.of("rdsquashfs", "-q", "-u", "/", "-p", out.toString(), "-X", "-T", "-C", "-O", image.toString()));
    return FsSnapshot.fromDirectory(out, true);
  }
}
