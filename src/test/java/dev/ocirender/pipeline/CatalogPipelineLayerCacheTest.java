package dev.ocirender.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ocirender.layer.decoded.LayerCache;
import dev.ocirender.render.OutputFormat;
import dev.ocirender.squashfs.writer.BlockStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The catalog pipeline with its layer work cache on DirectRunner: a cold run, a warm run
 * ({@code --overwrite}, same cache) and a run with the cache off give the same records and
 * byte-identical outputs, each equal to a render of the image alone without any cache; only the
 * layers that more than one render of the job uses are kept; the metrics say what the cache did, and the decoded bytes and the squashfs bytes compressed or taken
 * from the block store (same cache root) add up across the three runs.
 */
class CatalogPipelineLayerCacheTest {

  @TempDir Path root;

  private record Run(Map<String, Long> metrics, Map<Long, String> results, Map<Long, String> deadLetters) {
    long get(String name) {
      return metrics.getOrDefault(name, 0L);
    }
  }

  private Run run(CatalogFixture f, String name, String... extra) throws Exception {
    Map<String, Long> metrics = CatalogFixture.counters(CatalogPipelineDirectRunnerTest.run(f, f.args(name, extra)));
    return new Run(metrics, CatalogPipelineDirectRunnerTest.statusByLine(CatalogFixture.readRecords(root.resolve(name), "results"), "status"),
        CatalogPipelineDirectRunnerTest.statusByLine(CatalogFixture.readRecords(root.resolve(name), "dead-letters"), "stage"));
  }

  private void outputsEqualRendersAlone(CatalogFixture f, String run) throws Exception {
    assertThat(Files.readAllBytes(Path.of(f.customOutputA))).as(run).isEqualTo(f.renderAlone(f.imageA));
    assertThat(Files.readAllBytes(Path.of(f.defaultOutput(f.imageA, OutputFormat.SQUASHFS)))).as(run)
        .isEqualTo(f.renderAlone(f.imageA, OutputFormat.SQUASHFS));
    assertThat(Files.readAllBytes(Path.of(f.defaultOutput(f.imageB)))).as(run).isEqualTo(f.renderAlone(f.imageB));
    assertThat(Files.readAllBytes(Path.of(f.defaultOutput(f.imageC)))).as(run).isEqualTo(f.renderAlone(f.imageC));
  }

  @Test
  void coldWarmAndOff_sameRecordsAndOutputs_metricsAccountForEveryDecodedByte() throws Exception {
    CatalogFixture f = new CatalogFixture(root);
    Path cache = root.resolve("cache");

    Run cold = run(f, "cold", "--layerCacheDir=" + cache);
    assertThat(cold.results).isEqualTo(f.expectedResults);
    assertThat(cold.deadLetters).isEqualTo(f.expectedDeadLetters);
    outputsEqualRendersAlone(f, "cold");
    assertThat(cold.get(PipelineMetrics.IMAGES_RENDERED)).isEqualTo(4);
    // A (2 layers), B (3), C (2): each decoded at least once; A's second render may find them cached.
    assertThat(cold.get(PipelineMetrics.LAYER_CACHE_MISSES)).as("%s", cold.metrics).isGreaterThanOrEqualTo(7);
    assertThat(cold.get(PipelineMetrics.BYTES_DECODED)).as("%s", cold.metrics).isPositive();
    try (Stream<Path> entries = Files.list(cache.resolve(LayerCache.LAYERS))) {
      // Only layers that two renders of the job use are kept: A's two (rendered as tar and as
      // squashfs). B's and C's layers (one image each) and the corrupt image's are not.
      assertThat(entries.map(p -> p.getFileName().toString()).sorted())
          .as("an entry for each layer of A, none for layers of one image").hasSize(2)
          .allMatch(name -> f.layersOfA.stream().anyMatch(d -> name.startsWith(d.replace(':', '-') + "-")));
    }
    // A's squashfs output: its content compressed once, its blocks kept under the same root.
    assertThat(cold.get(PipelineMetrics.BYTES_COMPRESSED)).as("%s", cold.metrics).isPositive();
    try (Stream<Path> blocks = Files.list(cache.resolve(BlockStore.DIRECTORY))) {
      assertThat(blocks.filter(p -> p.getFileName().toString().endsWith(".blk"))).as("block store files").isNotEmpty();
    }

    Run warm = run(f, "warm", "--layerCacheDir=" + cache, "--overwrite=true");
    assertThat(warm.results).isEqualTo(f.expectedResults);
    assertThat(warm.deadLetters).as("the corrupt blob still fails").isEqualTo(f.expectedDeadLetters);
    outputsEqualRendersAlone(f, "warm");
    assertThat(warm.get(PipelineMetrics.IMAGES_RENDERED)).isEqualTo(4);
    // A's layers hit in both of A's renders; B's 3 and C's 2 (not kept) are decoded again.
    assertThat(warm.get(PipelineMetrics.LAYER_CACHE_HITS)).as("%s", warm.metrics).isEqualTo(4);
    assertThat(warm.get(PipelineMetrics.LAYER_CACHE_MISSES)).as("%s", warm.metrics).isEqualTo(5);
    assertThat(warm.get(PipelineMetrics.BYTES_DECODED)).as("%s", warm.metrics).isPositive();
    assertThat(warm.get(PipelineMetrics.BYTES_FETCHED)).as("A's blobs are not read").isPositive()
        .isLessThan(cold.get(PipelineMetrics.BYTES_FETCHED));
    // The same renders read the same tar bytes, decoded or from the cache.
    assertThat(warm.get(PipelineMetrics.BYTES_REUSED) + warm.get(PipelineMetrics.BYTES_DECODED))
        .isEqualTo(cold.get(PipelineMetrics.BYTES_DECODED) + cold.get(PipelineMetrics.BYTES_REUSED));
    // Nothing compressed again: every block of the squashfs output came from the block store.
    assertThat(warm.get(PipelineMetrics.BYTES_COMPRESSED)).as("%s", warm.metrics).isZero();
    assertThat(warm.get(PipelineMetrics.BYTES_COMPRESSION_REUSED)).as("%s", warm.metrics)
        .isEqualTo(cold.get(PipelineMetrics.BYTES_COMPRESSED) + cold.get(PipelineMetrics.BYTES_COMPRESSION_REUSED));

    Run off = run(f, "off", "--layerCacheMaxBytes=0", "--overwrite=true");
    assertThat(off.results).isEqualTo(f.expectedResults);
    assertThat(off.deadLetters).isEqualTo(f.expectedDeadLetters);
    outputsEqualRendersAlone(f, "off");
    assertThat(off.get(PipelineMetrics.LAYER_CACHE_HITS) + off.get(PipelineMetrics.LAYER_CACHE_MISSES)).isZero();
    assertThat(off.get(PipelineMetrics.BYTES_REUSED)).isZero();
    assertThat(off.get(PipelineMetrics.BYTES_DECODED))
        .isEqualTo(warm.get(PipelineMetrics.BYTES_REUSED) + warm.get(PipelineMetrics.BYTES_DECODED));
    assertThat(off.get(PipelineMetrics.BYTES_FETCHED)).isPositive();
    // Without the cache no block store: everything compressed, as much as the warm run reused.
    assertThat(off.get(PipelineMetrics.BYTES_COMPRESSION_REUSED)).isZero();
    assertThat(off.get(PipelineMetrics.BYTES_COMPRESSED)).isEqualTo(warm.get(PipelineMetrics.BYTES_COMPRESSION_REUSED));
  }
}
