package dev.ocirender.merge;

import dev.ocirender.layer.EntryType;
import dev.ocirender.testing.CollectingSink;
import dev.ocirender.testing.Compression;
import dev.ocirender.testing.FsSnapshot;
import dev.ocirender.testing.ImageBuilder;
import dev.ocirender.testing.LayerBuilder;
import dev.ocirender.testing.OverlayModel;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;

/**
 * Differential test: on random layer stacks, the streaming merge must produce exactly what the
 * oldest-first {@link OverlayModel} produces.
 *
 * <p>Paths come from a tiny alphabet ({@code a}, {@code b}, {@code c}, at most three deep, shallow
 * ones more likely) so that replacements, whiteouts of existing paths, hard links to existing (or
 * missing) targets, non-directories with children in their own layer, and within-layer duplicates
 * ({@link Kind#REPEAT}) all happen often. Every entry gets distinct content and mtime, so taking
 * metadata or content from the wrong layer shows. Layers are uncompressed to keep 5000 tries fast;
 * decoding is covered by the scenario tests. Hard links to their own path are not generated: the
 * contract does not say whether such a link first removes its own target.
 */
class OverlayMergeDifferentialTest {

  enum Kind { FILE, DIR, SYMLINK, HARDLINK, LINK_EARLIER, WHITEOUT, OPAQUE, FIFO, ROOT, REPEAT }

  /**
   * One generated entry. REPEAT re-uses the previous entry's path with a file or directory;
   * LINK_EARLIER links to the first or second most recent non-directory written so far in any layer,
   * so that links that survive (rather than dangle) are common.
   */
  record Op(Kind kind, String path, String target, int variant) {
    @Override
    public String toString() {
      return switch (kind) {
        case HARDLINK -> "HARDLINK " + path + " => " + target;
        case LINK_EARLIER -> "LINK_EARLIER " + path + " => earlier non-directory #" + (variant % 2);
        case ROOT -> "ROOT v" + variant;
        case REPEAT -> "REPEAT " + (variant % 2 == 0 ? "file" : "dir") + " v" + variant;
        default -> kind + " " + (path.isEmpty() ? "." : path) + " v" + variant;
      };
    }
  }

  @Property(tries = 5000)
  void streamingMerge_equalsOldestFirstModel(@ForAll("stacks") List<List<Op>> stack) throws IOException {
    ImageBuilder image = toImage(stack);
    FsSnapshot expected = OverlayModel.apply(image.logicalLayers()).snapshot();
    CollectingSink.Opener sinks = new CollectingSink.Opener();
    OverlayMerge.run(image.inMemoryBlobs(), sinks::open, MergeListener.NONE);
    FsSnapshot actual = sinks.result().snapshot();
    try {
      expected.assertMatches(actual, FsSnapshot.Compare.EXACT);
    } catch (AssertionError e) {
      StringBuilder layers = new StringBuilder();
      for (int i = 0; i < stack.size(); i++) {
        layers.append("  layer ").append(i).append(": ").append(stack.get(i)).append('\n');
      }
      throw new AssertionError("merge differs from the model for layers (oldest first)\n" + layers + e.getMessage(), e);
    }
  }

  @Provide
  Arbitrary<List<List<Op>>> stacks() {
    Arbitrary<String> name = Arbitraries.of("a", "b", "c");
    Arbitrary<String> path = Arbitraries.frequencyOf(
        Tuple.of(4, name),
        Tuple.of(3, Combinators.combine(name, name).as((x, y) -> x + "/" + y)),
        Tuple.of(2, Combinators.combine(name, name, name).as((x, y, z) -> x + "/" + y + "/" + z)));
    Arbitrary<Integer> variant = Arbitraries.integers().between(0, 3);
    Arbitrary<Op> op = Arbitraries.frequencyOf(
        Tuple.of(6, simple(Kind.FILE, path, variant)),
        Tuple.of(4, simple(Kind.DIR, path, variant)),
        Tuple.of(2, simple(Kind.SYMLINK, path, variant)),
        Tuple.of(3, Combinators.combine(path, path, variant).filter((p, t, v) -> !p.equals(t))
            .as((p, t, v) -> new Op(Kind.HARDLINK, p, t, v))),
        Tuple.of(6, simple(Kind.LINK_EARLIER, path, variant)),
        Tuple.of(3, simple(Kind.WHITEOUT, path, variant)),
        Tuple.of(2, simple(Kind.OPAQUE, Arbitraries.frequencyOf(Tuple.of(5, path), Tuple.of(1, Arbitraries.just(""))), variant)),
        Tuple.of(1, simple(Kind.FIFO, path, variant)),
        Tuple.of(1, variant.map(v -> new Op(Kind.ROOT, "", null, v))),
        Tuple.of(2, variant.map(v -> new Op(Kind.REPEAT, "", null, v))));
    return op.list().ofMaxSize(7).list().ofMinSize(2).ofMaxSize(5);
  }

  private static Arbitrary<Op> simple(Kind kind, Arbitrary<String> path, Arbitrary<Integer> variant) {
    return Combinators.combine(path, variant).as((p, v) -> new Op(kind, p, null, v));
  }

  private static final int[] FILE_MODES = {0644, 0600, 0755, 04755};
  private static final int[] DIR_MODES = {0755, 0700, 0750, 01777};

  /** The image of a generated stack, uncompressed. */
  static ImageBuilder toImage(List<List<Op>> stack) {
    ImageBuilder image = ImageBuilder.image();
    List<String> nonDirectories = new ArrayList<>();
    for (int i = 0; i < stack.size(); i++) {
      image.layer(toLayer(i, stack.get(i), nonDirectories), Compression.NONE);
    }
    return image;
  }

  private static LayerBuilder toLayer(int layerIndex, List<Op> ops, List<String> nonDirectories) {
    LayerBuilder l = LayerBuilder.layer();
    String previous = null;
    for (int i = 0; i < ops.size(); i++) {
      Op op = ops.get(i);
      int v = op.variant();
      long mtime = 1_000_000L + layerIndex * 100L + i;
      String tag = "L" + layerIndex + "#" + i;
      Kind kind = op.kind();
      String path = op.path();
      if (kind == Kind.REPEAT) {
        if (previous == null) {
          continue;
        }
        kind = v % 2 == 0 ? Kind.FILE : Kind.DIR;
        path = previous;
      }
      switch (kind) {
        case FILE -> l.file(path, tag.getBytes(StandardCharsets.UTF_8), FILE_MODES[v], v, v, mtime);
        case DIR -> l.dir(path, DIR_MODES[v], v, v, mtime);
        case SYMLINK -> l.symlink(path, "target-" + tag).mtime(mtime, 0);
        case HARDLINK -> l.hardlink(path, op.target());
        case LINK_EARLIER -> {
          int back = v % 2 + 1;
          String target = nonDirectories.size() >= back ? nonDirectories.get(nonDirectories.size() - back) : "missing";
          if (target.equals(path)) {
            continue; // see the class javadoc: no self-links
          }
          l.hardlink(path, target);
        }
        case WHITEOUT -> l.whiteout(path);
        case OPAQUE -> l.opaque(path);
        case FIFO -> l.fifo(path, FILE_MODES[v]).mtime(mtime, 0);
        case ROOT -> l.rawEntry("./", EntryType.DIRECTORY, DIR_MODES[v]).mtime(mtime, 0);
        default -> throw new IllegalStateException(kind.toString());
      }
      boolean linkOrMarker = kind == Kind.HARDLINK || kind == Kind.LINK_EARLIER || kind == Kind.WHITEOUT
          || kind == Kind.OPAQUE;
      if (v == 3 && !linkOrMarker) {
        l.xattr("user.tag", tag);
      }
      if (kind != Kind.DIR && kind != Kind.ROOT && kind != Kind.WHITEOUT && kind != Kind.OPAQUE) {
        nonDirectories.add(path);
      }
      previous = path.isEmpty() ? previous : path;
    }
    return l;
  }
}
