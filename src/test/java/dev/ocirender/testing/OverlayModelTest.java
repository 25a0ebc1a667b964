package dev.ocirender.testing;

import static dev.ocirender.testing.LayerBuilder.layer;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ocirender.layer.EntryPath;
import dev.ocirender.layer.EntryType;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** Each rule of the model, on layers small enough that the expectation is computed by hand. */
class OverlayModelTest {

  private static FsSnapshot model(LayerBuilder... layers) {
    return OverlayModel.of(layers).snapshot();
  }

  private static void assertImpliedDirectory(FsSnapshot fs, String path) {
    FsSnapshot.Node n = fs.node(path);
    assertThat(n.type()).as(path).isEqualTo(EntryType.DIRECTORY);
    assertThat(n.mode()).as(path + " mode").isEqualTo(0755);
    assertThat(n.uid()).isZero();
    assertThat(n.gid()).isZero();
    assertThat(n.mtimeSeconds()).as(path + " mtime").isZero();
  }

  // a) paths

  @Test
  void paths_areNormalised() {
    FsSnapshot fs = model(layer()
        .rawEntry("./a", EntryType.FILE, 0644)
        .rawEntry("/b", EntryType.FILE, 0644)
        .rawEntry("c//d", EntryType.FILE, 0644)
        .rawEntry("e/./f/", EntryType.DIRECTORY, 0700)
        .rawEntry("g/../h", EntryType.FILE, 0644));
    assertThat(fs.paths()).extracting(EntryPath::toString)
        .containsExactly(".", "a", "b", "c", "c/d", "e", "e/f", "h");
    assertThat(fs.node("e/f").mode()).isEqualTo(0700);
  }

  @Test
  void escapingPath_failsNamingLayerAndEntry() {
    assertThatThrownBy(() -> model(layer().file("ok", "x", 0644), layer().rawEntry("a/../../x", EntryType.FILE, 0644)))
        .isInstanceOf(OverlayModel.ModelException.class)
        .hasMessageContaining("layer 1")
        .hasMessageContaining("a/../../x");
  }

  @Test
  void escapingHardLinkTarget_fails() {
    LayerBuilder l = layer().rawEntry(new LayerBuilder.Entry("l".getBytes(StandardCharsets.UTF_8), EntryType.HARDLINK,
        0644, 0, 0, 0, 0, null, null, "../etc/passwd".getBytes(StandardCharsets.UTF_8), 0, 0, java.util.Map.of()));
    assertThatThrownBy(() -> model(l)).isInstanceOf(OverlayModel.ModelException.class).hasMessageContaining("layer 0");
  }

  @Test
  void root_defaultsTo0755RootOwnedMtimeZero() {
    FsSnapshot fs = model(layer().file("a", "x", 0644));
    assertImpliedDirectory(fs, ".");
  }

  @Test
  void rootEntry_onlySetsRootMetadata_newestWins() {
    FsSnapshot fs = model(
        layer().rawEntry(".", EntryType.DIRECTORY, 0700).file("a", "x", 0644),
        layer().rawEntry("./", EntryType.DIRECTORY, 0750).xattr("user.k", "v"));
    assertThat(fs.node(".").mode()).isEqualTo(0750);
    assertThat(fs.node(".").xattrs()).containsKey("user.k");
    assertThat(fs.has("a")).isTrue(); // a root entry is not a replacement of the tree
  }

  // b) whiteouts

  @Test
  void whiteout_removesPathAndItsTree() {
    FsSnapshot fs = model(
        layer().dir("a", 0755).file("a/b", "1", 0644).dir("a/c", 0755).file("a/c/d", "2", 0644).file("a/e", "3", 0644),
        layer().whiteout("a/c").whiteout("a/b"));
    assertThat(fs.paths()).extracting(EntryPath::toString).containsExactly(".", "a", "a/e");
  }

  @Test
  void opaque_removesOlderChildren_keepsDirectoryAndItsOlderMetadata() {
    FsSnapshot fs = model(
        layer().dir("a", 0700).file("a/x", "1", 0644).dir("a/y", 0755).file("a/y/z", "2", 0644),
        layer().opaque("a").file("a/new", "3", 0644));
    assertThat(fs.paths()).extracting(EntryPath::toString).containsExactly(".", "a", "a/new");
    assertThat(fs.node("a").mode()).isEqualTo(0700);
    assertThat(fs.node("a").mtimeSeconds()).isEqualTo(LayerBuilder.DEFAULT_MTIME);
  }

  @Test
  void opaque_withSameLayerDirectoryEntry_takesItsMetadata_inEitherOrder() {
    LayerBuilder base = layer().dir("a", 0700).file("a/x", "1", 0644);
    FsSnapshot before = model(base, layer().dir("a", 0751).opaque("a"));
    FsSnapshot after = model(base, layer().opaque("a").dir("a", 0751));
    for (FsSnapshot fs : new FsSnapshot[] {before, after}) {
      assertThat(fs.paths()).extracting(EntryPath::toString).containsExactly(".", "a");
      assertThat(fs.node("a").mode()).isEqualTo(0751);
    }
  }

  @Test
  void whiteouts_neverRemoveEntriesOfTheirOwnLayer_whateverTheOrder() {
    LayerBuilder base = layer().file("f", "old", 0644).dir("d", 0755).file("d/old", "o", 0644);
    FsSnapshot whiteoutFirst = model(base, layer().whiteout("f").file("f", "new", 0644).opaque("d").file("d/new", "n", 0644));
    FsSnapshot whiteoutLast = model(base, layer().file("f", "new", 0644).whiteout("f").file("d/new", "n", 0644).opaque("d"));
    for (FsSnapshot fs : new FsSnapshot[] {whiteoutFirst, whiteoutLast}) {
      assertThat(fs.node("f").hasContent("new")).isTrue();
      assertThat(fs.has("d/new")).isTrue();
      assertThat(fs.has("d/old")).isFalse();
    }
  }

  @Test
  void whiteout_impliesParents_evenWhenNothingWasThere() {
    FsSnapshot fs = model(layer().file("x", "1", 0644), layer().whiteout("a/b/c"));
    assertImpliedDirectory(fs, "a");
    assertImpliedDirectory(fs, "a/b");
    assertThat(fs.has("a/b/c")).isFalse();
  }

  @Test
  void whiteout_parentThatIsAFile_becomesADirectory() {
    FsSnapshot fs = model(layer().file("a", "1", 0644), layer().whiteout("a/b"));
    assertImpliedDirectory(fs, "a");
  }

  @Test
  void whiteoutOfAPath_andAWhiteoutBelowIt_inOneLayer_leaveAnImpliedDirectory() {
    LayerBuilder base = layer().dir("a", 0700).file("a/b", "1", 0644).file("a/c", "2", 0644);
    for (LayerBuilder top : new LayerBuilder[] {
        layer().whiteout("a").whiteout("a/b"), layer().whiteout("a/b").whiteout("a")}) {
      FsSnapshot fs = model(base, top);
      assertThat(fs.paths()).extracting(EntryPath::toString).containsExactly(".", "a");
      assertImpliedDirectory(fs, "a");
    }
  }

  @Test
  void aufsMetadataNames_areIgnoredAltogether() {
    FsSnapshot fs = model(
        layer().file("keep", "1", 0644),
        layer().rawEntry(".wh..wh.plnk", EntryType.DIRECTORY, 0700).rawEntry("x/.wh..wh.aufs", EntryType.FILE, 0644));
    assertThat(fs.paths()).extracting(EntryPath::toString).containsExactly(".", "keep");
  }

  @Test
  void olderWhiteout_doesNotCancelNewerOne() {
    FsSnapshot fs = model(
        layer().dir("dir", 0755).file("dir/old", "o", 0644),
        layer().dir("dir", 0755).opaque("dir").file("dir/foo", "f", 0644),
        layer().whiteout("dir"));
    assertThat(fs.has("dir")).isFalse();
  }

  @Test
  void newerWhiteout_belowOlderOpaque_stillApplies() {
    FsSnapshot fs = model(
        layer().dir("a", 0755).file("a/b", "0", 0644).file("a/c", "0", 0644),
        layer().opaque("a").file("a/b", "1", 0644).file("a/d", "1", 0644),
        layer().whiteout("a/b"));
    assertThat(fs.paths()).extracting(EntryPath::toString).containsExactly(".", "a", "a/d");
  }

  // c) entries of the layer

  @Test
  void nonDirectoryWithChildrenInItsLayer_becomesImpliedDirectory_keepsLayerChildren_dropsOlder() {
    FsSnapshot fs = model(
        layer().dir("a", 0700).file("a/old", "o", 0644),
        layer().file("a", "i am a file", 0644).file("a/new", "n", 0644));
    assertThat(fs.paths()).extracting(EntryPath::toString).containsExactly(".", "a", "a/new");
    assertImpliedDirectory(fs, "a");
  }

  @Test
  void nonDirectoryWithChildrenInItsLayer_takesLastDirectoryEntryOfThatLayer() {
    FsSnapshot childFirst = model(layer().file("a/new", "n", 0644).symlink("a", "x").dir("a", 0711).dir("a", 0713));
    FsSnapshot dirFirst = model(layer().dir("a", 0711).dir("a", 0713).file("a/new", "n", 0644).symlink("a", "x"));
    for (FsSnapshot fs : new FsSnapshot[] {childFirst, dirFirst}) {
      assertThat(fs.node("a").type()).isEqualTo(EntryType.DIRECTORY);
      assertThat(fs.node("a").mode()).isEqualTo(0713);
      assertThat(fs.has("a/new")).isTrue();
    }
  }

  @Test
  void nonDirectoryWithChildrenInItsLayer_olderIntermediateDirectoriesAreImpliedAnew() {
    FsSnapshot fs = model(
        layer().dir("a", 0700).dir("a/b", 0700).file("a/b/old", "o", 0644),
        layer().file("a/b/new", "n", 0644).file("a", "f", 0644));
    assertThat(fs.paths()).extracting(EntryPath::toString).containsExactly(".", "a", "a/b", "a/b/new");
    assertImpliedDirectory(fs, "a");
    assertImpliedDirectory(fs, "a/b");
  }

  @Test
  void directoryOverDirectory_changesMetadataOnly() {
    FsSnapshot fs = model(
        layer().dir("d", 0700, 1, 1, 10).file("d/x", "1", 0644),
        layer().dir("d", 0750, 2, 2, 20).xattr("user.a", "b"));
    assertThat(fs.has("d/x")).isTrue();
    FsSnapshot.Node d = fs.node("d");
    assertThat(d.mode()).isEqualTo(0750);
    assertThat(d.uid()).isEqualTo(2);
    assertThat(d.mtimeSeconds()).isEqualTo(20);
    assertThat(d.xattrs()).containsOnlyKeys("user.a");
  }

  @Test
  void directoryOverNonDirectory_replacesItWithAnEmptyDirectory() {
    FsSnapshot fs = model(layer().symlink("s", "target"), layer().dir("s", 0700));
    assertThat(fs.node("s").type()).isEqualTo(EntryType.DIRECTORY);
    assertThat(fs.node("s").mode()).isEqualTo(0700);
  }

  @Test
  void nonDirectory_replacesAWholeTree_withoutWhiteout() {
    FsSnapshot fs = model(
        layer().dir("d", 0755).dir("d/e", 0755).file("d/e/f", "1", 0644),
        layer().symlink("d", "elsewhere"));
    assertThat(fs.paths()).extracting(EntryPath::toString).containsExactly(".", "d");
    assertThat(fs.node("d").symlinkTargetText()).isEqualTo("elsewhere");
  }

  @Test
  void impliedParents_areDefaultDirectories_andReplaceNonDirectories() {
    FsSnapshot fs = model(layer().file("a", "1", 0600), layer().file("a/b/c", "2", 0644));
    assertImpliedDirectory(fs, "a");
    assertImpliedDirectory(fs, "a/b");
    assertThat(fs.node("a/b/c").hasContent("2")).isTrue();
  }

  @Test
  void existingDirectoryUsedAsParent_keepsItsMetadata() {
    FsSnapshot fs = model(layer().dir("a", 0700, 0, 0, 5), layer().file("a/b", "2", 0644));
    assertThat(fs.node("a").mode()).isEqualTo(0700);
    assertThat(fs.node("a").mtimeSeconds()).isEqualTo(5);
  }

  @Test
  void samePathTwiceInOneLayer_laterWins() {
    FsSnapshot fileFile = model(layer().file("p", "first", 0644).file("p", "second", 0600));
    assertThat(fileFile.node("p").hasContent("second")).isTrue();
    assertThat(fileFile.node("p").mode()).isEqualTo(0600);

    FsSnapshot dirFile = model(layer().dir("p", 0700).file("p", "f", 0644));
    assertThat(dirFile.node("p").type()).isEqualTo(EntryType.FILE);

    FsSnapshot fileDir = model(layer().dir("p", 0755).file("p/old", "o", 0644),
        layer().file("p", "f", 0644).dir("p", 0700));
    assertThat(fileDir.node("p").type()).isEqualTo(EntryType.DIRECTORY);
    assertThat(fileDir.node("p").mode()).isEqualTo(0700);
    assertThat(fileDir.has("p/old")).as("the file removed the older tree before the directory came").isFalse();
  }

  // c) hard links

  @Test
  void hardLink_sharesTheInode_ignoringTheLinkEntrysOwnMetadata() {
    FsSnapshot fs = model(layer()
        .file("f", "content".getBytes(StandardCharsets.UTF_8), 04750, 7, 8, 99)
        .hardlink("l", "f"));
    assertThat(fs.linkGroupOf("l")).extracting(EntryPath::toString).containsExactly("f", "l");
    FsSnapshot.Node l = fs.node("l");
    assertThat(l.type()).isEqualTo(EntryType.FILE);
    assertThat(l.mode()).isEqualTo(04750);
    assertThat(l.uid()).isEqualTo(7);
    assertThat(l.mtimeSeconds()).isEqualTo(99);
    assertThat(l.hasContent("content")).isTrue();
  }

  @Test
  void hardLink_toMissingTargetOrDirectory_isDroppedAndCounted() {
    OverlayModel.Result r = OverlayModel.of(layer().dir("d", 0755).hardlink("l1", "missing").hardlink("l2", "d"));
    assertThat(r.droppedLinks()).isEqualTo(2);
    assertThat(r.snapshot().has("l1")).isFalse();
    assertThat(r.snapshot().has("l2")).isFalse();
  }

  @Test
  void droppedHardLink_stillReplacesWhatWasAtItsPath() {
    OverlayModel.Result r = OverlayModel.of(layer().file("l", "old", 0644), layer().hardlink("l", "missing"));
    assertThat(r.droppedLinks()).isEqualTo(1);
    assertThat(r.snapshot().paths()).doesNotContain(EntryPath.of("l"));
  }

  @Test
  void hardLinkToAHardLink_isTheSameInode() {
    FsSnapshot fs = model(layer().file("f", "x", 0644), layer().hardlink("l1", "f").hardlink("l2", "./l1"));
    assertThat(fs.linkGroupOf("f")).extracting(EntryPath::toString).containsExactly("f", "l1", "l2");
  }

  @Test
  void hardLinkToSymlinkFifoOrDevice_isAllowed() {
    FsSnapshot fs = model(layer().symlink("s", "t").fifo("p", 0600).charDevice("c", 1, 3)
        .hardlink("s2", "s").hardlink("p2", "p").hardlink("c2", "c"));
    assertThat(fs.node("s2").type()).isEqualTo(EntryType.SYMLINK);
    assertThat(fs.node("s2").symlinkTargetText()).isEqualTo("t");
    assertThat(fs.node("p2").type()).isEqualTo(EntryType.FIFO);
    assertThat(fs.node("c2").devMinor()).isEqualTo(3);
    assertThat(fs.linkGroupOf("c")).hasSize(2);
  }

  @Test
  void hardLink_keepsTheOldInode_whenTheTargetIsReplacedOrWhitedOut() {
    FsSnapshot replaced = model(layer().file("f", "old", 0644).hardlink("l", "f"), layer().file("f", "new", 0644));
    assertThat(replaced.node("l").hasContent("old")).isTrue();
    assertThat(replaced.node("f").hasContent("new")).isTrue();
    assertThat(replaced.node("l").linkGroup()).isNull();

    FsSnapshot whitedOut = model(layer().file("f", "old", 0644).hardlink("l1", "f").hardlink("l2", "f"),
        layer().whiteout("f"));
    assertThat(whitedOut.has("f")).isFalse();
    assertThat(whitedOut.linkGroupOf("l1")).extracting(EntryPath::toString).containsExactly("l1", "l2");
    assertThat(whitedOut.node("l2").hasContent("old")).isTrue();
  }

  @Test
  void hardLink_seesSameLayerWhiteoutsAndEarlierEntries_butNotLaterOnes() {
    OverlayModel.Result afterWhiteout = OverlayModel.of(layer().file("f", "old", 0644),
        layer().hardlink("l", "f").whiteout("f"));
    assertThat(afterWhiteout.droppedLinks()).isEqualTo(1);
    assertThat(afterWhiteout.snapshot().has("l")).isFalse();

    OverlayModel.Result earlier = OverlayModel.of(layer().file("f", "new", 0644).hardlink("l", "f"));
    assertThat(earlier.snapshot().linkGroupOf("l")).hasSize(2);

    OverlayModel.Result later = OverlayModel.of(layer().hardlink("l", "f").file("f", "new", 0644));
    assertThat(later.droppedLinks()).isEqualTo(1);
    assertThat(later.snapshot().has("l")).isFalse();
  }

  @Test
  void hardLink_bindsBeforeItsOwnImpliedParentsReplaceTheTarget() {
    // a/b -> a, with a an older file: the link takes a's inode, then a becomes a directory.
    FsSnapshot fs = model(layer().file("a", "was a file", 0644), layer().hardlink("a/b", "a"));
    assertImpliedDirectory(fs, "a");
    assertThat(fs.node("a/b").hasContent("was a file")).isTrue();
  }

  // d) metadata

  @Test
  void metadata_survives() {
    byte[] cap = {0x01, 0x00, 0x00, 0x02, (byte) 0xc0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    FsSnapshot fs = model(layer()
        .file("bin/su", "su".getBytes(StandardCharsets.UTF_8), 04755, 70_000, 3_000_000, 1234).mtime(1234, 500)
        .xattr("security.capability", cap)
        .dir("tmp", 01777)
        .charDevice("dev/null", 1, 3)
        .blockDevice("dev/sda", 8, 0)
        .fifo("run/fifo", 0620)
        .symlink("link", "../../some/where"));
    FsSnapshot.Node su = fs.node("bin/su");
    assertThat(su.mode()).isEqualTo(04755);
    assertThat(su.uid()).isEqualTo(70_000);
    assertThat(su.gid()).isEqualTo(3_000_000);
    assertThat(su.mtimeNanos()).isEqualTo(500);
    assertThat(su.xattrs().get("security.capability")).isEqualTo(cap);
    assertThat(fs.node("tmp").mode()).isEqualTo(01777);
    assertThat(fs.node("dev/null").type()).isEqualTo(EntryType.CHAR_DEVICE);
    assertThat(fs.node("dev/sda").devMajor()).isEqualTo(8);
    assertThat(fs.node("run/fifo").type()).isEqualTo(EntryType.FIFO);
    assertThat(fs.node("link").symlinkTargetText()).isEqualTo("../../some/where");
  }
}
