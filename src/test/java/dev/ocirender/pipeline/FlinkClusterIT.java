package dev.ocirender.pipeline;

import static dev.ocirender.testing.LayerBuilder.layer;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.ocirender.io.TemporaryFiles;
import dev.ocirender.render.OutputFormat;
import dev.ocirender.testing.Compression;
import dev.ocirender.testing.FifoBlob;
import dev.ocirender.testing.FlinkCluster;
import dev.ocirender.testing.ImageBuilder;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.apache.beam.sdk.PipelineResult;
import org.apache.beam.sdk.options.PipelineOptionsFactory;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * The catalog job on a real Flink 1.19 session cluster of separate JVMs ({@link FlinkCluster}: one
 * JobManager, two TaskManagers with two slots each, the checked-in config.yaml), submitted as a user
 * would: {@code scripts/catalog-pipeline.sh flink-cluster} from the shaded jar, which the runner
 * uploads. Runs in the integration-test phase, after the jar is built.
 *
 * <p>The cluster's own restart strategy is switched off here ({@code restart-strategy.type: none}),
 * so the failover test shows that the job's profile asks for its restarts itself. The kills do not
 * depend on timing: an image's layer blob is a named pipe ({@link FifoBlob}) that the test feeds, so
 * the test knows a render is in flight, and on which TaskManager, when it kills it.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class FlinkClusterIT {

  private static final Path ROOT = Path.of("target/flink-cluster-it").toAbsolutePath();
  /** The image of the failover test whose render the kill interrupts (a tar output). */
  private static final int GATED = 1;
  private static FlinkCluster cluster;

  @BeforeAll
  static void startCluster() throws Exception {
    assertThat(Path.of("target/ocirender.jar")).as("the shaded jar (built in the package phase)").exists();
    deleteTree(ROOT);
    cluster = FlinkCluster.start(ROOT.resolve("cluster"), FlinkCluster.CONFIG_DIR, 2, Map.of("restart-strategy.type", "none",
        "slot.request.timeout", "10000")); // the out-of-slots test waits this long
  }

  @AfterAll
  static void stopCluster() {
    if (cluster != null) {
      cluster.close();
    }
  }

  @Test
  @Order(1)
  void mixedCatalog_onTheCluster_givesTheSameRecordsAndOutputsAsDirectRunner_andCommandLineOptionsOverrideTheProfile()
      throws Exception {
    CatalogFixture direct = new CatalogFixture(Files.createDirectories(ROOT.resolve("mixed-direct")));
    CatalogFixture flink = new CatalogFixture(Files.createDirectories(ROOT.resolve("mixed-flink")));
    CatalogPipelineDirectRunnerTest.run(direct, direct.args("run"));

    // Relative paths (made absolute by the submitter) and two options that the profile sets too.
    Path repo = Path.of("").toAbsolutePath();
    Submission s = submit("--catalog=" + repo.relativize(flink.catalog), "--outputPrefix=" + repo.relativize(flink.outputs),
        "--resultsPrefix=" + repo.relativize(flink.root.resolve("run")) + "/", "--parallelism=3", "--executionRetryDelay=2000");
    assertThat(s.exitCode).as(s.log).isZero();
    assertThat(s.log).doesNotContain("expected one element");

    assertThat(normalised(flink, "results")).isEqualTo(normalised(direct, "results"));
    assertThat(normalised(flink, "dead-letters").keySet()).isEqualTo(normalised(direct, "dead-letters").keySet())
        .isEqualTo(flink.expectedDeadLetters.keySet());
    assertThat(Files.readAllBytes(Path.of(flink.customOutputA))).isEqualTo(Files.readAllBytes(Path.of(direct.customOutputA)));
    assertThat(Files.readAllBytes(Path.of(flink.defaultOutput(flink.imageB))))
        .isEqualTo(Files.readAllBytes(Path.of(direct.defaultOutput(direct.imageB))));
    assertThat(Files.readAllBytes(Path.of(flink.defaultOutput(flink.imageC))))
        .isEqualTo(Files.readAllBytes(Path.of(direct.defaultOutput(direct.imageC))));
    assertThat(Files.readAllBytes(Path.of(flink.defaultOutput(flink.imageA, OutputFormat.SQUASHFS))))
        .isEqualTo(Files.readAllBytes(Path.of(direct.defaultOutput(direct.imageA, OutputFormat.SQUASHFS))));

    // What the cluster ran: the command line's parallelism and retry delay, the profile's retries.
    JsonNode config = cluster.get("/jobs/" + lastJobId() + "/config").orElseThrow().path("execution-config");
    assertThat(config.path("job-parallelism").asInt()).isEqualTo(3);
    assertThat(config.path("restart-strategy").asText()).contains("PT2S").contains("#6 restart attempts");
  }

  @Test
  @Order(2)
  void parallelismAboveTheClustersSlots_isRefusedInOneLine_beforeSubmission() throws Exception {
    Path dir = Files.createDirectories(ROOT.resolve("too-many"));
    Files.writeString(dir.resolve("catalog.jsonl"), "oci:" + dir.resolve("nothing") + "\n");
    int jobsBefore = cluster.get("/jobs/overview").orElseThrow().path("jobs").size();
    Submission s = submit("--catalog=" + dir.resolve("catalog.jsonl"), "--outputPrefix=" + dir.resolve("out"),
        "--resultsPrefix=" + dir.resolve("results") + "/", "--parallelism=5");
    assertThat(s.exitCode).isNotZero();
    List<String> errors = s.log.lines().filter(l -> l.startsWith("ocirender: error:")).toList();
    assertThat(errors).hasSize(1);
    assertThat(errors.get(0)).contains("has 4 task slots").contains("--parallelism=5").contains("--parallelism=4");
    assertThat(cluster.get("/jobs/overview").orElseThrow().path("jobs").size()).isEqualTo(jobsBefore);
  }

  @Test
  @Order(3)
  void taskManagerKilledMidJob_replacementStarted_everyLineEndsOnce_outputsIdentical_noTempFilesLeft() throws Exception {
    Path images = Files.createDirectories(ROOT.resolve("failover-images"));
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < 12; i++) {
      // Small images; one of them (GATED) has a larger layer that the test feeds through a FIFO.
      byte[] data = new byte[i == GATED ? 4 << 20 : 256 << 10];
      new Random(i).nextBytes(data);
      ImageBuilder.image()
          .layer(layer().dir("data", 0755).file("data/base.txt", "image " + i + "\n", 0644))
          .layer(layer().file("data/blob.bin", data, 0644), Compression.GZIP)
          .tag("v1").writeLayout(images.resolve("img-" + i));
      String ref = "oci:" + images.resolve("img-" + i) + ":v1";
      lines.add(i % 3 == 0 ? CatalogFixture.json("image", ref, "format", "squashfs") : ref);
    }
    Path catalog = images.resolve("catalog.jsonl");
    Files.write(catalog, lines);

    Path directOut = ROOT.resolve("failover-direct/outputs");
    PipelineResult direct = CatalogPipeline.run(PipelineOptionsFactory.fromArgs("--catalog=" + catalog,
        "--outputPrefix=" + directOut, "--resultsPrefix=" + ROOT.resolve("failover-direct/results") + "/",
        "--targetParallelism=2").withValidation().as(CatalogPipelineOptions.class));
    assertThat(direct.waitUntilFinish()).isEqualTo(PipelineResult.State.DONE);

    // The gated image's big layer becomes a named pipe: its render blocks until the test writes it, so
    // the kill below provably lands mid-render, on the TaskManager that runs it.
    Path out = ROOT.resolve("failover-flink/outputs");
    Path results = ROOT.resolve("failover-flink/results");
    int jobsBefore = cluster.get("/jobs/overview").orElseThrow().path("jobs").size();
    Process submitter;
    String jobId;
    try (FifoBlob gate = FifoBlob.replace(largestBlob(images.resolve("img-" + GATED)))) {
      // No --parallelism: the job takes the cluster's 4 slots.
      submitter = start("--catalog=" + catalog, "--outputPrefix=" + out, "--resultsPrefix=" + results + "/");
      List<Process> taskManagers = cluster.taskManagers();
      long reader = gate.awaitReader(taskManagers.stream().map(Process::pid).toList(), Duration.ofMinutes(5), submitter::isAlive);
      assertThat(cluster.get("/jobs/overview").orElseThrow().path("jobs").size()).isEqualTo(jobsBefore + 1);
      jobId = lastJobId();
      Process victim = taskManagers.stream().filter(tm -> tm.pid() == reader).findFirst().orElseThrow();
      cluster.kill(victim);
      cluster.startTaskManager();
      gate.serveAll(); // the restarted render (on the survivor or the replacement) reads the whole layer
      assertThat(submitter.waitFor(10, TimeUnit.MINUTES)).as("the job ends").isTrue();
    }
    String log = Files.readString(ROOT.resolve("submitter.log"));
    assertThat(submitter.exitValue()).as(log).isZero();

    List<JsonNode> records = CatalogFixture.readRecords(results, "results");
    List<JsonNode> deadLetters = CatalogFixture.readRecords(results, "dead-letters");
    assertThat(deadLetters).as("dead letters").isEmpty();
    assertThat(CatalogFixture.comparable(records).keySet()).as("one record per catalog line")
        .containsExactlyElementsOf(java.util.stream.LongStream.rangeClosed(1, lines.size()).boxed().toList());
    // A restarted region re-runs SkipExisting too: an image whose output an attempt before the kill had
    // already published is then "skipped" (its output is there, complete), the others "rendered".
    for (JsonNode r : records) {
      assertThat(r.path("status").asText()).isIn(Records.RENDERED, Records.SKIPPED);
      Path output = Path.of(r.path("output").asText());
      assertThat(r.path("outputSha256").asText()).as(r.toString())
          .isEqualTo(CatalogPipelineDirectRunnerTest.sha256(Files.readAllBytes(directOut.resolve(output.getFileName()))));
    }
    assertThat(listing(out)).isEqualTo(listing(directOut)); // no temp files beside the outputs
    for (String name : listing(out)) {
      if (name.endsWith(".ocirender.json")) { // the sidecar: the same record, but the jar has a version and classes do not
        JsonNode flinkRecord = CatalogFixture.JSON.readTree(out.resolve(name).toFile());
        JsonNode directRecord = CatalogFixture.JSON.readTree(directOut.resolve(name).toFile());
        ((com.fasterxml.jackson.databind.node.ObjectNode) flinkRecord).remove("ocirender-version");
        ((com.fasterxml.jackson.databind.node.ObjectNode) directRecord).remove("ocirender-version");
        assertThat(flinkRecord).as(name).isEqualTo(directRecord);
      } else {
        assertThat(Files.readAllBytes(out.resolve(name))).as(name).isEqualTo(Files.readAllBytes(directOut.resolve(name)));
      }
    }
    // The killed one, the survivor, the replacement: no squashfs spool files. The layer work cache
    // (the pipeline's default, ocirender-layer-cache under java.io.tmpdir) is meant to stay; a
    // partial entry the killed TaskManager was writing stays in its cache until a worker using that
    // cache directory scans it (LayerCache removes temporaries older than an hour).
    for (int tm = 0; tm < 3; tm++) {
      assertThat(listing(cluster.taskManagerTmp(tm))).as("java.io.tmpdir of TaskManager " + tm)
          .noneMatch(name -> TemporaryFiles.SPOOL_FILE.matcher(name).matches());
    }

    // The kill did hit the job: Flink recorded the lost TaskManager and restarted.
    assertThat(cluster.get("/jobs/" + jobId + "/config").orElseThrow().path("execution-config").path("job-parallelism").asInt())
        .as("the cluster's slots").isEqualTo(4);
    JsonNode exceptions = cluster.get("/jobs/" + jobId + "/exceptions").orElseThrow();
    assertThat(exceptions.path("exceptionHistory").path("entries").size()).as(exceptions.toString()).isPositive();
  }

  @Test
  @Order(4)
  void everyTaskManagerLostMidJob_theRestartFindsNoSlots_andTheSubmitterSaysSoInOneLine() throws Exception {
    // Runs last: it leaves the cluster without TaskManagers.
    Path dir = Files.createDirectories(ROOT.resolve("no-slots"));
    byte[] data = new byte[1 << 20];
    new Random(99).nextBytes(data);
    ImageBuilder.image().layer(layer().file("blob.bin", data, 0644), Compression.GZIP).tag("v1").writeLayout(dir.resolve("img"));
    Files.writeString(dir.resolve("catalog.jsonl"), "oci:" + dir.resolve("img") + ":v1\n");
    try (FifoBlob gate = FifoBlob.replace(largestBlob(dir.resolve("img")))) {
      // One restart, after the JobManager has dropped the killed TaskManagers (heartbeat timeout 20 s):
      // the restarted job then waits for slots that never come, slot.request.timeout (here 10 s).
      Process submitter = start("--catalog=" + dir.resolve("catalog.jsonl"), "--outputPrefix=" + dir.resolve("out"),
          "--resultsPrefix=" + dir.resolve("results") + "/", "--numberOfExecutionRetries=1", "--executionRetryDelay=25000");
      List<Process> taskManagers = cluster.taskManagers();
      gate.awaitReader(taskManagers.stream().map(Process::pid).toList(), Duration.ofMinutes(5), submitter::isAlive);
      for (Process tm : taskManagers) {
        cluster.kill(tm);
      }
      assertThat(submitter.waitFor(5, TimeUnit.MINUTES)).as("the job ends").isTrue();
      String log = Files.readString(ROOT.resolve("submitter.log"));
      assertThat(submitter.exitValue()).as(log).isNotZero();
      List<String> errors = log.lines().filter(l -> l.startsWith("ocirender: error:")).toList();
      assertThat(errors).as(log).hasSize(1);
      assertThat(errors.get(0)).contains("did not give the job its task slots in time").contains("--parallelism");
    }
  }

  /** The layout's largest blob: the big layer. */
  private static Path largestBlob(Path layout) throws IOException {
    try (Stream<Path> s = Files.list(layout.resolve("blobs/sha256"))) {
      return s.max(java.util.Comparator.comparingLong(p -> p.toFile().length())).orElseThrow();
    }
  }

  private static String lastJobId() throws Exception {
    JsonNode latest = null;
    for (JsonNode j : cluster.get("/jobs/overview").orElseThrow().path("jobs")) {
      if (latest == null || j.path("start-time").asLong() > latest.path("start-time").asLong()) {
        latest = j;
      }
    }
    return latest.path("jid").asText();
  }

  private record Submission(int exitCode, String log) {}

  private static Submission submit(String... options) throws Exception {
    Process p = start(options);
    assertThat(p.waitFor(10, TimeUnit.MINUTES)).isTrue();
    return new Submission(p.exitValue(), Files.readString(ROOT.resolve("submitter.log"), StandardCharsets.UTF_8));
  }

  /** {@code scripts/catalog-pipeline.sh flink-cluster --no-build --flinkMaster=… OPTIONS}, output to submitter.log. */
  private static Process start(String... options) throws IOException {
    List<String> command = new ArrayList<>(List.of("scripts/catalog-pipeline.sh", "flink-cluster", "--no-build",
        "--flinkMaster=" + cluster.restAddress()));
    command.addAll(List.of(options));
    return new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(ROOT.resolve("submitter.log").toFile()).start();
  }

  /** Records by line, timings dropped, each run's own root replaced by a placeholder. */
  private static Map<Long, String> normalised(CatalogFixture f, String prefix) throws IOException {
    Map<Long, String> records = CatalogFixture.comparable(CatalogFixture.readRecords(f.root.resolve("run"), prefix));
    // Default output names embed the (run-specific) reference; compare them by which image they are for.
    records.replaceAll((line, json) -> json
        .replace(f.defaultOutput(f.imageB), "DEFAULT-OUTPUT-B")
        .replace(f.defaultOutput(f.imageC), "DEFAULT-OUTPUT-C")
        .replace(f.defaultOutput(f.imageA, OutputFormat.SQUASHFS), "DEFAULT-OUTPUT-A-SQUASHFS")
        .replace(f.root.toString(), "ROOT"));
    return records;
  }

  private static List<String> listing(Path dir) throws IOException {
    if (!Files.isDirectory(dir)) {
      return List.of();
    }
    try (Stream<Path> s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  private static void deleteTree(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> s = Files.walk(dir)) {
      for (Path p : s.sorted((a, b) -> b.getNameCount() - a.getNameCount()).toList()) {
        Files.delete(p);
      }
    }
  }
}
