package dev.ocirender.testing;

import static dev.ocirender.testing.LayerBuilder.layer;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.ocirender.layer.EntryHeader;
import dev.ocirender.layer.EntryPath;
import dev.ocirender.layer.EntryType;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FsSnapshotTest {

  @Test
  void diff_namesPathAndField() {
    FsSnapshot expected = OverlayModel.of(layer().dir("d", 0755).file("d/f", "one", 0644).file("g", "x", 0644)
        .hardlink("h", "g").file("only-expected", "", 0644)).snapshot();
    FsSnapshot actual = OverlayModel.of(layer().dir("d", 0700).file("d/f", "two", 0644).owner(5, 5)
        .file("g", "x", 0644).file("h", "x", 0644).file("only-actual", "", 0644)).snapshot();
    List<String> diff = expected.diff(actual, FsSnapshot.Compare.EXACT);
    assertThat(diff).anySatisfy(l -> assertThat(l).startsWith("d: mode expected 0755, actual 0700"))
        .anySatisfy(l -> assertThat(l).startsWith("d/f: owner expected 0:0, actual 5:5"))
        .anySatisfy(l -> assertThat(l).startsWith("d/f: content sha256 expected"))
        .anySatisfy(l -> assertThat(l).startsWith("h: hard-link group expected {g, ...}, actual none"))
        .anySatisfy(l -> assertThat(l).startsWith("only-expected: missing"))
        .anySatisfy(l -> assertThat(l).startsWith("only-actual: unexpected FILE"));
    assertThat(expected.diff(actual, FsSnapshot.Compare.EXACT.ignoringOwnership()))
        .noneSatisfy(l -> assertThat(l).contains("owner"));
    assertThatThrownBy(() -> expected.assertMatches(actual, FsSnapshot.Compare.EXACT))
        .hasMessageContaining("difference(s)").hasMessageContaining("expected:\n");
  }

  @Test
  void linkGroups_compareByMembershipNotNumbering() {
    FsSnapshot a = OverlayModel.of(layer().file("x", "1", 0644).hardlink("y", "x").file("p", "2", 0644).hardlink("q", "p")).snapshot();
    FsSnapshot b = OverlayModel.of(layer().file("q", "2", 0644).hardlink("p", "q").file("y", "1", 0644).hardlink("x", "y")).snapshot();
    assertThat(a.diff(b, FsSnapshot.Compare.EXACT)).isEmpty();
    assertThat(a).isEqualTo(b);
  }

  @Test
  void fromSink_followsHardLinksToTheirInode() throws IOException {
    CollectingSink sink = new CollectingSink();
    sink.accept(EntryHeader.builder(EntryType.DIRECTORY, EntryPath.ROOT).mode(0755).build(), null);
    byte[] content = "hi".getBytes(StandardCharsets.UTF_8);
    sink.accept(EntryHeader.builder(EntryType.FILE, EntryPath.of("f")).mode(0640).size(2).build(),
        new ByteArrayInputStream(content));
    sink.accept(EntryHeader.builder(EntryType.HARDLINK, EntryPath.of("l")).linkTarget(EntryPath.of("f")).build(), null);
    sink.finish();
    FsSnapshot fs = FsSnapshot.fromSink(sink);
    assertThat(fs.node("l").mode()).isEqualTo(0640);
    assertThat(fs.node("l").hasContent("hi")).isTrue();
    assertThat(fs.linkGroupOf("f")).extracting(EntryPath::toString).containsExactly("f", "l");
  }

  @Test
  void fromDirectory_readsTypesModesLinksXattrsAndRawNames(@TempDir Path root) throws Exception {
    Files.createDirectory(root.resolve("d"));
    Files.setPosixFilePermissions(root.resolve("d"), PosixFilePermissions.fromString("rwx--x---"));
    Path f = Files.writeString(root.resolve("d/f"), "content");
    Files.setLastModifiedTime(f, FileTime.from(Instant.ofEpochSecond(1_000, 5_000)));
    Files.createLink(root.resolve("hard"), f);
    Files.createSymbolicLink(root.resolve("s"), Path.of("d/f"));
    sh(root, "mkfifo p && printf x > \"$(printf 'caf\\351')\" && ln -s \"$(printf 't\\377')\" raw-target");
    boolean xattrs = sh(root, "setfattr -n user.k -v 0xc0ff00 d/f") == 0;

    FsSnapshot fs = FsSnapshot.fromDirectory(root, xattrs);
    assertThat(fs.node("d").type()).isEqualTo(EntryType.DIRECTORY);
    assertThat(fs.node("d").mode()).isEqualTo(0710);
    assertThat(fs.node("d/f").hasContent("content")).isTrue();
    assertThat(fs.node("d/f").mtimeSeconds()).isEqualTo(1_000);
    assertThat(fs.node("d/f").mtimeNanos()).isEqualTo(5_000);
    assertThat(fs.linkGroupOf("hard")).extracting(EntryPath::toString).containsExactly("d/f", "hard");
    assertThat(fs.node("s").symlinkTargetText()).isEqualTo("d/f");
    assertThat(fs.node("p").type()).isEqualTo(EntryType.FIFO);
    assertThat(fs.nodes()).containsKey(EntryPath.normalize(new byte[] {'c', 'a', 'f', (byte) 0xe9}));
    assertThat(fs.node("raw-target").symlinkTarget()).containsExactly('t', 0xff);
    if (xattrs) {
      assertThat(fs.node("d/f").xattrs().get("user.k")).containsExactly(0xc0, 0xff, 0x00);
    }
    if (sh(root, "mknod c c 1 3") == 0) {
      FsSnapshot again = FsSnapshot.fromDirectory(root, false);
      assertThat(again.node("c").type()).isEqualTo(EntryType.CHAR_DEVICE);
      assertThat(again.node("c").devMajor()).isEqualTo(1);
      assertThat(again.node("c").devMinor()).isEqualTo(3);
    }
    assertThat(fs.node(".").type()).isEqualTo(EntryType.DIRECTORY);
  }

  @Test
  void fromDirectory_ofAnExtractedLayer_matchesTheModel(@TempDir Path root) throws Exception {
    assumeTrue(sh(root, "command -v tar") == 0, "tar not installed");
    LayerBuilder l = layer().dir("etc", 0750).file("etc/x", "x", 0600).symlink("link", "etc/x").hardlink("etc/y", "etc/x");
    Path tar = root.resolveSibling(root.getFileName() + ".tar");
    Files.write(tar, l.tar());
    assertThat(sh(root, "tar -xpf '" + tar + "'")).isZero();
    FsSnapshot disk = FsSnapshot.fromDirectory(root, false);
    OverlayModel.of(l).snapshot().assertMatches(disk,
        FsSnapshot.Compare.EXACT.ignoringSymlinkModes().ignoringRootMetadata().ignoringMtimes());
    Files.delete(tar);
  }

  private static int sh(Path dir, String script) throws IOException, InterruptedException {
    Process p = new ProcessBuilder("sh", "-c", script).directory(dir.toFile()).redirectErrorStream(true).start();
    p.getInputStream().readAllBytes();
    return p.waitFor();
  }
}
