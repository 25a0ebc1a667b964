package dev.ocirender.merge;

import static dev.ocirender.testing.LayerBuilder.layer;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ocirender.layer.EntryPath;
import dev.ocirender.layer.EntryType;
import dev.ocirender.layer.LayerBlob;
import dev.ocirender.output.dir.DirectoryEntrySink;
import dev.ocirender.render.DirectoryRenderTarget;
import dev.ocirender.squashfs.writer.SquashfsTools;
import dev.ocirender.testing.CollectingSink;
import dev.ocirender.testing.Compression;
import dev.ocirender.testing.FsSnapshot;
import dev.ocirender.testing.ImageBuilder;
import dev.ocirender.testing.LayerBuilder;
import dev.ocirender.testing.LayerCacheIdentity;
import dev.ocirender.testing.OverlayModel;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Named merge scenarios. Each builds a small image, states the key facts by hand, checks them on the
 * reference {@link OverlayModel} first (so a wrong expectation shows up even before the merger
 * exists), then runs {@link OverlayMerge} into a {@link CollectingSink} (which checks the sink
 * contract), requires the merged filesystem to equal the model's exactly, and checks the facts on it
 * again.
 *
 * <p>The whole suite runs once per {@link Output}: into the collecting sink; through the directory
 * writer onto disk ({@link DirectoryRenderTarget}), read back with {@link FsSnapshot#fromDirectory}
 * and held to the same model (symlink modes aside, which Linux fixes at 0777; ownership and
 * privileged xattrs aside when the tests do not run as root); and through the squashfs writer,
 * read back by {@code unsquashfs -d}, {@code sqfs2tar} and {@code unsquashfs -lls}
 * ({@link SquashfsTools#checkScenario}).
 */
@ParameterizedClass(name = "{0}")
@EnumSource(OverlayMergeScenarioTest.Output.class)
class OverlayMergeScenarioTest {

  /** Where a scenario's merge is written. */
  enum Output { COLLECTING_SINK, DIRECTORY, SQUASHFS }

  @Parameter Output output;

  @TempDir Path tmp;

  private int renders;

  private record Outcome(FsSnapshot merged, MergeStats stats, OverlayModel.Result model) {}

  private Outcome check(Consumer<FsSnapshot> facts, LayerBuilder... layers) throws IOException {
    return check(facts, ImageBuilder.of(layers));
  }

  private Outcome check(Consumer<FsSnapshot> facts, ImageBuilder image) throws IOException {
    OverlayModel.Result model = OverlayModel.apply(image.logicalLayers());
    facts.accept(model.snapshot());
    MergeStats stats;
    FsSnapshot merged;
    if (output == Output.DIRECTORY) {
      Path out = tmp.resolve("rootfs-" + renders++);
      DirectoryEntrySink.Options options = DirectoryEntrySink.Options.detect();
      try (DirectoryRenderTarget target = new DirectoryRenderTarget(out, false, options)) {
        stats = OverlayMerge.run(image.inMemoryBlobs(), target, MergeListener.NONE);
        target.publish();
      }
      merged = FsSnapshot.fromDirectory(out, true);
      FsSnapshot.Compare compare = FsSnapshot.Compare.EXACT.ignoringSymlinkModes();
      if (!options.privileged()) {
        compare = compare.ignoringOwnership().ignoringXattrs();
      }
      model.snapshot().assertMatches(merged, compare);
    } else {
      CollectingSink.Opener sinks = new CollectingSink.Opener();
      stats = OverlayMerge.run(image.inMemoryBlobs(), sinks::open, MergeListener.NONE);
      merged = sinks.result().snapshot();
      model.snapshot().assertMatches(merged, FsSnapshot.Compare.EXACT);
    }
    facts.accept(merged);
    if (output == Output.COLLECTING_SINK) {
      // Every scenario, tar and squashfs: byte-identical with the layer cache cold, warm, partial, damaged.
      LayerCacheIdentity.check(image, tmp.resolve("layer-cache-" + renders++));
    }
    if (output == Output.SQUASHFS) {
      SquashfsTools.checkScenario(image, merged, Files.createDirectories(tmp.resolve("squashfs-" + renders++)));
    }
    return new Outcome(merged, stats, model);
  }

  private static void absent(FsSnapshot fs, String... paths) {
    for (String p : paths) {
      assertThat(fs.has(p)).as("%s should be absent in\n%s", p, fs).isFalse();
    }
  }

  private static void content(FsSnapshot fs, String path, String text) {
    assertThat(fs.node(path).hasContent(text)).as("content of %s is '%s'", path, text).isTrue();
  }

  private static void type(FsSnapshot fs, String path, EntryType type) {
    assertThat(fs.node(path).type()).as("type of %s", path).isEqualTo(type);
  }

  private static List<String> group(FsSnapshot fs, String path) {
    return fs.linkGroupOf(path).stream().map(EntryPath::toString).toList();
  }

  // ---- whiteouts

  @Test
  void simpleWhiteout_removesLowerFileAndLowerTree() throws IOException {
    check(fs -> {
      absent(fs, "a/b", "d", "d/e");
      content(fs, "a/c", "c");
    },
        layer().dir("a", 0755).file("a/b", "b", 0644).file("a/c", "c", 0644).dir("d", 0755).file("d/e", "e", 0644),
        layer().whiteout("a/b").whiteout("d"));
  }

  @Test
  void opaqueWhiteout_removesLowerChildren_keepsDirectoryWithLowerMetadata() throws IOException {
    check(fs -> {
      absent(fs, "a/x", "a/y", "a/y/z");
      content(fs, "a/new", "n");
      assertThat(fs.node("a").mode()).isEqualTo(0700);
    },
        layer().dir("a", 0700).file("a/x", "x", 0644).dir("a/y", 0755).file("a/y/z", "z", 0644),
        layer().opaque("a").file("a/new", "n", 0644));
  }

  @Test
  void opaqueWhiteout_withSameLayerDirectoryEntry_takesItsMetadata() throws IOException {
    LayerBuilder lower = layer().dir("a", 0700).file("a/x", "x", 0644);
    Consumer<FsSnapshot> facts = fs -> {
      absent(fs, "a/x");
      assertThat(fs.node("a").mode()).isEqualTo(0751);
      content(fs, "a/k", "k");
    };
    check(facts, lower, layer().dir("a", 0751).opaque("a").file("a/k", "k", 0644));
    check(facts, lower, layer().file("a/k", "k", 0644).opaque("a").dir("a", 0751));
  }

  @Test
  void whiteoutInSameLayerAsThePathItNames_keepsThatLayersEntry() throws IOException {
    LayerBuilder lower = layer().dir("a", 0755).file("a/f", "old", 0644);
    check(fs -> content(fs, "a/f", "new"), lower, layer().file("a/f", "new", 0644).whiteout("a/f"));
    check(fs -> content(fs, "a/f", "new"), lower, layer().whiteout("a/f").file("a/f", "new", 0644));
  }

  @Test
  void fileRecreatedAfterWhiteout_isTheNewFile() throws IOException {
    check(fs -> {
      content(fs, "f", "v3");
      content(fs, "d/y", "y");
      absent(fs, "d/x");
      assertThat(fs.node("d").mode()).as("d is only implied by the newest layer").isEqualTo(0755);
      assertThat(fs.node("d").mtimeSeconds()).isZero();
    },
        layer().file("f", "v1", 0644).dir("d", 0700).file("d/x", "x", 0644),
        layer().whiteout("f").whiteout("d"),
        layer().file("f", "v3", 0644).file("d/y", "y", 0644));
  }

  @Test
  void nestedWhiteoutsAcrossLayers_newerWhiteoutBelowOlderOpaqueStillHides() throws IOException {
    check(fs -> {
      absent(fs, "a/b", "a/c");
      content(fs, "a/d", "d1");
    },
        layer().dir("a", 0755).file("a/b", "b0", 0644).file("a/c", "c0", 0644),
        layer().opaque("a").file("a/b", "b1", 0644).file("a/d", "d1", 0644),
        layer().whiteout("a/b"));
  }

  @Test
  void olderWhiteout_doesNotCancelNewerOne() throws IOException {
    check(fs -> absent(fs, "dir", "dir/foo", "dir/old"),
        layer().dir("dir", 0755).file("dir/old", "o", 0644),
        layer().dir("dir", 0755).opaque("dir").file("dir/foo", "f", 0644),
        layer().whiteout("dir"));
  }

  // ---- replacement without whiteouts

  @Test
  void directoryReplacedByFile_withoutWhiteout() throws IOException {
    check(fs -> {
      type(fs, "d", EntryType.FILE);
      absent(fs, "d/x", "d/e");
    },
        layer().dir("d", 0755).file("d/x", "x", 0644).dir("d/e", 0755),
        layer().file("d", "now a file", 0644));
  }

  @Test
  void directoryReplacedBySymlink_withoutWhiteout() throws IOException {
    check(fs -> {
      type(fs, "d", EntryType.SYMLINK);
      assertThat(fs.node("d").symlinkTargetText()).isEqualTo("/elsewhere");
      absent(fs, "d/x");
    },
        layer().dir("d", 0755).file("d/x", "x", 0644),
        layer().symlink("d", "/elsewhere"));
  }

  @Test
  void symlinkReplacedByDirectory() throws IOException {
    check(fs -> {
      type(fs, "s", EntryType.DIRECTORY);
      assertThat(fs.node("s").mode()).isEqualTo(0700);
      content(fs, "s/x", "x");
    },
        layer().dir("target", 0755).file("target/t", "t", 0644).symlink("s", "target"),
        layer().dir("s", 0700).file("s/x", "x", 0644));
  }

  @Test
  void nonDirectoryWithChildrenInTheSameLayer_becomesDirectory() throws IOException {
    check(fs -> {
      type(fs, "a", EntryType.DIRECTORY);
      assertThat(fs.node("a").mode()).isEqualTo(0755);
      assertThat(fs.node("a").mtimeSeconds()).isZero();
      content(fs, "a/new", "n");
      absent(fs, "a/old");
    },
        layer().dir("a", 0700).file("a/old", "o", 0644),
        layer().file("a", "file", 0644).file("a/new", "n", 0644));
  }

  // ---- duplicates inside one layer

  @Test
  void duplicatePathInOneLayer_fileThenFile_laterWins() throws IOException {
    check(fs -> {
      content(fs, "p", "second");
      assertThat(fs.node("p").mode()).isEqualTo(0600);
    }, layer().file("p", "first", 0644).file("p", "second", 0600));
  }

  @Test
  void duplicatePathInOneLayer_dirThenFile_fileWins() throws IOException {
    check(fs -> {
      type(fs, "p", EntryType.FILE);
      absent(fs, "p/old");
    },
        layer().dir("p", 0755).file("p/old", "o", 0644),
        layer().dir("p", 0700).file("p", "f", 0644));
  }

  @Test
  void duplicatePathInOneLayer_fileThenDir_dirWinsWithoutLowerChildren() throws IOException {
    check(fs -> {
      type(fs, "p", EntryType.DIRECTORY);
      assertThat(fs.node("p").mode()).isEqualTo(0700);
      absent(fs, "p/old");
    },
        layer().dir("p", 0755).file("p/old", "o", 0644),
        layer().file("p", "f", 0644).dir("p", 0700));
  }

  // ---- hard links

  @Test
  void hardLinkWithinLayer_sharesInode() throws IOException {
    check(fs -> {
      assertThat(group(fs, "bin/ls")).containsExactly("bin/busybox", "bin/ls");
      assertThat(fs.node("bin/ls").mode()).isEqualTo(0755);
    }, layer().dir("bin", 0755).file("bin/busybox", "bb", 0755).hardlink("bin/ls", "bin/busybox"));
  }

  @Test
  void hardLinkAcrossLayers_sharesInode() throws IOException {
    check(fs -> assertThat(group(fs, "l")).containsExactly("f", "l"),
        layer().file("f", "x", 0644),
        layer().hardlink("l", "f"));
  }

  @Test
  void hardLinkToTargetLaterWhitedOut_survivesAsRegularFileWithOldContent() throws IOException {
    check(fs -> {
      absent(fs, "f");
      type(fs, "l", EntryType.FILE);
      content(fs, "l", "old");
      assertThat(fs.node("l").linkGroup()).isNull();
    },
        layer().file("f", "old", 0644).hardlink("l", "f"),
        layer().whiteout("f"));
  }

  @Test
  void twoLinksToWhitedOutTarget_becomeOneFileAndOneLinkToIt() throws IOException {
    check(fs -> {
      absent(fs, "f");
      assertThat(group(fs, "l1")).containsExactly("l1", "l2");
      content(fs, "l2", "old");
    },
        layer().file("f", "old", 0644).hardlink("l1", "f").hardlink("l2", "f"),
        layer().whiteout("f"));
  }

  @Test
  void hardLinkTargetOverwrittenByNewerLayer_linkKeepsOldContent() throws IOException {
    check(fs -> {
      content(fs, "f", "new");
      content(fs, "l", "old");
      assertThat(fs.node("l").linkGroup()).isNull();
    },
        layer().file("f", "old", 0644),
        layer().hardlink("l", "f"),
        layer().file("f", "new", 0644));
  }

  @Test
  void hardLinkToMissingTarget_isDroppedAndCounted() throws IOException {
    Outcome o = check(fs -> absent(fs, "l"),
        layer().file("f", "x", 0644),
        layer().hardlink("l", "missing"));
    assertThat(o.model().droppedLinks()).isEqualTo(1);
    assertThat(o.stats().droppedLinks()).isEqualTo(1);
  }

  // ---- names and metadata

  @Test
  void longNamesOver100And255Bytes_andLongLinkTargets() throws IOException {
    String dir100 = "d".repeat(60) + "/" + "e".repeat(60);
    String name255 = dir100 + "/" + "f".repeat(200);
    String target = "/usr/lib/" + "t".repeat(150);
    check(fs -> {
      content(fs, name255, "deep");
      assertThat(fs.node(dir100 + "/sym").symlinkTargetText()).isEqualTo(target);
      assertThat(group(fs, "hl")).containsExactly(name255, "hl");
    }, layer()
        .file(name255, "deep", 0644)
        .symlink(dir100 + "/sym", target)
        .hardlink("hl", name255));
  }

  @Test
  void xattrs_includingBinarySecurityCapability_survive() throws IOException {
    // cap_setgid,cap_setuid+ep, VFS_CAP_REVISION_2: 0xc0 is not valid UTF-8 on its own.
    byte[] cap = {0x01, 0x00, 0x00, 0x02, (byte) 0xc0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    check(fs -> {
      assertThat(fs.node("bin/newuidmap").xattrs().get("security.capability")).isEqualTo(cap);
      assertThat(fs.node("etc").xattrs().get("user.note")).isEqualTo("hi".getBytes(StandardCharsets.UTF_8));
    }, layer()
        .dir("etc", 0755).xattr("user.note", "hi")
        .file("bin/newuidmap", "x", 0755).xattr("security.capability", cap).xattr("user.text", "plain"));
  }

  @Test
  void fifoCharAndBlockDevices_survive() throws IOException {
    check(fs -> {
      type(fs, "dev/null", EntryType.CHAR_DEVICE);
      assertThat(fs.node("dev/null").devMajor()).isEqualTo(1);
      assertThat(fs.node("dev/null").devMinor()).isEqualTo(3);
      type(fs, "dev/sda1", EntryType.BLOCK_DEVICE);
      assertThat(fs.node("dev/sda1").devMinor()).isEqualTo(1);
      type(fs, "run/initctl", EntryType.FIFO);
    }, layer().dir("dev", 0755).charDevice("dev/null", 1, 3).blockDevice("dev/sda1", 8, 1).fifo("run/initctl", 0600));
  }

  @Test
  void setuidSetgidAndSticky_survive() throws IOException {
    check(fs -> {
      assertThat(fs.node("bin/su").mode()).isEqualTo(04755);
      assertThat(fs.node("usr/bin/wall").mode()).isEqualTo(02755);
      assertThat(fs.node("tmp").mode()).isEqualTo(01777);
    }, layer().file("bin/su", "su", 04755).file("usr/bin/wall", "w", 02755).dir("tmp", 01777));
  }

  @Test
  void uidAndGidAbove65535_andSubSecondMtime_survive() throws IOException {
    check(fs -> {
      assertThat(fs.node("home/u/f").uid()).isEqualTo(100_000);
      assertThat(fs.node("home/u/f").gid()).isEqualTo(3_000_000);
      assertThat(fs.node("home/u/f").mtimeNanos()).isEqualTo(250_000_000);
    }, layer().file("home/u/f", "x", 0644).owner(100_000, 3_000_000).mtime(1_700_000_000, 250_000_000));
  }

  @Test
  void nonUtf8Names_shortAndLong_surviveByteExact() throws IOException {
    byte[] shortName = {'c', 'a', 'f', (byte) 0xe9};
    byte[] longName = new byte[150];
    Arrays.fill(longName, (byte) 'n');
    longName[120] = (byte) 0xff;
    check(fs -> {
      assertThat(fs.nodes()).containsKey(EntryPath.of("dir").child(shortName));
      assertThat(fs.nodes()).containsKey(EntryPath.of("dir").child(longName));
    }, layer()
        .dir("dir", 0755)
        .rawEntry(concat("dir/", shortName), EntryType.FILE, 0644)
        .rawEntry(concat("dir/", longName), EntryType.FILE, 0644));
  }

  @Test
  void dotSlashPrefixedAbsoluteAndBarePaths_areTheSamePaths() throws IOException {
    check(fs -> {
      assertThat(fs.paths()).extracting(EntryPath::toString).containsExactly(".", "etc", "etc/group", "etc/passwd", "x");
      assertThat(fs.node("etc").mode()).isEqualTo(0700);
    }, layer()
        .rawEntry("./etc/", EntryType.DIRECTORY, 0755)
        .rawEntry("./etc/passwd", EntryType.FILE, 0644)
        .rawEntry("/x", EntryType.FILE, 0644),
        layer()
        .rawEntry("etc//group", EntryType.FILE, 0644)
        .rawEntry("etc/./", EntryType.DIRECTORY, 0700));
  }

  @Test
  void bareDotEntry_setsRootMetadata_newestWins() throws IOException {
    check(fs -> {
      assertThat(fs.node(".").mode()).isEqualTo(0750);
      content(fs, "a", "");
    },
        layer().rawEntry(".", EntryType.DIRECTORY, 0700).rawEntry("a", EntryType.FILE, 0644),
        layer().rawEntry("./", EntryType.DIRECTORY, 0750));
  }

  // ---- compressions

  @Test
  void multiMemberGzipLayer_isReadToTheEnd() throws IOException {
    LayerBuilder big = layer();
    for (int i = 0; i < 40; i++) {
      big.file("f" + i, ("content " + i).repeat(50), 0644);
    }
    check(fs -> content(fs, "f39", "content 39".repeat(50)),
        ImageBuilder.image().layer(big, Compression.GZIP_MULTI_MEMBER));
  }

  @Test
  void zstdBzip2XzAndPlainLayers_allDecode() throws IOException {
    check(fs -> {
      absent(fs, "a");
      content(fs, "b", "bzip2");
      content(fs, "c", "xz");
      content(fs, "d", "plain");
    }, ImageBuilder.image()
        .layer(layer().file("a", "zstd", 0644), Compression.ZSTD)
        .layer(layer().file("b", "bzip2", 0644).whiteout("a"), Compression.BZIP2)
        .layer(layer().file("c", "xz", 0644), Compression.XZ)
        .layer(layer().file("d", "plain", 0644), Compression.NONE));
  }

  // ---- errors

  @Test
  void escapingPath_failsNamingLayerAndEntry() {
    ImageBuilder image = ImageBuilder.of(
        layer().file("ok", "x", 0644),
        layer().rawEntry("../x", EntryType.FILE, 0644));
    assertThatThrownBy(() -> OverlayModel.apply(image.logicalLayers()))
        .isInstanceOf(OverlayModel.ModelException.class).hasMessageContaining("../x");
    List<LayerBlob> blobs = image.inMemoryBlobs();
    CollectingSink.Opener sinks = new CollectingSink.Opener();
    assertThatThrownBy(() -> OverlayMerge.run(blobs, sinks::open, MergeListener.NONE))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("../x")
        .satisfies(e -> assertThat(e.getMessage()).containsAnyOf(
            blobs.get(1).toString(), blobs.get(1).descriptor().digest().shortForm(), "layer 1"));
    for (CollectingSink s : sinks.opened()) {
      assertThat(s.isFinished()).as("no sink is finished after a failure").isFalse();
      assertThat(s.isClosed()).as("every sink is closed after a failure").isTrue();
    }
  }

  private static byte[] concat(String prefix, byte[] rest) {
    byte[] p = prefix.getBytes(StandardCharsets.UTF_8);
    byte[] out = Arrays.copyOf(p, p.length + rest.length);
    System.arraycopy(rest, 0, out, p.length, rest.length);
    return out;
  }
}
