package dev.ocirender.output.dir;

import static dev.ocirender.testing.LayerBuilder.layer;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ocirender.layer.EntryHeader;
import dev.ocirender.layer.EntryPath;
import dev.ocirender.layer.EntryType;
import dev.ocirender.merge.MergeListener;
import dev.ocirender.merge.OverlayMerge;
import dev.ocirender.render.DirectoryRenderTarget;
import dev.ocirender.testing.FsSnapshot;
import dev.ocirender.testing.ImageBuilder;
import dev.ocirender.testing.LayerBuilder;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Images are untrusted: a symlink, hard link or name planted by a layer must never make the
 * directory writer touch anything outside its root. Every test puts a sentinel tree next to the
 * output, runs a malicious stream, and requires the sentinel tree (and the directory around it) to
 * be exactly as before: the writer either wrote safely inside the root or failed with a clear error.
 *
 * <p>Two levels: the sink driven directly with crafted headers (it must be safe on its own, even
 * against streams the merge would never produce, such as a file below a symlink or names with
 * {@code ..}), and whole images through the merge and {@link DirectoryRenderTarget}.
 */
class DirectoryEscapeTest {

  @TempDir Path tmp;
  private Path outside;
  private Path root;
  private FsSnapshot before;
  private List<String> beforeListing;

  @BeforeEach
  void sentinel() throws IOException {
    outside = tmp.resolve("outside");
    Files.createDirectories(outside.resolve("etc"));
    Files.writeString(outside.resolve("etc/passwd"), "root:x:0:0\n");
    Files.writeString(outside.resolve("sentinel.txt"), "untouched");
    root = tmp.resolve("root");
    Files.createDirectory(root);
    before = FsSnapshot.fromDirectory(outside, true);
    beforeListing = listing();
  }

  private void assertOutsideUnchanged() throws IOException {
    before.assertMatches(FsSnapshot.fromDirectory(outside, true), FsSnapshot.Compare.EXACT);
    assertThat(Files.getAttribute(outside.resolve("sentinel.txt"), "unix:nlink")).as("no hard link to a file outside").isEqualTo(1);
    List<String> now = listing();
    now.remove("out"); // the render target itself; no staging directory may remain beside it
    assertThat(now).as("names next to the output").isEqualTo(beforeListing);
  }

  private List<String> listing() throws IOException {
    try (Stream<Path> s = Files.list(tmp)) {
      return new java.util.ArrayList<>(s.map(p -> p.getFileName().toString()).sorted().toList());
    }
  }

  // ---- the sink on its own, with crafted headers

  private static EntryHeader dir(EntryPath p) {
    return EntryHeader.builder(EntryType.DIRECTORY, p).mode(0755).build();
  }

  private static EntryHeader symlink(EntryPath p, String target) {
    return EntryHeader.builder(EntryType.SYMLINK, p).mode(0777).symlinkTarget(target.getBytes(StandardCharsets.UTF_8)).build();
  }

  private static EntryHeader hardlink(EntryPath p, EntryPath target) {
    return EntryHeader.builder(EntryType.HARDLINK, p).mode(0644).linkTarget(target).build();
  }

  private static void file(DirectoryEntrySink sink, EntryPath p, String content) throws IOException {
    byte[] b = content.getBytes(StandardCharsets.UTF_8);
    sink.accept(EntryHeader.builder(EntryType.FILE, p).mode(0644).size(b.length).build(), new ByteArrayInputStream(b));
  }

  private static EntryPath raw(String... components) {
    EntryPath p = EntryPath.ROOT;
    for (String c : components) {
      p = p.child(c.getBytes(StandardCharsets.UTF_8));
    }
    return p;
  }

  /** How the writer works: direct Linux calls here, the path-and-tools fallback in {@link DirectoryEscapeFallbackTest}. */
  DirectoryEntrySink.Options options() {
    return DirectoryEntrySink.Options.detect();
  }

  private DirectoryEntrySink sink() throws IOException {
    return new DirectoryEntrySink(root, options());
  }

  @Test
  void sink_absoluteSymlinkThenFileThroughIt_isRefused() throws IOException {
    try (DirectoryEntrySink sink = sink()) {
      sink.accept(symlink(EntryPath.of("etc"), outside.resolve("etc").toString()), null);
      assertThatThrownBy(() -> file(sink, EntryPath.of("etc/passwd"), "pwned"))
          .isInstanceOf(IOException.class).hasMessageContaining("etc").hasMessageContaining("not a directory");
      assertThatThrownBy(() -> file(sink, EntryPath.of("etc/newfile"), "pwned")).isInstanceOf(IOException.class);
    }
    assertOutsideUnchanged();
  }

  @Test
  void sink_relativeDotDotChainOfSymlinks_isRefused() throws IOException {
    try (DirectoryEntrySink sink = sink()) {
      sink.accept(symlink(EntryPath.of("up"), ".."), null);
      sink.accept(symlink(EntryPath.of("a"), "up/outside"), null);
      sink.accept(symlink(EntryPath.of("b"), "../../../../../../" + outside.toString().substring(1)), null);
      assertThatThrownBy(() -> file(sink, EntryPath.of("a/sentinel.txt"), "pwned")).isInstanceOf(IOException.class);
      assertThatThrownBy(() -> file(sink, EntryPath.of("b/new"), "pwned")).isInstanceOf(IOException.class);
      assertThatThrownBy(() -> sink.accept(dir(EntryPath.of("up/outside/d")), null)).isInstanceOf(IOException.class);
      assertThatThrownBy(() -> sink.accept(EntryHeader.builder(EntryType.FIFO, EntryPath.of("a/fifo")).mode(0644).build(), null))
          .isInstanceOf(IOException.class);
    }
    assertOutsideUnchanged();
  }

  @Test
  void sink_symlinkToDirectoryThenHardLinkThroughIt_isRefused() throws IOException {
    try (DirectoryEntrySink sink = sink()) {
      sink.accept(symlink(EntryPath.of("d"), outside.toString()), null);
      assertThatThrownBy(() -> sink.accept(hardlink(EntryPath.of("x"), EntryPath.of("d/sentinel.txt")), null))
          .isInstanceOf(IOException.class).hasMessageContaining("not an earlier non-directory entry inside the root");
      // A hard link to the symlink itself links the symlink inode, which is inside.
      sink.accept(hardlink(EntryPath.of("y"), EntryPath.of("d")), null);
      assertThat(Files.isSymbolicLink(root.resolve("y"))).isTrue();
    }
    assertOutsideUnchanged();
  }

  @Test
  void sink_symlinkLaterArrivingAsDirectory_isRefusedAndNotFollowed() throws IOException {
    try (DirectoryEntrySink sink = sink()) {
      sink.accept(symlink(EntryPath.of("s"), outside.toString()), null);
      assertThatThrownBy(() -> sink.accept(dir(EntryPath.of("s")), null)).isInstanceOf(IOException.class).hasMessageContaining("already exists");
      assertThatThrownBy(() -> file(sink, EntryPath.of("s/f"), "pwned")).isInstanceOf(IOException.class);
      // The same name as a file: O_EXCL fails on the symlink rather than writing through it.
      assertThatThrownBy(() -> file(sink, EntryPath.of("s"), "pwned")).isInstanceOf(IOException.class);
    }
    assertOutsideUnchanged();
  }

  @Test
  void sink_hardLinkToTargetOutside_isRefused() throws IOException {
    try (DirectoryEntrySink sink = sink()) {
      file(sink, EntryPath.of("inside"), "i");
      assertThatThrownBy(() -> sink.accept(hardlink(EntryPath.of("x"), raw("..", "outside", "sentinel.txt")), null))
          .isInstanceOf(IOException.class).hasMessageContaining("'..'");
      assertThatThrownBy(() -> sink.accept(hardlink(EntryPath.of("y"), raw(outside.resolve("sentinel.txt").toString())), null))
          .isInstanceOf(IOException.class);
      assertThatThrownBy(() -> sink.accept(hardlink(EntryPath.of("z"), EntryPath.of("missing")), null))
          .isInstanceOf(IOException.class).hasMessageContaining("does not exist");
    }
    assertOutsideUnchanged();
  }

  @Test
  void sink_pathsWithDotDotOrAbsoluteComponents_areRefused() throws IOException {
    try (DirectoryEntrySink sink = sink()) {
      assertThatThrownBy(() -> file(sink, raw("..", "outside", "evil"), "pwned")).isInstanceOf(IOException.class).hasMessageContaining("'..'");
      assertThatThrownBy(() -> file(sink, raw("a", "..", "..", "outside", "evil"), "pwned")).isInstanceOf(IOException.class);
      assertThatThrownBy(() -> file(sink, raw(outside.resolve("evil").toString()), "pwned")).isInstanceOf(IOException.class);
      assertThatThrownBy(() -> sink.accept(dir(raw("..")), null)).isInstanceOf(IOException.class);
      assertThatThrownBy(() -> sink.accept(symlink(raw("..", "s"), "/"), null)).isInstanceOf(IOException.class);
    }
    assertOutsideUnchanged();
    assertThat(Files.exists(root.resolve("a"))).as("nothing made for a refused path").isFalse();
  }

  @Test
  void sink_safeEntriesAroundAttacks_stillLandInside() throws IOException {
    try (DirectoryEntrySink sink = sink()) {
      sink.accept(symlink(EntryPath.of("etc"), "/"), null);
      file(sink, EntryPath.of("usr/bin/sh"), "sh");
      sink.accept(dir(EntryPath.of("usr")), null);
      sink.accept(dir(EntryPath.of("usr/bin")), null);
      sink.accept(dir(EntryPath.ROOT), null);
      sink.finish();
    }
    assertThat(Files.readString(root.resolve("usr/bin/sh"))).isEqualTo("sh");
    assertThat(Files.readSymbolicLink(root.resolve("etc")).toString()).isEqualTo("/");
    assertOutsideUnchanged();
  }

  // ---- whole images through the merge and the render target

  private Path renderImage(LayerBuilder... layers) throws IOException {
    Path out = tmp.resolve("out");
    try (DirectoryRenderTarget target = new DirectoryRenderTarget(out, false, options())) {
      OverlayMerge.run(ImageBuilder.of(layers).inMemoryBlobs(), target, MergeListener.NONE);
      target.publish();
    }
    return out;
  }

  @Test
  void image_absoluteSymlinkThenFileBelowIt_isWrittenInsideAsADirectory() throws IOException {
    Path out = renderImage(
        layer().symlink("etc", outside.resolve("etc").toString()),
        layer().file("etc/passwd", "image passwd", 0644));
    assertThat(Files.isDirectory(out.resolve("etc"), LinkOption.NOFOLLOW_LINKS)).isTrue();
    assertThat(Files.readString(out.resolve("etc/passwd"))).isEqualTo("image passwd");
    assertOutsideUnchanged();
  }

  @Test
  void image_relativeChainInOneLayer_isWrittenInside() throws IOException {
    Path out = renderImage(layer()
        .symlink("up", "..")
        .symlink("a", "up/outside")
        .file("a/sentinel.txt", "image", 0644)
        .symlink("b", "../../../../" + outside.toString().substring(1)));
    assertThat(Files.readString(out.resolve("a/sentinel.txt"))).isEqualTo("image");
    assertThat(Files.isSymbolicLink(out.resolve("b"))).isTrue();
    assertOutsideUnchanged();
  }

  @Test
  void image_hardLinkThroughSymlinkedDirectory_isDroppedNotFollowed() throws IOException {
    Path out = renderImage(
        layer().symlink("d", outside.toString()),
        layer().hardlink("x", "d/sentinel.txt"));
    assertThat(Files.exists(out.resolve("x"), LinkOption.NOFOLLOW_LINKS)).isFalse();
    assertOutsideUnchanged();
  }

  @Test
  void image_symlinkTurnedIntoDirectoryByLaterLayer_holdsItsFilesInside() throws IOException {
    Path out = renderImage(
        layer().symlink("s", outside.toString()),
        layer().dir("s", 0755).file("s/sentinel.txt", "image", 0644));
    assertThat(Files.isDirectory(out.resolve("s"), LinkOption.NOFOLLOW_LINKS)).isTrue();
    assertThat(Files.readString(out.resolve("s/sentinel.txt"))).isEqualTo("image");
    assertOutsideUnchanged();
  }

  @Test
  void image_hardLinkWithEscapingTarget_failsAndLeavesNothing() throws IOException {
    LayerBuilder evil = layer().file("ok", "x", 0644).rawEntry(new LayerBuilder.Entry(
        "x".getBytes(StandardCharsets.UTF_8), EntryType.HARDLINK, 0644, 0, 0, LayerBuilder.DEFAULT_MTIME, 0, null, null,
        "../outside/sentinel.txt".getBytes(StandardCharsets.UTF_8), 0, 0, java.util.Map.of()));
    assertThatThrownBy(() -> renderImage(evil)).isInstanceOf(IOException.class).hasMessageContaining("../outside/sentinel.txt");
    assertThat(tmp.resolve("out")).doesNotExist();
    assertThat(listing()).noneMatch(n -> n.startsWith(".out.tmp-"));
    assertOutsideUnchanged();
  }

  @Test
  void image_pathWithDotDotComponents_failsAndLeavesNothing() throws IOException {
    assertThatThrownBy(() -> renderImage(layer().file("ok", "x", 0644).rawEntry("a/../../outside/evil", EntryType.FILE, 0644)))
        .isInstanceOf(IOException.class).hasMessageContaining("../outside/evil");
    assertThat(tmp.resolve("out")).doesNotExist();
    assertThat(listing()).noneMatch(n -> n.startsWith(".out.tmp-"));
    assertOutsideUnchanged();
  }
}
