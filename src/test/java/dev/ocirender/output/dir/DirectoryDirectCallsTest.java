package dev.ocirender.output.dir;

import static dev.ocirender.testing.LayerBuilder.layer;
import static org.assertj.core.api.Assertions.assertThat;

import dev.ocirender.layer.EntryPath;
import dev.ocirender.layer.EntryType;
import dev.ocirender.merge.MergeListener;
import dev.ocirender.merge.OverlayMerge;
import dev.ocirender.render.DirectoryRenderTarget;
import dev.ocirender.testing.ExternalTools;
import dev.ocirender.testing.FsSnapshot;
import dev.ocirender.testing.ImageBuilder;
import dev.ocirender.testing.LayerBuilder;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * What the direct Linux calls ({@link LinuxFs}) write, against independent readers: GNU tar's
 * extraction of the same layer (as root), {@code find -printf %l} for raw symlink targets and
 * {@code getfattr -h} for xattrs (both inside {@link FsSnapshot#fromDirectory}). Each case runs with
 * direct calls and with the path-and-tools fallback, which must write the same tree.
 *
 * <p>The cases are the ones the calls exist for: symlink names and targets that are not UTF-8 or
 * that Java cannot spell (trailing slash, {@code //}), nanosecond and pre-1970 fractional times on
 * symlinks, FIFOs and device nodes, device numbers beyond the old 8-bit encoding, ownership of
 * symlinks, and xattrs on a symlink and a FIFO (root only; never onto what the symlink points to).
 */
class DirectoryDirectCallsTest {

  @TempDir Path tmp;

  private static final byte[] LATIN1_NAME = {'d', '/', 'l', (byte) 0xe9};
  private static final byte[] RAW_TARGET = {'c', 'a', 'f', (byte) 0xe9, '/', (byte) 0xff, (byte) 0xfe};

  private static LayerBuilder.Entry symlink(byte[] name, byte[] target) {
    return new LayerBuilder.Entry(name, EntryType.SYMLINK, 0777, 0, 0, LayerBuilder.DEFAULT_MTIME, 0, null, target, null,
        0, 0, Map.of());
  }

  private static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private static DirectoryEntrySink.Options options(boolean direct) {
    DirectoryEntrySink.Options o = DirectoryEntrySink.Options.detect();
    return direct ? o : o.withoutDirectCalls();
  }

  private Path render(LayerBuilder layer, boolean direct, String name) throws IOException {
    if (direct) {
      Assumptions.assumeTrue(DirectoryEntrySink.directCallsUnavailable() == null,
          "direct calls unavailable: " + DirectoryEntrySink.directCallsUnavailable());
    }
    Path out = tmp.resolve(name);
    try (DirectoryRenderTarget target = new DirectoryRenderTarget(out, false, options(direct))) {
      OverlayMerge.run(ImageBuilder.of(layer).inMemoryBlobs(), target, MergeListener.NONE);
      target.publish();
    }
    return out;
  }

  private static FsSnapshot.Node latin1(FsSnapshot s) {
    FsSnapshot.Node n = s.nodes().get(EntryPath.ROOT.child(utf8("d")).child(java.util.Arrays.copyOfRange(LATIN1_NAME, 2, 4)));
    assertThat(n).as("the non-UTF-8 symlink in\n%s", s).isNotNull();
    return n;
  }

  @ParameterizedTest(name = "direct calls: {0}")
  @ValueSource(booleans = {true, false})
  void oddSymlinksNodesAndTimes_matchGnuTarExtraction(boolean direct) throws IOException {
    ExternalTools.assumeRoot();
    ExternalTools.assumeTools("tar", "getfattr");
    LayerBuilder layer = layer()
        .dir("d", 0755).mtime(1_700_000_000, 123_456_700)
        .rawEntry(symlink(LATIN1_NAME, RAW_TARGET)).mtime(1_600_000_000, 987_654_300).owner(5, 6)
        .rawEntry(symlink(utf8("d/slash"), utf8("dir//x/"))).mtime(1_650_000_000, 100)
        .rawEntry(symlink(utf8("d/neg"), utf8("../before-1970"))).mtime(-2, 750_000_000)
        .file("d/old", "from 1969", 0644).mtime(-1, 500_000_000)
        .fifo("d/fifo", 0640).mtime(1_600_000_001, 200).owner(7, 8)
        .charDevice("d/null", 1, 3).mtime(1_600_000_002, 300)
        .blockDevice("d/wide", 259, 300_000).mtime(1_600_000_003, 400)
        .file("d/suid", "s", 04755).owner(1000, 2000).mtime(1_600_000_004, 500);
    Path tarFile = tmp.resolve("layer.tar");
    Files.write(tarFile, layer.tar());
    Path reference = Files.createDirectory(tmp.resolve("gnu-tar"));
    ExternalTools.run(reference, List.of("tar", "--numeric-owner", "--same-owner", "-xpf", tarFile.toString()));

    Path ours = render(layer, direct, "ours");

    FsSnapshot expected = FsSnapshot.fromDirectory(reference, true);
    FsSnapshot actual = FsSnapshot.fromDirectory(ours, true);
    expected.assertMatches(actual, FsSnapshot.Compare.EXACT.ignoringRootMetadata());
    // The facts the comparison rests on, read back independently of GNU tar.
    assertThat(latin1(actual).symlinkTarget()).isEqualTo(RAW_TARGET);
    assertThat(actual.node("d/slash").symlinkTargetText()).isEqualTo("dir//x/");
    assertThat(latin1(actual).mtimeNanos()).isEqualTo(987_654_300);
    assertThat(actual.node("d/neg").mtimeSeconds()).isEqualTo(-2);
    assertThat(actual.node("d/neg").mtimeNanos()).isEqualTo(750_000_000);
    assertThat(actual.node("d/wide").devMajor()).isEqualTo(259);
    assertThat(actual.node("d/wide").devMinor()).isEqualTo(300_000);
    assertThat(actual.node("d/fifo").uid()).isEqualTo(7);
    assertThat(actual.node("d/suid").mode()).isEqualTo(04755);
  }

  @ParameterizedTest(name = "direct calls: {0}")
  @ValueSource(booleans = {true, false})
  void xattrsOnSymlinkAndFifo_areSetOnThemNotOnWhatTheyPointTo(boolean direct) throws IOException {
    ExternalTools.assumeRoot();
    ExternalTools.assumeTools("getfattr");
    byte[] binary = {0, 1, (byte) 0xff};
    LayerBuilder layer = layer()
        .file("target", "plain", 0644)
        .symlink("link", "target").xattr("trusted.on-link", binary).xattr("user.refused", "user.* is not allowed on symlinks")
        .fifo("fifo", 0600).xattr("trusted.on-fifo", "f")
        .file("ro", "read-only file", 0444).xattr("user.kept", "u").xattr("security.capability",
            new byte[] {0x01, 0x00, 0x00, 0x02, (byte) 0xc0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
    Path ours = render(layer, direct, "ours");
    FsSnapshot disk = FsSnapshot.fromDirectory(ours, true); // getfattr -h: never follows the link
    assertThat(disk.node("link").xattrs()).containsOnlyKeys("trusted.on-link");
    assertThat(disk.node("link").xattrs().get("trusted.on-link")).isEqualTo(binary);
    assertThat(disk.node("target").xattrs()).as("the symlink's target is untouched").isEmpty();
    assertThat(disk.node("fifo").xattrs()).containsOnlyKeys("trusted.on-fifo");
    assertThat(disk.node("ro").xattrs()).containsOnlyKeys("user.kept", "security.capability");
    assertThat(disk.node("ro").mode()).isEqualTo(0444);
  }

  @ParameterizedTest(name = "direct calls: {0}")
  @ValueSource(booleans = {true, false})
  void moreDirectoriesThanOpenDescriptors_withHardLinksAcrossThem_matchGnuTarExtraction(boolean direct) throws IOException {
    ExternalTools.assumeTools("tar");
    // More directories than the writer keeps open, linked across: descriptors are closed and
    // reopened from their parents while entries keep arriving.
    // Each directory's entries together, as GNU tar needs them to restore directory times.
    LayerBuilder layer = layer().dir("a", 0755);
    int n = DirectoryEntrySink.OPEN_DIRS * 2 + 7;
    for (int i = 0; i < n; i++) {
      layer.dir("a/d" + i, 0755).mtime(1_600_000_000 + i, 0).dir("a/d" + i + "/sub", 0700).file("a/d" + i + "/sub/f", "file " + i, 0644);
      if (i > 0) {
        layer.hardlink("a/d" + i + "/link-to-" + i / 3, "a/d" + i / 3 + "/sub/f");
      }
    }
    Path tarFile = tmp.resolve("layer.tar");
    Files.write(tarFile, layer.tar());
    Path reference = Files.createDirectory(tmp.resolve("gnu-tar"));
    ExternalTools.run(reference, List.of("tar", "--numeric-owner", "-xpf", tarFile.toString()));
    Path ours = render(layer, direct, "ours");
    FsSnapshot actual = FsSnapshot.fromDirectory(ours, false);
    FsSnapshot.fromDirectory(reference, false).assertMatches(actual, FsSnapshot.Compare.EXACT.ignoringRootMetadata().ignoringOwnership());
    assertThat(actual.linkGroupOf("a/d1/sub/f")).hasSize(4); // linked from d3, d4 and d5
  }
}
