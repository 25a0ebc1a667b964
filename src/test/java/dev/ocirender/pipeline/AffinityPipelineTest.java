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
 * Affinity changes where images are rendered, never what comes out: the mixed catalog of
 * {@link CatalogFixture} (renders, a duplicate, bad lines, a failing render, a missing image) gives
 * the same records, line for line, and the same output bytes with {@code --affinity=false} (the
 * random reshuffle) and with affinity on, split into runs of one image (every base a hot key) or
 * not, on DirectRunner and on Flink in process.
 */
class AffinityPipelineTest {

  @TempDir Path offRoot;
  @TempDir Path onRoot;
  @TempDir Path flinkOnRoot;
  @TempDir Path flinkOffRoot;

  @Test
  void affinityOnOrOff_directAndFlink_sameRecordsMetricsAndOutputs() throws Exception {
    CatalogFixture off = new CatalogFixture(offRoot);
    CatalogFixture on = new CatalogFixture(onRoot);
    CatalogFixture flinkOn = new CatalogFixture(flinkOnRoot);
    CatalogFixture flinkOff = new CatalogFixture(flinkOffRoot);
    PipelineResult offResult = CatalogPipelineDirectRunnerTest.run(off, off.args("run", "--affinity=false"));
    PipelineResult onResult = CatalogPipelineDirectRunnerTest.run(on, on.args("run", "--affinity=true", "--affinityGroupSize=1"));
    PipelineResult flinkOnResult = CatalogPipelineDirectRunnerTest.run(flinkOn, flinkOn.args("run",
        "--runner=FlinkRunner", "--flinkMaster=[local]", "--parallelism=2"));
    PipelineResult flinkOffResult = CatalogPipelineDirectRunnerTest.run(flinkOff, flinkOff.args("run", "--affinity=false",
        "--runner=FlinkRunner", "--flinkMaster=[local]", "--parallelism=2"));

    Map<Long, String> results = CatalogPipelineFlinkRunnerTest.normalised(off, "results");
    Map<Long, String> deadLetters = CatalogPipelineFlinkRunnerTest.normalised(off, "dead-letters");
    assertThat(results.keySet()).isEqualTo(off.expectedResults.keySet());
    assertThat(deadLetters.keySet()).isEqualTo(off.expectedDeadLetters.keySet());
    for (CatalogFixture f : new CatalogFixture[] {on, flinkOn, flinkOff}) {
      assertThat(CatalogPipelineFlinkRunnerTest.normalised(f, "results")).isEqualTo(results);
      assertThat(CatalogPipelineFlinkRunnerTest.normalised(f, "dead-letters").keySet()).isEqualTo(deadLetters.keySet());
      assertThat(Files.readAllBytes(Path.of(f.customOutputA))).isEqualTo(Files.readAllBytes(Path.of(off.customOutputA)));
      assertThat(Files.readAllBytes(Path.of(f.defaultOutput(f.imageB)))).isEqualTo(Files.readAllBytes(Path.of(off.defaultOutput(off.imageB))));
      assertThat(Files.readAllBytes(Path.of(f.defaultOutput(f.imageC)))).isEqualTo(Files.readAllBytes(Path.of(off.defaultOutput(off.imageC))));
      assertThat(Files.readAllBytes(Path.of(f.defaultOutput(f.imageA, OutputFormat.SQUASHFS))))
          .isEqualTo(Files.readAllBytes(Path.of(off.defaultOutput(off.imageA, OutputFormat.SQUASHFS))));
    }
    Map<String, Long> expected = counts(CatalogFixture.counters(offResult));
    for (PipelineResult r : new PipelineResult[] {onResult, flinkOnResult, flinkOffResult}) {
      assertThat(counts(CatalogFixture.counters(r))).isEqualTo(expected);
    }
  }

  /** The counters that count images and records (not bytes of the run-specific paths or timings). */
  private static Map<String, Long> counts(Map<String, Long> c) {
    c.keySet().retainAll(java.util.Set.of(PipelineMetrics.CATALOG_LINES, PipelineMetrics.IMAGES_RESOLVED,
        PipelineMetrics.IMAGES_RENDERED, PipelineMetrics.IMAGES_DUPLICATE, PipelineMetrics.IMAGES_FAILED,
        PipelineMetrics.DEAD_LETTERS, PipelineMetrics.LAYERS, PipelineMetrics.ENTRIES, PipelineMetrics.WHITEOUTS,
        PipelineMetrics.BYTES_WRITTEN));
    return c;
  }
}
