package dev.ocirender.merge;

import static dev.ocirender.testing.LayerBuilder.layer;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ocirender.layer.LayerBlob;
import dev.ocirender.testing.CollectingSink;
import dev.ocirender.testing.Compression;
import dev.ocirender.testing.FsSnapshot;
import dev.ocirender.testing.ImageBuilder;
import dev.ocirender.testing.LayerBuilder;
import dev.ocirender.testing.OverlayModel;
import java.io.ByteArrayInputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * The look-ahead reads layers below the merged one on threads of their own while their files are
 * hidden ({@link LayerLookahead}). Each case checks the merged result against the oldest-first
 * {@link OverlayModel}, and how far the look-ahead got: a test that only compared outputs would
 * also pass with a look-ahead that never ran. To make "how far" deterministic, the merge waits at
 * the end of the layer above until the look-ahead rests or has stopped ({@link LayerLookahead#awaitResting}).
 */
class LayerLookaheadTest {

  private static final long NO_BUDGET_LIMIT = Long.MAX_VALUE;

  /** The image's layers gzip-compressed, so every look-ahead decodes on its own threads as in a render. */
  private static ImageBuilder gzipImage(LayerBuilder... layers) {
    ImageBuilder image = ImageBuilder.image();
    for (LayerBuilder l : layers) {
      image.layer(l, Compression.GZIP);
    }
    return image;
  }

  /** A merge with a look-ahead of the given window and header budget, recording what it read ahead. */
  private static final class Run {
    final List<LayerLookahead> lookaheads = new ArrayList<>();
    /** Entries the look-ahead of a layer had read when the merge reached that layer. */
    final Map<Integer, Integer> readAhead = new HashMap<>();
    FsSnapshot merged;
    MergeStats stats;

    Run(List<LayerBlob> layers, int window, long budget) throws IOException {
      CollectingSink.Opener sinks = new CollectingSink.Opener();
      MergeListener waitForLookahead = new MergeListener() {
        @Override
        public void layerFinished(LayerBlob layer, long entriesRead) {
          int below = layer.index() - 1;
          if (below >= 0) {
            try {
              readAhead.put(below, current().awaitResting(below));
            } catch (InterruptedException e) {
              throw new AssertionError(e);
            }
          }
        }
      };
      stats = OverlayMerge.run(layers, sinks::open, waitForLookahead, MergeLimits.DEFAULT, (l, limits, skip) -> {
        LayerLookahead ahead = new LayerLookahead(l, limits, skip, window, budget);
        lookaheads.add(ahead);
        return ahead;
      });
      merged = sinks.result().snapshot();
    }

    LayerLookahead current() {
      return lookaheads.get(lookaheads.size() - 1);
    }
  }

  private static Run mergeMatchingTheModel(ImageBuilder image, int window, long budget) throws IOException {
    Run run = new Run(image.inMemoryBlobs(), window, budget);
    OverlayModel.apply(image.logicalLayers()).snapshot().assertMatches(run.merged, FsSnapshot.Compare.EXACT);
    return run;
  }

  private static LayerBuilder victimLayer(int files) {
    LayerBuilder l = layer().dir("opt", 0755).dir("opt/victim", 0755);
    for (int i = 0; i < files; i++) {
      l.file(String.format("opt/victim/f%03d", i), "hidden content " + i + "\n".repeat(i), 0644);
    }
    return l;
  }

  @Test
  void aLayerWhitedOutAbove_isReadAheadToItsEnd_whileTheLayersAboveMerge() throws IOException {
    ImageBuilder image = gzipImage(
        layer().dir("etc", 0755).file("etc/base", "base\n", 0644),
        victimLayer(200),
        layer().dir("keep", 0755).file("keep/x", "kept\n", 0644),
        layer().dir("opt", 0755).whiteout("opt/victim"));

    Run run = mergeMatchingTheModel(image, 2, NO_BUDGET_LIMIT);

    // Layer 1's two directories and 200 files, all of it: every file was hidden by the whiteout.
    assertThat(run.readAhead.get(1)).isEqualTo(202);
    // Layer 2's first file is visible: its look-ahead rests there, at the directory and that file.
    assertThat(run.readAhead.get(2)).isEqualTo(2);
    assertThat(paths(run)).doesNotContain("opt/victim", "opt/victim/f000").contains("keep/x", "etc/base");
    assertThat(run.stats.hiddenEntries()).isEqualTo(201); // the files and opt/victim itself
  }

  @Test
  void aLookaheadAtAFileNotYetHidden_goesOnWhenTheWhiteoutComesLaterInTheLayerAbove() throws IOException {
    LayerBuilder top = layer().dir("a", 0755);
    for (int i = 0; i < 300; i++) {
      top.file(String.format("a/new%03d", i), "new " + i, 0644);
    }
    top.dir("opt", 0755).whiteout("opt/victim");
    ImageBuilder image = gzipImage(victimLayer(50), top);

    Run run = mergeMatchingTheModel(image, 1, NO_BUDGET_LIMIT);

    assertThat(run.readAhead.get(0)).isEqualTo(52);
  }

  @Test
  void anOpaqueDirectoryAbove_hidesTheLowerChildrenButNotTheDirectory() throws IOException {
    ImageBuilder image = gzipImage(
        layer().dir("opt", 0755).dir("opt/victim", 0700).file("opt/victim/old", "old", 0644).file("opt/later", "later", 0644),
        layer().dir("opt", 0755).dir("opt/victim", 0755).opaque("opt/victim").file("opt/victim/new", "new", 0644));

    Run run = mergeMatchingTheModel(image, 1, NO_BUDGET_LIMIT);

    // opt, opt/victim and its hidden file are read ahead; opt/later is visible, so the look-ahead rests there.
    assertThat(run.readAhead.get(0)).isEqualTo(4);
    assertThat(paths(run)).contains("opt/victim/new", "opt/later").doesNotContain("opt/victim/old");
  }

  @Test
  void headersBeyondTheBudget_waitForTheMerge_whichGoesOnFromThere() throws IOException {
    ImageBuilder image = gzipImage(victimLayer(40), layer().dir("opt", 0755).whiteout("opt/victim"));

    Run run = mergeMatchingTheModel(image, 1, 1);

    assertThat(run.readAhead.get(0)).isEqualTo(1); // the first header is over a one-byte budget
    assertThat(run.stats.entriesRead()).isEqualTo(42 + 2);
  }

  @Test
  void aHardLinkThatKeepsAFileOfAWhitedOutLayer_getsItsContent() throws IOException {
    ImageBuilder image = gzipImage(
        victimLayer(3),
        layer().dir("keep", 0755).hardlink("keep/link", "opt/victim/f001"),
        layer().dir("opt", 0755).whiteout("opt/victim"));

    Run run = mergeMatchingTheModel(image, 2, NO_BUDGET_LIMIT);

    assertThat(run.readAhead.get(0)).isEqualTo(5);
    assertThat(run.stats.promotedLinks()).isEqualTo(1);
    assertThat(paths(run)).contains("keep/link").doesNotContain("opt/victim/f001");
  }

  @Test
  void aDamagedLayerReadAhead_failsTheMergeAsWithoutLookahead() throws IOException {
    ImageBuilder image = gzipImage(victimLayer(100), layer().dir("opt", 0755).whiteout("opt/victim"));
    List<LayerBlob> layers = new ArrayList<>(image.inMemoryBlobs());
    LayerBlob whole = layers.get(0);
    byte[] blob = whole.openRaw().readAllBytes();
    byte[] truncated = Arrays.copyOf(blob, blob.length * 2 / 3);
    layers.set(0, new LayerBlob(0, whole.descriptor(), null, () -> new ByteArrayInputStream(truncated)));

    String withoutLookahead = failure(() -> OverlayMerge.run(layers, new CollectingSink.Opener()::open,
        MergeListener.NONE, MergeLimits.DEFAULT, (l, limits, skip) -> null));
    assertThat(withoutLookahead).startsWith("layer 0 (").contains("entry ");

    List<LayerLookahead> made = new ArrayList<>();
    // The merge reaches layer 0 only once its look-ahead has failed, so it drops all of it.
    MergeListener waitForLookahead = new MergeListener() {
      @Override
      public void layerFinished(LayerBlob layer, long entriesRead) {
        try {
          made.get(0).awaitResting(0);
        } catch (InterruptedException e) {
          throw new AssertionError(e);
        }
      }
    };
    String withLookahead = failure(() -> OverlayMerge.run(layers, new CollectingSink.Opener()::open,
        waitForLookahead, MergeLimits.DEFAULT, (l, limits, skip) -> {
          LayerLookahead ahead = new LayerLookahead(l, limits, skip, 1, NO_BUDGET_LIMIT);
          made.add(ahead);
          return ahead;
        }));
    assertThat(withLookahead).isEqualTo(withoutLookahead);
    assertThat(made).hasSize(1);
    assertThat(made.get(0).entriesReadAhead()).isZero(); // the failed look-ahead was dropped, the layer read again
  }

  @Test
  void aMergeThatFailsAbove_stopsTheLookaheadsBelow() throws IOException {
    ImageBuilder image = gzipImage(victimLayer(100), victimLayer(100),
        layer().file("x", "1", 0644).file("x", "2", 0644).file("x/y", "a child of a file", 0644));
    AtomicInteger opened = new AtomicInteger();
    AtomicInteger closed = new AtomicInteger();
    List<LayerBlob> layers = new ArrayList<>();
    for (LayerBlob b : image.inMemoryBlobs()) {
      layers.add(new LayerBlob(b.index(), b.descriptor(), null, () -> {
        opened.incrementAndGet();
        return new FilterInputStream(b.openRaw()) {
          private boolean done;

          @Override
          public void close() throws IOException {
            if (!done) {
              done = true;
              closed.incrementAndGet();
            }
            super.close();
          }
        };
      }));
    }
    List<LayerLookahead> made = new ArrayList<>();
    // A conflict in the top layer ends the first pass, while the look-aheads of layers 1 and 0 rest
    // at their first files; the second pass indexes every layer, so reads none ahead.
    OverlayMerge.run(layers, new CollectingSink.Opener()::open, MergeListener.NONE, MergeLimits.DEFAULT,
        (l, limits, skip) -> {
          LayerLookahead ahead = new LayerLookahead(l, limits, skip, 2, NO_BUDGET_LIMIT);
          made.add(ahead);
          return ahead;
        });
    assertThat(made).hasSize(2);
    assertThat(Thread.getAllStackTraces().keySet()).noneMatch(t -> t.getName().startsWith("look-ahead "));
    // Every blob stream opened was closed, the look-aheads' included (first pass: 3, index and
    // second pass: 3 each, at least).
    assertThat(opened.get()).isGreaterThanOrEqualTo(9);
    assertThat(closed.get()).isEqualTo(opened.get());
  }

  private static List<String> paths(Run run) {
    return run.merged.paths().stream().map(p -> new String(p.bytes(), StandardCharsets.UTF_8)).toList();
  }

  private interface Merge {
    void run() throws IOException;
  }

  private static String failure(Merge merge) {
    Throwable[] thrown = new Throwable[1];
    assertThatThrownBy(() -> {
      try {
        merge.run();
      } catch (IOException e) {
        thrown[0] = e;
        throw e;
      }
    }).isInstanceOf(MergeException.class);
    return thrown[0].getMessage();
  }
}
