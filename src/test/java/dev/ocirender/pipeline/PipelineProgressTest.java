package dev.ocirender.pipeline;

import static dev.ocirender.testing.LayerBuilder.layer;
import static org.assertj.core.api.Assertions.assertThat;

import dev.ocirender.testing.Compression;
import dev.ocirender.testing.ImageBuilder;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.beam.sdk.PipelineResult;
import org.apache.beam.sdk.options.PipelineOptionsFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Progress read from the runner while the job runs: the lines {@link PipelineProgress} prints must
 * come before the job ends, agree with the job's final counters, and (on DirectRunner, which commits
 * metrics per bundle) show a job part done.
 */
class PipelineProgressTest {

  private static final Pattern RENDERED = Pattern.compile("(\\d+) lines, (\\d+) resolved: (\\d+) rendered");

  @TempDir Path root;

  @Test
  void directRunner_progressLinesWhileRunning_showPartialThenFinalCounts() throws Exception {
    Path catalog = catalog(root, 12);
    Run run = run(catalog, "--targetParallelism=2");
    assertThat(run.finalCounters).containsEntry(PipelineMetrics.IMAGES_RENDERED, 12L);
    List<long[]> seen = rendered(run.log);
    // DirectRunner commits metrics per bundle: the line moves image by image, never backwards.
    assertThat(seen).anySatisfy(r -> assertThat(r[2]).isBetween(1L, 11L));
    for (int i = 1; i < seen.size(); i++) {
      assertThat(seen.get(i)[2]).isGreaterThanOrEqualTo(seen.get(i - 1)[2]);
      assertThat(seen.get(i)[2]).isLessThanOrEqualTo(12L);
    }
    assertThat(run.log).contains(" left");
  }

  /**
   * Flink in process runs detached so that the job's accumulators can be read while it runs; Beam's
   * Flink runner adds a step's metrics to them only when the step's task ends, so what this shows is
   * that polling works during the job and the counts read after it (through the JobClient, the
   * mini-cluster being gone) are the job's.
   */
  @Test
  void flinkInProcess_pollsWhileRunning_andReadsFinalCountsAfterTheEnd() throws Exception {
    Path catalog = catalog(root, 12);
    Run run = run(catalog, "--runner=FlinkRunner", "--flinkMaster=[local]", "--parallelism=2");
    assertThat(run.finalCounters).containsEntry(PipelineMetrics.IMAGES_RENDERED, 12L)
        .containsEntry(PipelineMetrics.CATALOG_LINES, 12L);
    List<long[]> seen = rendered(run.log);
    assertThat(seen).isNotEmpty();
    assertThat(seen).allSatisfy(r -> assertThat(r[2]).isBetween(0L, 12L));
  }

  record Run(String log, Map<String, Long> finalCounters) {}

  private Run run(Path catalog, String... extra) {
    List<String> args = new ArrayList<>(List.of("--catalog=" + catalog, "--outputPrefix=" + root.resolve("out"),
        "--resultsPrefix=" + root.resolve("results") + "/"));
    args.addAll(List.of(extra));
    CatalogPipelineOptions options = PipelineOptionsFactory.fromArgs(args.toArray(String[]::new)).withValidation()
        .as(CatalogPipelineOptions.class);
    assertThat(PipelineProgress.prepare(options)).isNull();
    StringWriter log = new StringWriter();
    PipelineResult result = CatalogPipeline.run(options);
    PipelineResult.State state;
    try (PipelineProgress p = PipelineProgress.watch(result, PipelineProgress.Mode.LOG, Duration.ofMillis(50),
        new PrintWriter(log, true))) {
      state = PipelineProgress.waitUntilFinish(result);
    }
    assertThat(state).isEqualTo(PipelineResult.State.DONE);
    return new Run(log.toString(), PipelineProgress.counters(result));
  }

  private static List<long[]> rendered(String log) {
    List<long[]> out = new ArrayList<>();
    Matcher m = RENDERED.matcher(log);
    while (m.find()) {
      out.add(new long[] {Long.parseLong(m.group(1)), Long.parseLong(m.group(2)), Long.parseLong(m.group(3))});
    }
    return out;
  }

  /** {@code n} images sharing a base layer, each with its own 3 MiB top layer of random bytes. */
  static Path catalog(Path root, int n) throws IOException {
    Random random = new Random(15);
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      byte[] content = new byte[3 << 20];
      random.nextBytes(content);
      ImageBuilder.image()
          .layer(layer().dir("etc", 0755).file("etc/os-release", "ID=base\n", 0644))
          .layer(layer().file("app/data.bin", content, 0644), Compression.GZIP)
          .tag("v1").writeLayout(root.resolve("images/" + i));
      lines.add("oci:" + root.resolve("images/" + i) + ":v1");
    }
    Path catalog = root.resolve("catalog.txt");
    Files.write(catalog, lines);
    return catalog;
  }
}
