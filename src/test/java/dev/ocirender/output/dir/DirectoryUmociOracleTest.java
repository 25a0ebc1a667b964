package dev.ocirender.output.dir;

import static dev.ocirender.testing.LayerBuilder.layer;
import static org.assertj.core.api.Assertions.assertThat;

import dev.ocirender.image.Platform;
import dev.ocirender.layer.EntryType;
import dev.ocirender.render.DirectoryRenderTarget;
import dev.ocirender.render.Renderer;
import dev.ocirender.source.ImageSource;
import dev.ocirender.source.ImageSources;
import dev.ocirender.testing.ExternalTools;
import dev.ocirender.testing.FsSnapshot;
import dev.ocirender.testing.ImageBuilder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The directory writer against the practical oracle: the same umoci-readable multi-layer image
 * unpacked by {@code umoci raw unpack} (as root, so ownership, devices and privileged xattrs count)
 * and rendered by {@code --format dir}, compared path by path: type, mode, owner, mtime, size,
 * content hash, symlink target, hard-link groups, device numbers and xattrs.
 *
 * <p>One known difference is allowed: a parent directory that no layer lists gets the time of the
 * unpack from umoci, but a fixed mtime 0 from us (the contract's implied directory: 0755, root,
 * deterministic). Left out on purpose, as in {@code OverlayModelUmociTest}: a non-directory with
 * children in its own layer, where umoci fails with "not a directory" while the contract makes it a
 * directory.
 */
class DirectoryUmociOracleTest {

  private static final byte[] CAP = {0x01, 0x00, 0x00, 0x02, (byte) 0xc0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};

  @Test
  void dirOutput_matchesUmociRawUnpack(@TempDir Path tmp) throws Exception {
    boolean haveUmoci = new ProcessBuilder("sh", "-c", "command -v umoci").start().waitFor() == 0;
    if (!haveUmoci && Boolean.getBoolean("ocirender.requireTools")) {
      throw new AssertionError("umoci is required (ocirender.requireTools) but not installed");
    }
    Assumptions.assumeTrue(haveUmoci, "umoci not installed: skipping the dir-vs-umoci check");
    ExternalTools.assumeRoot();
    byte[] latin1 = {'c', 'a', 'f', (byte) 0xe9};
    ImageBuilder image = ImageBuilder.of(
        layer()
            .dir("etc", 0755).mtime(1_500_000_000, 0)
            .file("etc/passwd", "root:x:0:0", 0644).mtime(1_600_000_001, 0)
            .file("etc/shadow", "secret", 0640).owner(0, 42)
            .dir("a", 0700).file("a/x", "x", 0644).file("a/y", "y", 0644)
            .dir("d", 0755).file("d/e", "e", 0644)
            .file("f", "old", 0644).hardlink("l1", "f").hardlink("l2", "f")
            .file("g", "g", 0600).symlink("s", "a")
            .dir("ro", 0555).file("ro/inside", "locked dir", 0444)
            .dir("tmp", 01777).dir("srv", 02775).owner(1000, 1000)
            .file("bin/su", "su", 04755).file("bin/wall", "w", 02755).owner(0, 5)
            .file("bin/newuidmap", "nm", 0755).xattr("security.capability", CAP).xattr("user.note", "hi")
            .file("home/u/f", "u", 0600).owner(100_000, 3_000_000).mtime(1_700_000_000, 250_000_000)
            .dir("home/u", 0750).owner(100_000, 100_000).xattr("trusted.t", new byte[] {0, 1, (byte) 0xff})
            .symlink("abs", "/etc/passwd").symlink("dangling", "../nowhere/at/all")
            .dir("dev", 0755).charDevice("dev/null", 1, 3).blockDevice("dev/sda1", 8, 1).fifo("run/initctl", 0600)
            .rawEntry(concat("names/", latin1), EntryType.FILE, 0644),
        layer().opaque("a").file("a/z", "z", 0644).file("d", "now file", 0644).whiteout("f")
            .dir("s", 0750).file("s/in", "i", 0644).symlink("etc/localtime", "/usr/share/zoneinfo/UTC")
            .file("g2", "g2", 0644).hardlink("g2-link", "g2"),
        layer().whiteout("a/z").hardlink("m", "g").file("g", "new", 0644).whiteout("dev/sda1"));
    image.writeLayout(tmp.resolve("img"));

    Process umoci = new ProcessBuilder("umoci", "raw", "unpack", "--image", tmp.resolve("img") + ":latest",
        tmp.resolve("umoci").toString()).redirectErrorStream(true).start();
    String log = new String(umoci.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(umoci.waitFor()).as(log).isZero();

    FsSnapshot oracle = FsSnapshot.fromDirectory(tmp.resolve("umoci"), true);
    // Both ways the writer can work: direct Linux calls (where bound) and Java paths plus tools.
    DirectoryEntrySink.Options direct = DirectoryEntrySink.Options.detect();
    if (DirectoryEntrySink.directCallsUnavailable() == null) {
      compare(tmp, oracle, direct, "ours-direct");
    }
    compare(tmp, oracle, direct.withoutDirectCalls(), "ours-fallback");
  }

  private static void compare(Path tmp, FsSnapshot oracle, DirectoryEntrySink.Options options, String name) throws Exception {
    Path ours = tmp.resolve(name);
    try (ImageSource source = ImageSources.open("oci:" + tmp.resolve("img") + ":latest");
        DirectoryRenderTarget target = new DirectoryRenderTarget(ours, false, options)) {
      new Renderer().renderTo(source, Platform.LINUX_AMD64, target);
      assertThat(target.stats().skippedDevices()).isZero();
    }

    FsSnapshot actual = FsSnapshot.fromDirectory(ours, true);
    List<String> implied = List.of("bin", "home", "names", "run");
    List<String> differences = new ArrayList<>(oracle.diff(actual, FsSnapshot.Compare.EXACT.ignoringRootMetadata()));
    differences.removeIf(d -> implied.stream().anyMatch(p -> d.startsWith(p + ": mtime expected ")));
    assertThat(differences).as("differences from umoci raw unpack (%s); ours:\n%s", name, actual).isEmpty();
    for (String p : implied) {
      assertThat(actual.node(p).mtimeSeconds()).as("implied directory %s", p).isZero();
    }
    // And the facts that make the comparison meaningful are really there.
    assertThat(actual.node("bin/newuidmap").xattrs().get("security.capability")).isEqualTo(CAP);
    assertThat(actual.node("dev/null").type()).isEqualTo(EntryType.CHAR_DEVICE);
    assertThat(actual.node("ro").mode()).isEqualTo(0555);
    assertThat(actual.linkGroupOf("l1")).hasSize(2);
  }

  private static byte[] concat(String prefix, byte[] rest) {
    byte[] p = prefix.getBytes(StandardCharsets.UTF_8);
    byte[] out = java.util.Arrays.copyOf(p, p.length + rest.length);
    System.arraycopy(rest, 0, out, p.length, rest.length);
    return out;
  }
}
