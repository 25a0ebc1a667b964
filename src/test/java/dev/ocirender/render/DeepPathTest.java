package dev.ocirender.render;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ocirender.layer.EntryType;
import dev.ocirender.layer.LayerLimits;
import dev.ocirender.merge.MergeException;
import dev.ocirender.merge.MergeLimits;
import dev.ocirender.merge.MergeListener;
import dev.ocirender.merge.OverlayMerge;
import dev.ocirender.output.dir.DirectoryEntrySink;
import dev.ocirender.testing.ExternalTools;
import dev.ocirender.testing.ImageBuilder;
import dev.ocirender.testing.LayerBuilder;
import dev.ocirender.verify.FsModel;
import dev.ocirender.verify.FsReaders;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One file nested thousands of directories deep, rendered to every format on a thread with a small
 * stack: a walk that recursed on depth would throw {@link StackOverflowError} (the 256 KiB stack
 * holds a few thousand frames at most). Each output is read back by an independent tool (GNU tar,
 * unsquashfs) and by our own readers, which walk the same depth.
 *
 * <p>Depth 5 000 is the depth from issue #12; it is beyond the reader's default depth limit, so the
 * renders here raise it through {@link MergeLimits}, and one test checks that the default refuses it. A directory output is refused past Linux's PATH_MAX
 * (4 096 bytes) with a clear error, since it is written through absolute paths.
 */
class DeepPathTest {

  private static final int DEPTH = 5_000;
  private static final long SMALL_STACK = 256 * 1024;
  /** The reader's default depth limit (4 096) refuses DEPTH; the renders here raise it. */
  private static final MergeLimits DEEP = MergeLimits.DEFAULT.withLayer(LayerLimits.DEFAULT.withMaxPathDepth(DEPTH + 1));

  @TempDir Path tmp;

  /** "d/d/…/d" with {@code depth} components. */
  static String deepDir(int depth) {
    return Stream.generate(() -> "d").limit(depth).reduce((a, b) -> a + "/" + b).orElseThrow();
  }

  static ImageBuilder deepImage(int depth) {
    return ImageBuilder.of(LayerBuilder.layer().file(deepDir(depth) + "/leaf", "deep content", 0644));
  }

  @Test
  void tarOutput_deepPath_rendersAndGnuTarListsEveryLevel() throws Exception {
    Path out = tmp.resolve("deep.tar");
    onSmallStack(() -> render(deepImage(DEPTH), FileRenderTarget.of(out, OutputFormat.TAR)));
    ExternalTools.assumeTools("tar");
    List<String> listed = new String(ExternalTools.run(tmp, List.of("tar", "-tf", out.toString())), StandardCharsets.UTF_8)
        .lines().toList();
    // the root, DEPTH directories and the file
    assertThat(listed).hasSize(DEPTH + 2);
    assertThat(listed).contains(deepDir(DEPTH) + "/leaf");
    FsModel model = onSmallStack(() -> FsReaders.readTar(out, DEEP.layer()));
    assertThat(model.nodes()).hasSize(DEPTH + 2);
  }

  @Test
  void squashfsOutput_deepPath_rendersAndUnsquashfsAcceptsIt() throws Exception {
    Path out = tmp.resolve("deep.sqfs");
    onSmallStack(() -> render(deepImage(DEPTH), FileRenderTarget.of(out, OutputFormat.SQUASHFS)));
    // our reader walks the same depth, on the same small stack
    FsModel model = onSmallStack(() -> FsReaders.readSquashfs(out));
    assertThat(model.nodes()).hasSize(DEPTH + 2);
    assertThat(model.nodes().get(dev.ocirender.layer.EntryPath.of(deepDir(DEPTH) + "/leaf")).type()).isEqualTo(EntryType.FILE);
    ExternalTools.assumeTools("unsquashfs");
    String stat = new String(ExternalTools.run(tmp, List.of("unsquashfs", "-s", out.toString())), StandardCharsets.UTF_8);
    assertThat(stat).contains("Number of inodes " + (DEPTH + 2));
    // unsquashfs walks the whole directory tree (its own walk) and lists every path
    List<String> listed = new String(ExternalTools.run(tmp, List.of("unsquashfs", "-l", "-d", "", out.toString())),
        StandardCharsets.UTF_8).lines().filter(l -> !l.isEmpty()).toList();
    assertThat(listed).contains("/" + deepDir(DEPTH) + "/leaf");
    assertThat(listed.stream().filter(l -> l.startsWith("/d"))).hasSize(DEPTH + 1);
  }

  @Test
  void dirOutput_pathWithinPathMax_renders() throws Exception {
    int depth = 1_500; // 3 000-byte path
    Path out = tmp.resolve("rootfs");
    onSmallStack(() -> render(deepImage(depth), new DirectoryRenderTarget(out, false, DirectoryEntrySink.Options.rootless())));
    assertThat(Files.readString(out.resolve(deepDir(depth) + "/leaf"))).isEqualTo("deep content");
    // JUnit's own clean-up resolves the real path of every directory (quadratic on depth)
    onSmallStack(() -> {
      DirectoryRenderTarget.deleteTree(out);
      return null;
    });
  }

  @Test
  void dirOutput_pathBeyondPathMax_isRefusedClearlyAndLeavesNothing() throws Exception {
    Path out = tmp.resolve("rootfs");
    assertThatThrownBy(() -> onSmallStack(() -> render(deepImage(DEPTH),
            new DirectoryRenderTarget(out, false, DirectoryEntrySink.Options.rootless()))))
        .hasMessageContaining("directory output")
        .hasMessageContaining("4096");
    try (Stream<Path> left = Files.list(tmp)) {
      assertThat(left).isEmpty();
    }
  }

  @Test
  void defaultLimits_refuseTheDeepPathCleanlyAndLeaveNothing() throws Exception {
    Path out = tmp.resolve("deep.tar");
    assertThatThrownBy(() -> onSmallStack(() -> render(deepImage(DEPTH), FileRenderTarget.of(out, OutputFormat.TAR),
            MergeLimits.DEFAULT)))
        .isInstanceOf(MergeException.class)
        .hasMessageStartingWith("layer 0 ")
        .hasMessageContaining("entry 'd/d/d")
        .hasMessageContaining((DEPTH + 1) + " levels deep, beyond the limit of 4096")
        .satisfies(e -> assertThat(e.getMessage()).doesNotContain("\n").hasSizeLessThan(2_000));
    try (Stream<Path> left = Files.list(tmp)) {
      assertThat(left).isEmpty();
    }
  }

  private static Void render(ImageBuilder image, RenderTarget target) throws IOException {
    return render(image, target, DEEP);
  }

  private static Void render(ImageBuilder image, RenderTarget target, MergeLimits limits) throws IOException {
    try (target) {
      OverlayMerge.run(image.inMemoryBlobs(), target, MergeListener.NONE, limits);
      target.publish();
    }
    return null;
  }

  interface Work<T> {
    T run() throws Exception;
  }

  /** Runs {@code work} on a thread whose stack a depth-recursive walk would overflow. */
  static <T> T onSmallStack(Work<T> work) throws Exception {
    AtomicReference<T> result = new AtomicReference<>();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    Thread t = new Thread(null, () -> {
      try {
        result.set(work.run());
      } catch (Throwable e) {
        failure.set(e);
      }
    }, "small-stack", SMALL_STACK);
    t.start();
    t.join();
    Throwable e = failure.get();
    if (e instanceof Exception ex) {
      throw ex;
    }
    if (e instanceof Error err) {
      throw err;
    }
    return result.get();
  }
}
