package dev.ocirender.pipeline;

import static dev.ocirender.testing.LayerBuilder.layer;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ocirender.cli.MainAccess;
import dev.ocirender.testing.Compression;
import dev.ocirender.testing.FifoBlob;
import dev.ocirender.testing.ImageBuilder;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.apache.beam.runners.direct.DirectOptions;
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
    Path catalog = catalog(root, 8);
    // One image's top layer is a named pipe served only once a reading shows part of the job done, so
    // a partial reading is certain however fast the machine: the job cannot finish before it.
    List<long[]> seen;
    Run run;
    try (FifoBlob held = FifoBlob.replace(largestBlob(root.resolve("images/7")))) {
      run = run(catalog, log -> {
        long deadline = System.nanoTime() + Duration.ofMinutes(3).toNanos();
        while (rendered(log.toString()).stream().noneMatch(r -> r[2] > 0) && System.nanoTime() < deadline) {
          Thread.sleep(20);
        }
        held.serveAll();
      }, "--targetParallelism=2");
    }
    assertThat(run.finalCounters).containsEntry(PipelineMetrics.IMAGES_RENDERED, 8L);
    seen = rendered(run.log);
    // DirectRunner commits metrics per bundle: the line moves image by image, never backwards.
    assertThat(seen).as(run.log).anySatisfy(r -> assertThat(r[2]).isBetween(1L, 7L));
    for (int i = 1; i < seen.size(); i++) {
      assertThat(seen.get(i)[2]).isGreaterThanOrEqualTo(seen.get(i - 1)[2]);
      assertThat(seen.get(i)[2]).isLessThanOrEqualTo(8L);
    }
    // Whether a time-left estimate shows here depends on how fast the job runs (it needs two readings
    // with some records but not all); the estimate itself is checked on set readings below.
  }

  /** The largest blob of an OCI layout: here the top layer. */
  private static Path largestBlob(Path layout) throws IOException {
    try (Stream<Path> blobs = Files.list(layout.resolve("blobs/sha256"))) {
      return blobs.max(Comparator.comparingLong(p -> p.toFile().length())).orElseThrow();
    }
  }

  /** The estimate from set counter readings: none until the rate is known, then the lines left at that rate. */
  @Test
  void tracker_estimatesTimeLeft_fromTheRecordRate_onceLinesAreSettled() {
    long s = 1_000_000_000L;
    PipelineProgress.Tracker t = new PipelineProgress.Tracker(0);
    assertThat(t.describe(counters(5, 0), 1 * s)).doesNotContain(" left"); // lines still being read
    assertThat(t.describe(counters(10, 2), 2 * s)).doesNotContain(" left"); // first records: no rate yet
    assertThat(t.describe(counters(10, 2), 3 * s)).doesNotContain(" left"); // no records since
    // 4 records in 2 s since the first reading: 2 per second, 4 lines left: 2 s.
    assertThat(t.describe(counters(10, 6), 4 * s)).contains("about 2 s left");
    assertThat(t.describe(counters(10, 10), 5 * s)).contains("finishing").doesNotContain(" left");
  }

  private static java.util.Map<String, Long> counters(long lines, long rendered) {
    return java.util.Map.of(PipelineMetrics.CATALOG_LINES, lines, PipelineMetrics.IMAGES_RENDERED, rendered);
  }

  /**
   * Flink in process runs detached so that the job's accumulators can be read while it runs; Beam's
   * Flink runner adds a step's metrics to them only when the step's task ends, so what this shows is
   * that polling works during the job and the counts read after it (through the JobClient, the
   * mini-cluster being gone) are the job's.
   */
  @Test
  void flinkInProcess_pollsWhileRunning_andReadsFinalCountsAfterTheEnd() throws Exception {
    Path catalog = catalog(root, 8);
    Run run = run(catalog, "--runner=FlinkRunner", "--flinkMaster=[local]", "--parallelism=2");
    assertThat(run.finalCounters).containsEntry(PipelineMetrics.IMAGES_RENDERED, 8L)
        .containsEntry(PipelineMetrics.CATALOG_LINES, 8L);
    List<long[]> seen = rendered(run.log);
    assertThat(seen).isNotEmpty();
    assertThat(seen).allSatisfy(r -> assertThat(r[2]).isBetween(0L, 8L));
  }

  /**
   * The command on a "terminal" ({@code --progress=line}): the line is redrawn in place (carriage
   * return, erase line), erased before the summary, and {@code --metrics-json} holds the job's counts.
   */
  @Test
  void pipelineCommand_lineMode_redrawsInPlace_thenErasesBeforeTheSummary() throws Exception {
    Path catalog = catalog(root, 6);
    Path metrics = root.resolve("metrics.json");
    // Redrawn every 20 ms instead of every second: on an idle machine this job ends within a second,
    // before the first redraw; at 20 ms the renders (12 MiB written) span many redraws.
    System.setProperty("ocirender.progressLineMillis", "20");
    MainAccess.Result r;
    try {
      r = MainAccess.run("pipeline", "--progress=line", "--metrics-json=" + metrics, "--catalog=" + catalog,
          "--outputPrefix=" + root.resolve("out"), "--resultsPrefix=" + root.resolve("results") + "/", "--targetParallelism=2");
    } finally {
      System.clearProperty("ocirender.progressLineMillis");
    }
    assertThat(r.exit()).as(r.err()).isZero();
    assertThat(r.err()).contains("\r\033[K6 lines, 6 resolved: ");
    int summary = r.err().indexOf("pipeline done: 6 catalog lines: 6 rendered");
    assertThat(summary).isPositive();
    assertThat(r.err().substring(0, summary)).endsWith("\r\033[K").doesNotContain("\n");
    assertThat(new ObjectMapper().readTree(metrics.toFile()).path(PipelineMetrics.IMAGES_RENDERED).asLong()).isEqualTo(6);
  }

  @Test
  void remoteRunners_areNotPolled_theNoticeSaysWhereProgressIs() {
    CatalogPipelineOptions flink = PipelineOptionsFactory.fromArgs("--catalog=c", "--outputPrefix=o", "--resultsPrefix=r",
        "--runner=FlinkRunner", "--flinkMaster=localhost:8081").as(CatalogPipelineOptions.class);
    assertThat(PipelineProgress.prepare(flink)).contains("Flink web UI at localhost:8081");
    CatalogPipelineOptions direct = PipelineOptionsFactory.fromArgs("--catalog=c", "--outputPrefix=o", "--resultsPrefix=r")
        .as(CatalogPipelineOptions.class);
    assertThat(PipelineProgress.prepare(direct)).isNull();
    assertThat(direct.as(DirectOptions.class).isBlockOnRun()).isFalse();
    assertThat(PipelineProgress.Mode.parse("auto", false)).isEqualTo(PipelineProgress.Mode.LOG);
    assertThat(PipelineProgress.Mode.parse("auto", true)).isEqualTo(PipelineProgress.Mode.LINE);
  }

  record Run(String log, Map<String, Long> finalCounters) {}

  /** What the test does while the job runs, with the progress log written so far. */
  interface WhileRunning {
    void during(StringWriter log) throws Exception;
  }

  private Run run(Path catalog, String... extra) throws Exception {
    return run(catalog, log -> {}, extra);
  }

  private Run run(Path catalog, WhileRunning whileRunning, String... extra) throws Exception {
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
      whileRunning.during(log);
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

  /** {@code n} images sharing a base layer, each with its own 2 MiB top layer of random bytes. */
  static Path catalog(Path root, int n) throws IOException {
    Random random = new Random(15);
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      byte[] content = new byte[2 << 20];
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
