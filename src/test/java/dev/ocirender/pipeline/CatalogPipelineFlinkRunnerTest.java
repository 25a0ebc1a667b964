package dev.ocirender.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ocirender.render.OutputFormat;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.apache.beam.sdk.PipelineResult;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The same mixed catalog as {@link CatalogPipelineDirectRunnerTest} on a real engine: FlinkRunner
 * with an in-process mini-cluster ({@code --flinkMaster=[local]}). Its records, apart from
 * timings, must be identical to DirectRunner's, line for line, and so must its outputs.
 */
class CatalogPipelineFlinkRunnerTest {

  @TempDir Path directRoot;
  @TempDir Path flinkRoot;

  @Test
  void sameCatalog_flinkRunner_givesTheSameRecordsAndOutputsAsDirectRunner() throws Exception {
    CatalogFixture direct = new CatalogFixture(directRoot);
    CatalogFixture flink = new CatalogFixture(flinkRoot);
    PipelineResult directResult = CatalogPipelineDirectRunnerTest.run(direct, direct.args("run"));
    PipelineResult result = CatalogPipelineDirectRunnerTest.run(flink, flink.args("run",
        "--runner=FlinkRunner", "--flinkMaster=[local]", "--parallelism=2"));

    Map<String, Long> m = CatalogFixture.counters(result);
    assertThat(m).containsEntry(PipelineMetrics.IMAGES_RENDERED, 4L)
        .containsEntry(PipelineMetrics.IMAGES_DUPLICATE, 1L)
        .containsEntry(PipelineMetrics.DEAD_LETTERS, 4L);
    // The layer cache is on (one per fixture, cold): every distinct layer (7) decoded at least once,
    // and the renders read the same tar bytes as DirectRunner's, decoded or from the cache.
    Map<String, Long> d = CatalogFixture.counters(directResult);
    assertThat(m.get(PipelineMetrics.LAYER_CACHE_MISSES)).isGreaterThanOrEqualTo(7L);
    assertThat(m.get(PipelineMetrics.BYTES_DECODED) + m.getOrDefault(PipelineMetrics.BYTES_REUSED, 0L))
        .isEqualTo(d.get(PipelineMetrics.BYTES_DECODED) + d.getOrDefault(PipelineMetrics.BYTES_REUSED, 0L));

    assertThat(normalised(flink, "results")).isEqualTo(normalised(direct, "results"));
    assertThat(normalised(flink, "dead-letters").keySet()).isEqualTo(normalised(direct, "dead-letters").keySet());
    assertThat(Files.readAllBytes(Path.of(flink.customOutputA))).isEqualTo(Files.readAllBytes(Path.of(direct.customOutputA)));
    assertThat(Files.readAllBytes(Path.of(flink.defaultOutput(flink.imageC))))
        .isEqualTo(Files.readAllBytes(Path.of(direct.defaultOutput(direct.imageC))));
    assertThat(Files.readAllBytes(Path.of(flink.defaultOutput(flink.imageA, OutputFormat.SQUASHFS))))
        .isEqualTo(Files.readAllBytes(Path.of(direct.defaultOutput(direct.imageA, OutputFormat.SQUASHFS))));
  }

  /** Records by line with timings dropped and the run's own temp directory replaced by a placeholder. */
  static Map<Long, String> normalised(CatalogFixture f, String prefix) throws Exception {
    Map<Long, String> records = CatalogFixture.comparable(CatalogFixture.readRecords(f.root.resolve("run"), prefix));
    // Default output names embed the (run-specific) reference; compare them by which image they are for.
    records.replaceAll((line, json) -> json
        .replace(f.defaultOutput(f.imageB), "DEFAULT-OUTPUT-B")
        .replace(f.defaultOutput(f.imageC), "DEFAULT-OUTPUT-C")
        .replace(f.defaultOutput(f.imageA, OutputFormat.SQUASHFS), "DEFAULT-OUTPUT-A-SQUASHFS")
        .replace(f.root.toString(), "ROOT"));
    return records;
  }
}
