package dev.ocirender.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.ocirender.render.OutputFormat;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.beam.sdk.PipelineResult;
import org.apache.beam.sdk.options.PipelineOptionsFactory;
import org.apache.beam.sdk.testing.PAssert;
import org.apache.beam.sdk.testing.TestPipeline;
import org.apache.beam.sdk.transforms.MapElements;
import org.apache.beam.sdk.values.TypeDescriptors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The catalog pipeline end to end on DirectRunner: a first run renders the good images once each,
 * answers every other line with a duplicate result or a dead letter, and writes outputs that equal
 * single-image renders byte for byte; a second run over the same catalog renders nothing.
 */
class CatalogPipelineDirectRunnerTest {

  @TempDir Path root;

  @Test
  void mixedCatalog_rendersOnce_deadLettersFailures_secondRunSkipsEverything() throws Exception {
    CatalogFixture f = new CatalogFixture(root);

    // First run
    PipelineResult first = run(f, f.args("run1"));
    Map<String, Long> m1 = CatalogFixture.counters(first);
    assertThat(m1).containsEntry(PipelineMetrics.CATALOG_LINES, 9L)
        .containsEntry(PipelineMetrics.IMAGES_RENDERED, 4L)
        .containsEntry(PipelineMetrics.IMAGES_DUPLICATE, 1L)
        .containsEntry(PipelineMetrics.DEAD_LETTERS, 4L)
        .containsEntry(PipelineMetrics.IMAGES_FAILED, 2L)
        .containsEntry(PipelineMetrics.LAYERS, 9L) // A (2, twice: tar and squashfs) + B (3) + C (2)
        .containsEntry(PipelineMetrics.WHITEOUTS, 3L) // A's, twice, and B's opaque marker
        .containsEntry(PipelineMetrics.RENDER_MILLIS + ".count", 4L);
    assertThat(m1.get(PipelineMetrics.BYTES_FETCHED)).isPositive();
    assertThat(m1.get(PipelineMetrics.ENTRIES)).isPositive();

    List<JsonNode> results = CatalogFixture.readRecords(root.resolve("run1"), "results");
    List<JsonNode> deadLetters = CatalogFixture.readRecords(root.resolve("run1"), "dead-letters");
    assertThat(statusByLine(results, "status")).isEqualTo(f.expectedResults);
    assertThat(statusByLine(deadLetters, "stage")).isEqualTo(f.expectedDeadLetters);

    // Outputs equal single-image renders, byte for byte, and the records describe them.
    record Rendered(String image, OutputFormat format, String output) {}
    List<Rendered> rendered = List.of(
        new Rendered(f.imageA, OutputFormat.TAR, f.customOutputA),
        new Rendered(f.imageA, OutputFormat.SQUASHFS, f.defaultOutput(f.imageA, OutputFormat.SQUASHFS)),
        new Rendered(f.imageB, OutputFormat.TAR, f.defaultOutput(f.imageB)),
        new Rendered(f.imageC, OutputFormat.TAR, f.defaultOutput(f.imageC)));
    long written = 0;
    for (Rendered r : rendered) {
      byte[] alone = f.renderAlone(r.image(), r.format());
      byte[] piped = Files.readAllBytes(Path.of(r.output()));
      assertThat(piped).as(r.toString()).isEqualTo(alone);
      written += piped.length;
    }
    assertThat(byLine(results, 8).get("output").asText()).isEqualTo(f.defaultOutput(f.imageA, OutputFormat.SQUASHFS));
    assertThat(m1).containsEntry(PipelineMetrics.BYTES_WRITTEN, written);
    JsonNode lineA = byLine(results, 2);
    assertThat(lineA.get("output").asText()).isEqualTo(f.customOutputA);
    assertThat(lineA.get("outputSha256").asText()).isEqualTo(sha256(Files.readAllBytes(Path.of(f.customOutputA))));
    assertThat(lineA.get("outputSize").asLong()).isEqualTo(Files.size(Path.of(f.customOutputA)));
    JsonNode dup = byLine(results, 6);
    assertThat(dup.get("output").asText()).isEqualTo(f.customOutputA);
    assertThat(dup.get("manifestDigest").asText()).isEqualTo(lineA.get("manifestDigest").asText());
    assertThat(dup.get("duplicateOf").get("line").asLong()).isEqualTo(2);

    // Dead letters keep the line, its number, the error and the stack trace.
    JsonNode malformed = byLine(deadLetters, 7);
    assertThat(malformed.get("text").asText()).isEqualTo("{\"image\": \"oci:broken");
    assertThat(malformed.get("message").asText()).startsWith("not valid JSON");
    assertThat(byLine(deadLetters, 9).get("message").asText()).contains("cannot go to gs://bucket/a");
    JsonNode corrupt = byLine(deadLetters, 10);
    assertThat(corrupt.get("message").asText()).containsIgnoringCase("digest");
    assertThat(corrupt.get("errorClass").asText()).isEqualTo("dev.ocirender.render.RenderException");
    assertThat(corrupt.get("stackTrace").asText()).contains("at dev.ocirender.");
    // A failed render publishes nothing, not even a temporary file: no file bears the name of a
    // failed line's output (temporaries are ".NAME.tmp-…"). Names, not substrings of them: an
    // output name holds a hash of the (random) temporary path, which may spell anything.
    List<String> failedOutputs = List.of(Path.of(f.defaultOutput(f.badImage)).getFileName().toString(),
        Path.of(f.defaultOutput(f.missingImage)).getFileName().toString());
    try (var files = Files.walk(f.outputs)) {
      assertThat(files.filter(Files::isRegularFile).map(p -> p.getFileName().toString()))
          .noneMatch(n -> failedOutputs.stream().anyMatch(n::contains)).noneMatch(n -> n.contains(".tmp-"));
    }

    // Second run: everything that was rendered is skipped; the failures fail again.
    long mtime = Files.getLastModifiedTime(Path.of(f.customOutputA)).toMillis();
    PipelineResult second = run(f, f.args("run2"));
    Map<String, Long> m2 = CatalogFixture.counters(second);
    assertThat(m2).containsEntry(PipelineMetrics.IMAGES_SKIPPED, 4L)
        .containsEntry(PipelineMetrics.IMAGES_DUPLICATE, 1L)
        .containsEntry(PipelineMetrics.DEAD_LETTERS, 4L);
    assertThat(m2.getOrDefault(PipelineMetrics.IMAGES_RENDERED, 0L)).isZero();
    assertThat(m2.getOrDefault(PipelineMetrics.BYTES_FETCHED, 0L)).isZero();
    List<JsonNode> results2 = CatalogFixture.readRecords(root.resolve("run2"), "results");
    Map<Long, String> expected2 = new TreeMap<>(f.expectedResults);
    expected2.replaceAll((line, status) -> status.equals(Records.RENDERED) ? Records.SKIPPED : status);
    assertThat(statusByLine(results2, "status")).isEqualTo(expected2);
    assertThat(byLine(results2, 2).get("outputSha256")).isEqualTo(lineA.get("outputSha256"));
    assertThat(Files.getLastModifiedTime(Path.of(f.customOutputA)).toMillis()).isEqualTo(mtime);

    // --overwrite renders again, replacing the outputs with identical bytes.
    PipelineResult third = run(f, f.args("run3", "--overwrite=true"));
    assertThat(CatalogFixture.counters(third)).containsEntry(PipelineMetrics.IMAGES_RENDERED, 4L);
    assertThat(Files.readAllBytes(Path.of(f.customOutputA))).isEqualTo(f.renderAlone(f.imageA));
  }

  /** Runs the pipeline as a TestPipeline, checking the in-flight collections with PAssert too. */
  static PipelineResult run(CatalogFixture f, String[] args) {
    CatalogPipelineOptions options = PipelineOptionsFactory.fromArgs(args).withValidation().as(CatalogPipelineOptions.class);
    TestPipeline pipeline = TestPipeline.fromOptions(options).enableAbandonedNodeEnforcement(false);
    CatalogPipeline.Outputs outputs = CatalogPipeline.expand(pipeline, options);
    CatalogPipeline.write(outputs, options.getResultsPrefix());
    PAssert.that(outputs.deadLetters().apply("DeadLetterLines",
            MapElements.into(TypeDescriptors.longs()).via(CatalogPipelineDirectRunnerTest::lineOf)))
        .containsInAnyOrder(f.expectedDeadLetters.keySet());
    PAssert.that(outputs.results().apply("ResultLines",
            MapElements.into(TypeDescriptors.longs()).via(CatalogPipelineDirectRunnerTest::lineOf)))
        .containsInAnyOrder(f.expectedResults.keySet());
    PipelineResult result = pipeline.run();
    result.waitUntilFinish();
    return result;
  }

  static Long lineOf(String json) {
    try {
      return CatalogFixture.JSON.readTree(json).get("line").asLong();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  static Map<Long, String> statusByLine(List<JsonNode> records, String field) {
    Map<Long, String> out = new TreeMap<>();
    for (JsonNode n : records) {
      assertThat(out.put(n.get("line").asLong(), n.get(field).asText())).as("one record per line").isNull();
    }
    return out;
  }

  static JsonNode byLine(List<JsonNode> records, long line) {
    return records.stream().filter(n -> n.get("line").asLong() == line).findFirst().orElseThrow();
  }

  static String sha256(byte[] bytes) throws Exception {
    return HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(bytes));
  }
}
