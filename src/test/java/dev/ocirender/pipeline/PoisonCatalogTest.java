package dev.ocirender.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import dev.ocirender.source.registry.FaultProxy;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The poison catalog: good images with hostile, broken and huge ones between them, run as a real
 * job in its own JVM with a capped heap ({@value #HEAP}), on DirectRunner and on Flink in process.
 * The job must finish; every catalog line must end in exactly one record; the good outputs must be
 * byte for byte what the single-image renderer (the CLI's) writes; each bad line's dead letter must
 * name its cause; and every metric must equal what the records count.
 *
 * <p>A huge good line: a layer of a few KB holding a 60 GiB sparse file (GNU tar's PAX sparse 1.0),
 * which must render, stay sparse in the tar output (kilobytes, well under {@code --maxOutputBytes})
 * and be identical to the CLI's output.
 *
 * <p>The bad lines: a truncated layer blob, a layer whose digest does not match, a gzip bomb (a
 * 2 MB layer of one 4 GiB file of one repeated byte, stopped by {@code --maxOutputBytes}), a layer of a million
 * empty files under the job's {@code --maxEntries} of {@value #MAX_ENTRIES} (a dead letter naming
 * the limit; no other line may meet it), a registry that
 * answers 500 to everything, an image that does not exist, a layer blob that never delivers a
 * byte (a FIFO nobody writes: the render hangs until {@code --renderTimeoutSeconds}), and a
 * duplicate (by digest) of the truncated image, which must fail with it and not count as a
 * duplicate. Lines whose fate depends on the tar reader's and the merger's limits (a path 5 000
 * directories deep, a NUL in a name, a 1 MiB name) may end either way, rendered (and then identical
 * to the CLI's output) or as a dead letter naming the cause, but never as a missing record or a
 * failed job.
 */
class PoisonCatalogTest {

  static final String HEAP = "-Xmx512m";
  private static final long MAX_OUTPUT = 64L << 20;
  private static final int TIMEOUT_SECONDS = 20;
  /** The job's entry limit: far above every other line's entry count, far below the million-entry layer's. */
  private static final long MAX_ENTRIES = 100_000;
  private static final String TOO_MANY_ENTRIES = "more than " + MAX_ENTRIES + " entries";

  @TempDir Path root;
  private FaultProxy broken;

  /** What a line must end as; {@code maxBytes}, when set, bounds a rendered output's size. */
  private record Expect(String image, String status, Pattern cause, boolean mayRender, long maxBytes) {
    static Expect rendered(String image) {
      return new Expect(image, Records.RENDERED, null, true, Long.MAX_VALUE);
    }

    static Expect renderedWithin(String image, long maxBytes) {
      return new Expect(image, Records.RENDERED, null, true, maxBytes);
    }

    static Expect duplicate(String image) {
      return new Expect(image, Records.DUPLICATE, null, true, Long.MAX_VALUE);
    }

    static Expect dead(String image, String causeRegex) {
      return new Expect(image, null, Pattern.compile(causeRegex, Pattern.CASE_INSENSITIVE | Pattern.DOTALL), false, 0);
    }

    static Expect renderedOrDead(String image, String causeRegex) {
      return new Expect(image, null, Pattern.compile(causeRegex, Pattern.CASE_INSENSITIVE | Pattern.DOTALL), true,
          Long.MAX_VALUE);
    }
  }

  /** A registry that answers 500 to everything: the test's fault proxy with every request failed (no upstream at all). */
  @BeforeEach
  void startBrokenRegistry() throws IOException {
    broken = new FaultProxy("http://127.0.0.1:9").failAllWith500();
  }

  @AfterEach
  void stopBrokenRegistry() throws Exception {
    broken.close();
  }

  @Test
  void poisonCatalog_directRunner_finishesWithOneRecordPerLine() throws Exception {
    runAndCheck(poisonCatalog(root.resolve("direct")), "direct");
  }

  @Test
  void poisonCatalog_flinkRunner_finishesWithOneRecordPerLine() throws Exception {
    runAndCheck(poisonCatalog(root.resolve("flink")), "flink", "--runner=FlinkRunner", "--flinkMaster=[local]", "--parallelism=2");
  }

  /**
   * A path 100 000 directories deep (a 200 KB PAX path) between two good images. Kept apart from the
   * catalog above because on a tree whose merge builds each directory's full path this line runs the
   * capped heap out (an {@link OutOfMemoryError}, which must fail a worker, not an image): it passes
   * once the merge is iterative and linear in path components.
   */
  @Test
  void path100000Deep_directAndFlink_endsInOneRecordAndTheJobFinishes() throws Exception {
    for (String runner : List.of("direct", "flink")) {
      Path dir = root.resolve("deep-" + runner);
      Map<Long, Expect> lines = new LinkedHashMap<>();
      List<String> text = new ArrayList<>();
      add(text, lines, Expect.rendered(PoisonImages.good(dir.resolve("images/g1"), "g1")));
      add(text, lines, Expect.renderedOrDead(PoisonImages.deepPath(dir.resolve("images/deep100k"), 100_000),
          "StackOverflowError|deep|depth|path.*(long|limit)|output size limit"));
      add(text, lines, Expect.rendered(PoisonImages.good(dir.resolve("images/g2"), "g2")));
      Files.write(dir.resolve("catalog.jsonl"), text);
      runAndCheck(new Catalog(dir, lines), runner,
          runner.equals("flink") ? new String[] {"--runner=FlinkRunner", "--flinkMaster=[local]", "--parallelism=2"} : new String[0]);
    }
  }

  private record Catalog(Path dir, Map<Long, Expect> lines) {}

  private Catalog poisonCatalog(Path dir) throws Exception {
    Map<Long, Expect> lines = new LinkedHashMap<>();
    List<String> text = new ArrayList<>();
    text.add("# poison catalog"); // line 1: not an image line
    String good1 = PoisonImages.good(dir.resolve("images/g1"), "g1");
    add(text, lines, Expect.rendered(good1));
    String truncated = PoisonImages.truncatedBlob(dir.resolve("images/truncated"));
    add(text, lines, Expect.dead(truncated, "size mismatch|truncat|unexpected end|premature|EOF"));
    add(text, lines, Expect.rendered(PoisonImages.good(dir.resolve("images/g2"), "g2")));
    add(text, lines, Expect.dead(PoisonImages.digestMismatch(dir.resolve("images/mismatch")), "digest"));
    add(text, lines, Expect.dead(PoisonImages.gzipBomb(dir.resolve("images/bomb"), 4),
        "output size limit|maxOutputBytes|expan|ratio|too large|limit"));
    add(text, lines, Expect.rendered(PoisonImages.good(dir.resolve("images/g3"), "g3")));
    add(text, lines, Expect.dead("docker://" + broken.host() + "/team/app:v1", "500"));
    add(text, lines, Expect.dead("oci:" + dir.resolve("images/missing") + ":v1", "missing|no such|not found|does not exist|not an? "));
    add(text, lines, Expect.renderedOrDead(PoisonImages.deepPath(dir.resolve("images/deep5k"), 5_000),
        "StackOverflowError|deep|depth|path.*(long|limit)"));
    add(text, lines, Expect.renderedOrDead(PoisonImages.nulInName(dir.resolve("images/nul")), "NUL|\\\\0|\\\\x00|null byte"));
    add(text, lines, Expect.renderedOrDead(PoisonImages.mebibyteName(dir.resolve("images/mib")), "long|length|limit|name"));
    add(text, lines, Expect.dead(hangingImage(dir.resolve("images/hang")), "took longer than " + TIMEOUT_SECONDS + " s"));
    add(text, lines, Expect.duplicate("oci:" + dir.resolve("images/g1") + "@" + manifestDigest(dir.resolve("images/g1"))));
    add(text, lines, Expect.dead("oci:" + dir.resolve("images/truncated") + "@" + manifestDigest(dir.resolve("images/truncated")),
        "size mismatch|truncat|unexpected end|premature|EOF"));
    add(text, lines, Expect.rendered(PoisonImages.good(dir.resolve("images/g4"), "g4")));
    add(text, lines, Expect.renderedWithin(PoisonImages.sparse60GiB(dir.resolve("images/sparse")), 64 << 10));
    add(text, lines, Expect.dead(PoisonImages.manyEntries(dir.resolve("images/million"), 1_000_000), TOO_MANY_ENTRIES));
    add(text, lines, Expect.rendered(PoisonImages.good(dir.resolve("images/g5"), "g5")));
    Files.write(dir.resolve("catalog.jsonl"), text);
    return new Catalog(dir, lines);
  }

  private static void add(List<String> text, Map<Long, Expect> lines, Expect e) {
    text.add(CatalogFixture.json("image", e.image()));
    lines.put((long) text.size(), e);
  }

  /** A layout whose layer blob is a FIFO that nobody writes: opening it blocks for good. */
  private static String hangingImage(Path dir) throws Exception {
    PoisonImages.writeLayout(dir, PoisonImages.paxTar("never".getBytes(StandardCharsets.US_ASCII), new byte[0]),
        "application/vnd.oci.image.layer.v1.tar");
    JsonNode manifest = CatalogFixture.JSON.readTree(dir.resolve("blobs/sha256/" + manifestDigest(dir).substring(7)).toFile());
    Path blob = dir.resolve("blobs/sha256/" + manifest.get("layers").get(0).get("digest").asText().substring(7));
    Files.delete(blob);
    Process p = new ProcessBuilder("mkfifo", blob.toString()).inheritIO().start();
    assertThat(p.waitFor()).as("mkfifo").isZero();
    return "oci:" + dir + ":v1";
  }

  private static String manifestDigest(Path layout) throws IOException {
    return CatalogFixture.JSON.readTree(layout.resolve("index.json").toFile()).get("manifests").get(0).get("digest").asText();
  }

  /** Runs the job in its own JVM and checks records, outputs and metrics against the expectations. */
  private void runAndCheck(Catalog c, String name, String... runnerArgs) throws Exception {
    Path outputs = c.dir().resolve("outputs");
    Path results = c.dir().resolve("results");
    Path metricsFile = c.dir().resolve("metrics.json");
    // An OutOfMemoryError ends the JVM at once, as a worker's would: without this, a runner thread that
    // dies of it can leave the job waiting forever.
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), HEAP,
        "-XX:+ExitOnOutOfMemoryError",
        "-Dpoison.metrics=" + metricsFile, "-cp", System.getProperty("java.class.path"), PoisonCatalogRun.class.getName(),
        "--catalog=" + c.dir().resolve("catalog.jsonl"), "--outputPrefix=" + outputs, "--resultsPrefix=" + results + "/",
        "--maxOutputBytes=" + MAX_OUTPUT, "--maxEntries=" + MAX_ENTRIES, "--renderTimeoutSeconds=" + TIMEOUT_SECONDS, "--registryRetries=2",
        "--registryTimeoutSeconds=10", "--blobCacheDir=" + c.dir().resolve("cache")));
    cmd.addAll(List.of(runnerArgs));
    Path log = c.dir().resolve("job.log");
    Process job = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    boolean ended = job.waitFor(6, TimeUnit.MINUTES);
    if (!ended) {
      job.destroyForcibly().waitFor();
    }
    assertThat(ended).as(name + ": the job ended within 6 minutes (log: " + tail(log) + ")").isTrue();
    assertThat(job.exitValue()).as(name + ": the job finished (log: " + tail(log) + ")").isZero();

    List<JsonNode> resultRecords = CatalogFixture.readRecords(results, "results");
    List<JsonNode> deadLetters = CatalogFixture.readRecords(results, "dead-letters");
    Map<Long, JsonNode> byLine = new LinkedHashMap<>();
    for (JsonNode n : Stream.concat(resultRecords.stream(), deadLetters.stream()).toList()) {
      assertThat(byLine.put(n.get("line").asLong(), n)).as(name + ": one record for line " + n.get("line")).isNull();
    }
    assertThat(byLine.keySet()).as(name + ": every image line has a record").containsExactlyInAnyOrderElementsOf(c.lines().keySet());

    long written = 0;
    long layers = 0;
    long entries = 0;
    long fetched = 0;
    for (Map.Entry<Long, Expect> line : c.lines().entrySet()) {
      Expect e = line.getValue();
      JsonNode r = byLine.get(line.getKey());
      String what = name + " line " + line.getKey() + " (" + abbreviate(e.image()) + "): " + abbreviate(r.toString());
      boolean isResult = r.has("status");
      if (e.status() != null) {
        assertThat(isResult ? r.get("status").asText() : "dead letter").as(what).isEqualTo(e.status());
      } else if (!e.mayRender()) {
        assertThat(isResult).as(what + " should be a dead letter").isFalse();
      } else if (isResult) {
        assertThat(r.get("status").asText()).as(what).isEqualTo(Records.RENDERED);
      }
      if (!isResult) {
        assertThat(r.get("message").asText() + " " + r.get("errorClass").asText()).as(what).containsPattern(e.cause());
        if (!e.cause().pattern().equals(TOO_MANY_ENTRIES)) {
          assertThat(r.get("message").asText()).as(what + ": the entry limit is for the million-entry line only")
              .doesNotContain(TOO_MANY_ENTRIES);
        }
        assertThat(r.get("message").asText().length()).as(what + ": bounded message").isLessThanOrEqualTo(Records.MAX_MESSAGE + 100);
        continue;
      }
      if (r.get("status").asText().equals(Records.RENDERED)) {
        Path out = Path.of(r.get("output").asText());
        byte[] cli = CatalogFixture.renderAloneTo(c.dir().resolve("cli-" + line.getKey() + ".tar"), e.image());
        assertThat(Files.readAllBytes(out)).as(what + ": identical to the CLI's render").isEqualTo(cli);
        // The 60 GiB sparse file costs kilobytes: a tar output that expanded its holes would not.
        assertThat((long) cli.length).as(what + ": output size").isLessThanOrEqualTo(e.maxBytes());
        assertThat(r.get("outputSha256").asText()).isEqualTo(CatalogPipelineDirectRunnerTest.sha256(cli));
        written += cli.length;
        layers += r.get("layers").asLong();
        entries += r.get("entries").asLong();
        fetched += r.get("bytesFetched").asLong();
      }
    }

    // Every metric against the records.
    Map<String, Long> m = CatalogFixture.JSON.readValue(metricsFile.toFile(), new TypeReference<Map<String, Long>>() {});
    long rendered = count(resultRecords, Records.RENDERED);
    long duplicates = count(resultRecords, Records.DUPLICATE);
    long failedDuplicates = c.lines().values().stream()
        .filter(e -> e.status() == null && !e.mayRender() && e.image().contains("@sha256:")).count();
    assertThat(m.getOrDefault(PipelineMetrics.CATALOG_LINES, 0L)).as(name).isEqualTo(c.lines().size());
    assertThat(m.getOrDefault(PipelineMetrics.IMAGES_RENDERED, 0L)).as(name).isEqualTo(rendered);
    assertThat(m.getOrDefault(PipelineMetrics.IMAGES_DUPLICATE, 0L)).as(name).isEqualTo(duplicates);
    assertThat(m.getOrDefault(PipelineMetrics.IMAGES_SKIPPED, 0L)).as(name).isZero();
    assertThat(m.getOrDefault(PipelineMetrics.DEAD_LETTERS, 0L)).as(name).isEqualTo(deadLetters.size());
    assertThat(m.getOrDefault(PipelineMetrics.IMAGES_FAILED, 0L)).as(name).isEqualTo(deadLetters.size() - failedDuplicates);
    assertThat(rendered + duplicates + deadLetters.size()).as(name + ": the counts add up to the catalog lines")
        .isEqualTo(m.get(PipelineMetrics.CATALOG_LINES));
    assertThat(m.getOrDefault(PipelineMetrics.IMAGES_RESOLVED, 0L)).as(name)
        .isEqualTo(c.lines().size() - deadLetters.stream().filter(d -> d.get("stage").asText().equals("resolve")).count());
    assertThat(m.getOrDefault(PipelineMetrics.BYTES_WRITTEN, 0L)).as(name).isEqualTo(written);
    assertThat(m.getOrDefault(PipelineMetrics.LAYERS, 0L)).as(name).isEqualTo(layers);
    assertThat(m.getOrDefault(PipelineMetrics.ENTRIES, 0L)).as(name).isEqualTo(entries);
    assertThat(m.getOrDefault(PipelineMetrics.BYTES_FETCHED, 0L)).as(name).isEqualTo(fetched);
    assertThat(m.getOrDefault(PipelineMetrics.RENDER_MILLIS + ".count", 0L)).as(name).isEqualTo(rendered);
    // Nothing of a failed render is left under the outputs, not even a temporary file.
    try (Stream<Path> files = Files.walk(outputs)) {
      assertThat(files.filter(Files::isRegularFile).map(p -> p.getFileName().toString())).as(name)
          .noneMatch(n -> n.contains(".tmp-"));
    }
  }

  private static long count(List<JsonNode> records, String status) {
    return records.stream().filter(r -> r.get("status").asText().equals(status)).count();
  }

  private static String abbreviate(String s) {
    return s.length() <= 600 ? s : s.substring(0, 600) + "…";
  }

  private static String tail(Path log) {
    try {
      String s = Files.readString(log);
      return s.length() <= 4000 ? s : s.substring(s.length() - 4000);
    } catch (IOException e) {
      return "(no log)";
    }
  }

}
