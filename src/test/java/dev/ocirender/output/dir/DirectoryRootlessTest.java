package dev.ocirender.output.dir;

import static dev.ocirender.testing.LayerBuilder.layer;
import static org.assertj.core.api.Assertions.assertThat;

import dev.ocirender.testing.ExternalTools;
import dev.ocirender.testing.FsSnapshot;
import dev.ocirender.testing.ImageBuilder;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A rootless render, for real: the CLI runs in a child JVM as uid/gid 65534 (nobody) via
 * {@code setpriv}, renders an image with owners, device nodes, a FIFO, privileged and user xattrs
 * and read-only/unreadable directories, and must succeed with the rootless result: everything owned
 * by the caller, no device nodes (counted in the summary), the FIFO made, {@code user.*} xattrs kept
 * and {@code security.*} skipped (counted), and every mode, mtime, content and link as the model
 * says. Needs root to switch users; as a normal user the scenario suite is already rootless.
 *
 * <p>The child cannot read the build's classpath under root's home, so its jars are hard-linked
 * (copied when on another filesystem) into a world-readable directory first.
 */
class DirectoryRootlessTest {

  private static final int NOBODY = 65534;

  @Test
  void rootlessRender_asUnprivilegedUser_skipsOwnershipAndDevices(@TempDir Path tmp) throws Exception {
    ExternalTools.assumeRoot();
    boolean haveSetpriv = new ProcessBuilder("sh", "-c", "command -v setpriv").start().waitFor() == 0;
    if (!haveSetpriv && Boolean.getBoolean("ocirender.requireTools")) {
      throw new AssertionError("setpriv (util-linux) is required (ocirender.requireTools) but not installed");
    }
    Assumptions.assumeTrue(haveSetpriv, "setpriv not installed: skipping the rootless render");
    Files.setAttribute(tmp, "unix:mode", 0755);

    byte[] cap = {0x01, 0x00, 0x00, 0x02, (byte) 0xc0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    ImageBuilder image = ImageBuilder.of(
        layer()
            .dir("etc", 0755).file("etc/shadow", "secret", 0000).owner(0, 42)
            .dir("ro", 0555).file("ro/inside", "locked dir", 0444)
            .dir("nox", 0000).file("nox/deep", "no access", 0600).mtime(1_600_000_000, 123_456_700)
            .file("bin/ping", "p", 04755).xattr("security.capability", cap).xattr("user.note", "kept")
            .dir("home/u", 0750).owner(1000, 1000).xattr("user.dir", "d")
            .dir("dev", 0755).charDevice("dev/null", 1, 3).blockDevice("dev/sda1", 8, 1)
            .fifo("run/initctl", 0600).symlink("abs", "/etc/passwd"),
        layer().file("etc/motd", "hello", 0644).hardlink("etc/motd2", "etc/motd").dir("tmp", 01777));
    Path img = tmp.resolve("img");
    image.writeLayout(img);
    Path work = Files.createDirectory(tmp.resolve("work"));
    Files.setAttribute(work, "unix:uid", NOBODY);
    Files.setAttribute(work, "unix:gid", NOBODY);
    Path out = work.resolve("rootfs");

    List<String> cmd = new ArrayList<>(List.of("setpriv", "--reuid=" + NOBODY, "--regid=" + NOBODY, "--clear-groups",
        Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp", readableClasspath(tmp.resolve("cp")),
        "dev.ocirender.cli.Main", "render", "oci:" + img + ":latest", "--format", "dir", "--output", out.toString()));
    Process child = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    child.getOutputStream().close();
    String log = new String(child.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(child.waitFor(2, TimeUnit.MINUTES)).isTrue();
    assertThat(child.exitValue()).as(log).isZero();
    assertThat(log).contains("rootless: ownership not applied, 2 device nodes skipped, 1 xattr skipped");

    FsSnapshot disk = FsSnapshot.fromDirectory(out, true);
    FsSnapshot expected = FsSnapshot.fromModel(image).without("dev/null").without("dev/sda1");
    expected.assertMatches(disk, FsSnapshot.Compare.EXACT.ignoringOwnership().ignoringXattrs().ignoringSymlinkModes());
    disk.nodes().forEach((p, n) -> assertThat(n.uid()).as("owner of %s", p).isEqualTo(NOBODY));
    assertThat(disk.node("bin/ping").xattrs()).containsOnlyKeys("user.note");
    assertThat(disk.node("home/u").xattrs()).containsOnlyKeys("user.dir");
    assertThat(disk.node("bin/ping").mode()).isEqualTo(04755);
    assertThat(disk.node("nox/deep").mtimeNanos()).isEqualTo(123_456_700);
    try (var names = Files.list(work)) {
      assertThat(names.map(p -> p.getFileName().toString()).toList()).as("no staging left").containsExactly("rootfs");
    }
  }

  /** The main classes copied and the dependency jars linked into {@code dir}, readable by anyone. */
  private static String readableClasspath(Path dir) throws IOException {
    Files.createDirectory(dir);
    List<String> entries = new ArrayList<>();
    int i = 0;
    for (String e : System.getProperty("java.class.path").split(File.pathSeparator)) {
      Path src = Path.of(e);
      if (Files.isDirectory(src)) {
        if (!src.endsWith(Path.of("target", "classes"))) {
          continue; // test classes are not needed by the CLI
        }
        Path copy = dir.resolve("classes");
        copyTree(src, copy);
        entries.add(copy.toString());
      } else if (e.endsWith(".jar") && Files.isRegularFile(src)) {
        Path link = dir.resolve((i++) + "-" + src.getFileName());
        try {
          Files.createLink(link, src);
        } catch (IOException | UnsupportedOperationException ex) {
          Files.copy(src, link);
        }
        entries.add(link.toString());
      }
    }
    return String.join(File.pathSeparator, entries);
  }

  private static void copyTree(Path from, Path to) throws IOException {
    Files.walkFileTree(from, new SimpleFileVisitor<>() {
      @Override
      public FileVisitResult preVisitDirectory(Path d, BasicFileAttributes a) throws IOException {
        Files.createDirectories(to.resolve(from.relativize(d).toString()));
        return FileVisitResult.CONTINUE;
      }

      @Override
      public FileVisitResult visitFile(Path f, BasicFileAttributes a) throws IOException {
        Files.copy(f, to.resolve(from.relativize(f).toString()));
        return FileVisitResult.CONTINUE;
      }
    });
  }
}
