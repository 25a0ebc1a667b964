package dev.ocirender.pipeline;

import static dev.ocirender.testing.LayerBuilder.layer;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.ocirender.store.FakeGcsServer;
import dev.ocirender.store.OutputStores;
import dev.ocirender.testing.ImageBuilder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.beam.sdk.PipelineResult;
import org.apache.beam.sdk.options.PipelineOptionsFactory;
import org.apache.beam.sdk.testing.TestPipeline;
import org.apache.beam.sdk.transforms.Create;
import org.apache.beam.sdk.transforms.ParDo;
import org.apache.beam.sdk.values.PCollectionTuple;
import org.apache.beam.sdk.values.TupleTagList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A runner retry of the render step, as Dataflow and Flink do it after a lost worker or a failed
 * task: the same {@link ImageGroup} (no replaced version: {@code SkipExisting} did not see the
 * first attempt's output) goes through {@link RenderImages.RenderImageFn} twice on DirectRunner,
 * against each store: local files, the Beam FileSystems store (on the local disk) and GCS (the real
 * google-cloud-storage client against {@link FakeGcsServer}, our test server speaking the GCS JSON
 * API, since no real GCS can be reached here). Both attempts answer {@code rendered} for the same
 * object, nothing is overwritten, and no dead letter appears; an output written for another
 * digest is refused with a dead letter that says another writer owns it.
 */
class RenderImageRetryTest {

  @TempDir Path root;
  private FakeGcsServer gcs;

  @BeforeEach
  void startGcs() throws Exception {
    gcs = new FakeGcsServer();
  }

  @AfterEach
  void stopGcs() {
    gcs.close();
  }

  @Test
  void sameGroupRenderedTwice_answersRenderedForTheSameObject_otherDigestThereIsADeadLetter() throws Exception {
    ImageBuilder.Layout a = ImageBuilder.image()
        .layer(layer().dir("etc", 0755).file("etc/os-release", "ID=retry\n", 0644))
        .layer(layer().file("app/run.sh", "#!/bin/sh\necho a\n", 0755))
        .tag("v1").writeLayout(root.resolve("images/a"));
    ImageBuilder.Layout b = ImageBuilder.image()
        .layer(layer().file("other", "another image", 0644))
        .tag("v1").writeLayout(root.resolve("images/b"));
    String imageA = "oci:" + a.dir() + ":v1";
    String imageB = "oci:" + b.dir() + ":v1";
    String digestA = a.manifest().digest().toString();
    String digestB = b.manifest().digest().toString();
    Path local = root.resolve("out/local/a.tar");
    Path viaFileSystems = root.resolve("out/fs/a.tar");
    String gcsUri = "gs://bucket/out/a.tar";
    OutputStores plain = new OutputStores(gcs.host());
    OutputStores fileSystems = plain.withLocalPathsThroughFileSystems();

    List<Target> targets = List.of(new Target("local", plain, local.toString()),
        new Target("filesystems", fileSystems, viaFileSystems.toString()),
        new Target("gcs", plain, gcsUri));

    // First attempt, then the retry of the very same groups.
    Run first = run("first", targets, imageA, digestA);
    Run retry = run("retry", targets, imageA, digestA);
    byte[] cli = CatalogFixture.renderAloneTo(root.resolve("cli.tar"), imageA);
    for (Run r : List.of(first, retry)) {
      assertThat(r.deadLetters).as(r.name).isEmpty();
      assertThat(r.results).as(r.name).hasSize(targets.size() + 1); // + the duplicate of the local group
      assertThat(r.metrics).as(r.name).containsEntry(PipelineMetrics.IMAGES_RENDERED, 3L)
          .containsEntry(PipelineMetrics.IMAGES_DUPLICATE, 1L);
      assertThat(r.metrics.getOrDefault(PipelineMetrics.DEAD_LETTERS, 0L)).isZero();
    }
    for (Target t : targets) {
      JsonNode one = byOutput(first.results, t.uri, Records.RENDERED);
      JsonNode two = byOutput(retry.results, t.uri, Records.RENDERED);
      assertThat(two.get("manifestDigest").asText()).isEqualTo(digestA);
      assertThat(two.get("outputSha256")).as(t.name).isEqualTo(one.get("outputSha256"));
      assertThat(two.get("outputSize")).as(t.name).isEqualTo(one.get("outputSize"));
      assertThat(two.get("outputSha256").asText()).isEqualTo(CatalogPipelineDirectRunnerTest.sha256(cli));
    }
    JsonNode dup = byOutput(retry.results, local.toString(), Records.DUPLICATE);
    assertThat(dup.get("line").asLong()).isEqualTo(2);
    // The bytes are the CLI's, and the retry replaced nothing (same GCS generation).
    assertThat(Files.readAllBytes(local)).isEqualTo(cli);
    assertThat(Files.readAllBytes(viaFileSystems)).isEqualTo(cli);
    assertThat(gcs.get("bucket", "out/a.tar").content()).isEqualTo(cli);
    assertThat(gcs.get("bucket", "out/a.tar").generation()).isEqualTo(generationAfterFirst);
    assertNoTemporaryFiles();

    // Another image aimed at the same outputs: refused, the outputs stay as they were.
    Run foreign = run("foreign", targets, imageB, digestB);
    assertThat(foreign.results).isEmpty();
    assertThat(foreign.deadLetters).hasSize(targets.size() + 1);
    assertThat(foreign.deadLetters).allSatisfy(d -> {
      assertThat(d.get("stage").asText()).isEqualTo("render");
      assertThat(d.get("errorClass").asText()).isEqualTo("dev.ocirender.store.OutputExistsException");
      assertThat(d.get("message").asText()).contains("owned by another writer").contains(digestA).contains(digestB);
    });
    assertThat(foreign.metrics).containsEntry(PipelineMetrics.DEAD_LETTERS, 4L).containsEntry(PipelineMetrics.IMAGES_FAILED, 3L);
    assertThat(foreign.metrics.getOrDefault(PipelineMetrics.IMAGES_DUPLICATE, 0L)).isZero();
    assertThat(Files.readAllBytes(local)).isEqualTo(cli);
    assertThat(Files.readAllBytes(viaFileSystems)).isEqualTo(cli);
    assertThat(gcs.get("bucket", "out/a.tar").content()).isEqualTo(cli);
    assertNoTemporaryFiles();
  }

  private long generationAfterFirst;

  private record Target(String name, OutputStores stores, String uri) {}

  private record Run(String name, List<JsonNode> results, List<JsonNode> deadLetters, Map<String, Long> metrics) {}

  /** One pipeline: a group per target (the local one with a duplicate line) through RenderImageFn. */
  private Run run(String name, List<Target> targets, String image, String digest) throws Exception {
    String resultsPrefix = root.resolve(name) + "/";
    CatalogPipelineOptions options = PipelineOptionsFactory.fromArgs("--catalog=unused", "--outputPrefix=unused",
        "--resultsPrefix=" + resultsPrefix).as(CatalogPipelineOptions.class);
    TestPipeline pipeline = TestPipeline.fromOptions(options).enableAbandonedNodeEnforcement(false);
    WorkerRegistries.Settings settings = WorkerRegistries.Settings.from(options);
    RenderImages.Limits limits = new RenderImages.Limits(Duration.ofMinutes(5), 0);
    List<PCollectionTuple> outs = new ArrayList<>();
    long line = 1;
    for (Target t : targets) {
      List<ResolvedRequest> duplicates = new ArrayList<>();
      ResolvedRequest canonical = request(line++, image, digest, t.uri);
      if (t.name.equals("local")) {
        duplicates.add(request(line++, image, digest, t.uri));
      }
      ImageGroup group = new ImageGroup(canonical, duplicates, null);
      outs.add(pipeline.apply("Group-" + t.name, Create.of(group).withCoder(ElementCoders.ImageGroupCoder.of()))
          .apply("Render-" + t.name, ParDo.of(new RenderImages.RenderImageFn(t.stores, settings, false, limits))
              .withOutputTags(CatalogPipeline.RESULTS, TupleTagList.of(CatalogPipeline.DEAD_LETTERS))));
    }
    var results = org.apache.beam.sdk.values.PCollectionList.of(outs.stream().map(o -> o.get(CatalogPipeline.RESULTS)).toList())
        .apply("Results", org.apache.beam.sdk.transforms.Flatten.pCollections());
    var deadLetters = org.apache.beam.sdk.values.PCollectionList.of(outs.stream().map(o -> o.get(CatalogPipeline.DEAD_LETTERS)).toList())
        .apply("DeadLetters", org.apache.beam.sdk.transforms.Flatten.pCollections());
    CatalogPipeline.write(new CatalogPipeline.Outputs(results, deadLetters), resultsPrefix);
    PipelineResult result = pipeline.run();
    result.waitUntilFinish();
    if (name.equals("first")) {
      generationAfterFirst = gcs.get("bucket", "out/a.tar").generation();
    }
    return new Run(name, CatalogFixture.readRecords(root.resolve(name), "results"),
        CatalogFixture.readRecords(root.resolve(name), "dead-letters"), CatalogFixture.counters(result));
  }

  private static ResolvedRequest request(long line, String image, String digest, String output) {
    return new ResolvedRequest(new ImageRequest("catalog.jsonl", line, image, image, "linux/amd64", "tar", output), digest, 1);
  }

  private static JsonNode byOutput(List<JsonNode> records, String output, String status) {
    return records.stream().filter(n -> n.get("output").asText().equals(output) && n.get("status").asText().equals(status))
        .findFirst().orElseThrow(() -> new AssertionError("no " + status + " record for " + output + " in " + records));
  }

  private void assertNoTemporaryFiles() throws Exception {
    try (Stream<Path> files = Files.walk(root.resolve("out"))) {
      assertThat(files.map(p -> p.getFileName().toString())).noneMatch(n -> n.contains(".tmp-"));
    }
  }
}
