package dev.ocirender.pipeline;

import static dev.ocirender.testing.LayerBuilder.layer;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ocirender.store.OutputStores;
import dev.ocirender.testing.ImageBuilder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import org.apache.beam.sdk.PipelineResult;
import org.apache.beam.sdk.options.PipelineOptionsFactory;
import org.apache.beam.sdk.testing.TestPipeline;
import org.apache.beam.sdk.transforms.Create;
import org.apache.beam.sdk.transforms.ParDo;
import org.apache.beam.sdk.values.PCollectionTuple;
import org.apache.beam.sdk.values.TupleTagList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Render what was resolved: a tag that moves between resolving and rendering neither wastes the
 * render nor fails {@code --verifyOutputs}, because workers open the reference pinned to the
 * resolved digest ({@link PinnedReference}); the records still show the reference as written.
 */
class RenderPinnedDigestTest {

  @TempDir Path root;

  @Test
  void pinnedReference_replacesTagsByTheDigest_keepsWhatCannotBePinned() {
    String d = "sha256:" + "ab".repeat(32);
    assertThat(PinnedReference.of("docker://registry.example:5000/team/app:v1", d))
        .isEqualTo("docker://registry.example:5000/team/app@" + d);
    assertThat(PinnedReference.of("docker://registry.example:5000/team/app", d))
        .isEqualTo("docker://registry.example:5000/team/app@" + d);
    assertThat(PinnedReference.of("docker://alpine:3.20@sha256:" + "cd".repeat(32), d)).isEqualTo("docker://alpine@" + d);
    assertThat(PinnedReference.of("oci:/images/a:v1", d)).isEqualTo("oci:/images/a@" + d);
    assertThat(PinnedReference.of("oci:/images/a", d)).isEqualTo("oci:/images/a@" + d);
    assertThat(PinnedReference.of("docker-archive:/images/c.tar", d)).isEqualTo("docker-archive:/images/c.tar");
    assertThat(PinnedReference.of("oci:/images/a:v1", "not-a-digest")).isEqualTo("oci:/images/a:v1");
  }

  @Test
  void tagMovedAfterResolving_rendersAndVerifiesTheResolvedManifest() throws Exception {
    Path dir = root.resolve("images/app");
    ImageBuilder.Layout before = ImageBuilder.image()
        .layer(layer().file("etc/release", "1.0\n", 0644)).tag("v1").writeLayout(dir);
    ImageBuilder.Layout after = ImageBuilder.image()
        .layer(layer().file("etc/release", "2.0, pushed while the job ran\n", 0644)).tag("v1").writeLayout(root.resolve("images/next"));
    String image = "oci:" + dir + ":v1";
    byte[] expected = CatalogFixture.renderAloneTo(root.resolve("before.tar"), image);
    moveTag(dir, after);
    assertThat(CatalogFixture.renderAloneTo(root.resolve("after.tar"), image)).as("the tag did move").isNotEqualTo(expected);

    String output = root.resolve("out/app.tar").toString();
    ResolvedRequest resolved = new ResolvedRequest(
        new ImageRequest("catalog.jsonl", 1, image, image, "linux/amd64", "tar", output), before.manifest().digest().toString(), 1);
    CatalogPipelineOptions options = PipelineOptionsFactory.fromArgs("--catalog=unused", "--outputPrefix=unused",
        "--resultsPrefix=" + root.resolve("run") + "/").as(CatalogPipelineOptions.class);
    TestPipeline pipeline = TestPipeline.fromOptions(options).enableAbandonedNodeEnforcement(false);
    PCollectionTuple out = pipeline.apply(Create.of(new ImageGroup(resolved, List.of(), null)).withCoder(ElementCoders.ImageGroupCoder.of()))
        .apply(ParDo.of(new RenderImages.RenderImageFn(new OutputStores(null), WorkerRegistries.Settings.from(options), true,
                new RenderImages.Limits(Duration.ofMinutes(5), 0)))
            .withOutputTags(CatalogPipeline.RESULTS, TupleTagList.of(CatalogPipeline.DEAD_LETTERS)));
    CatalogPipeline.write(new CatalogPipeline.Outputs(out.get(CatalogPipeline.RESULTS), out.get(CatalogPipeline.DEAD_LETTERS)),
        root.resolve("run") + "/");
    PipelineResult result = pipeline.run();
    result.waitUntilFinish();

    assertThat(CatalogFixture.readRecords(root.resolve("run"), "dead-letters")).isEmpty();
    List<JsonNode> results = CatalogFixture.readRecords(root.resolve("run"), "results");
    assertThat(results).hasSize(1);
    JsonNode r = results.get(0);
    assertThat(r.get("status").asText()).isEqualTo(Records.RENDERED);
    assertThat(r.get("image").asText()).isEqualTo(image); // as written, not the pinned form
    assertThat(r.get("manifestDigest").asText()).isEqualTo(before.manifest().digest().toString());
    assertThat(r.get("verified").asBoolean()).isTrue();
    assertThat(Files.readAllBytes(Path.of(output))).isEqualTo(expected);
  }

  /** Points tag v1 of the layout at {@code next}'s manifest (its blobs copied in); the old manifest stays, untagged. */
  private static void moveTag(Path dir, ImageBuilder.Layout next) throws Exception {
    try (Stream<Path> blobs = Files.list(next.dir().resolve("blobs/sha256"))) {
      for (Path b : blobs.toList()) {
        Files.copy(b, dir.resolve("blobs/sha256").resolve(b.getFileName()), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
      }
    }
    ObjectNode index = (ObjectNode) CatalogFixture.JSON.readTree(dir.resolve("index.json").toFile());
    ObjectNode old = (ObjectNode) index.get("manifests").get(0);
    old.remove("annotations");
    ObjectNode moved = (ObjectNode) CatalogFixture.JSON.readTree(next.dir().resolve("index.json").toFile()).get("manifests").get(0);
    ArrayNode manifests = index.putArray("manifests");
    manifests.add(moved);
    manifests.add(old);
    Files.write(dir.resolve("index.json"), CatalogFixture.JSON.writeValueAsBytes(index));
  }
}
