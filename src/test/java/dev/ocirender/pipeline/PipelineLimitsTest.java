package dev.ocirender.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.ocirender.testing.ImageBuilder;
import dev.ocirender.testing.LayerBuilder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.apache.beam.sdk.PipelineResult;
import org.apache.beam.sdk.options.PipelineOptionsFactory;
import org.apache.beam.sdk.testing.TestPipeline;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The pipeline's limit options reach the render and the output verification on DirectRunner: a
 * path 5 000 levels deep is a dead letter under the default depth limit, naming the layer and the
 * entry, and renders (and verifies) with {@code --maxPathDepth=6000}.
 */
class PipelineLimitsTest {

  @TempDir Path root;

  private Path catalog() throws Exception {
    String deep = IntStream.range(0, 5_000).mapToObj(i -> "d").collect(Collectors.joining("/"));
    Path img = root.resolve("deep");
    ImageBuilder.of(LayerBuilder.layer().file(deep + "/leaf", "deep", 0644)).tag("v1").writeLayout(img);
    return Files.writeString(root.resolve("catalog.jsonl"), "oci:" + img + ":v1\n");
  }

  private void run(Path catalog, String results, String... extra) {
    String[] args = Stream.concat(Stream.of("--catalog=" + catalog, "--outputPrefix=" + root.resolve("out-" + results),
        "--resultsPrefix=" + root.resolve(results) + "/", "--verifyOutputs=true"), Stream.of(extra)).toArray(String[]::new);
    CatalogPipelineOptions options = PipelineOptionsFactory.fromArgs(args).withValidation().as(CatalogPipelineOptions.class);
    TestPipeline pipeline = TestPipeline.fromOptions(options).enableAbandonedNodeEnforcement(false);
    CatalogPipeline.write(CatalogPipeline.expand(pipeline, options), options.getResultsPrefix());
    assertThat(pipeline.run().waitUntilFinish()).isEqualTo(PipelineResult.State.DONE);
  }

  @Test
  void deepPath_isADeadLetterByDefault_andRendersWithARaisedDepthLimit() throws Exception {
    Path catalog = catalog();
    run(catalog, "default");
    List<JsonNode> dead = CatalogFixture.readRecords(root.resolve("default"), "dead-letters");
    assertThat(dead).hasSize(1);
    assertThat(dead.get(0).get("message").asText()).contains("layer 0").contains("entry 'd/d/d")
        .contains("5001 levels deep, beyond the limit of 4096");
    assertThat(CatalogFixture.readRecords(root.resolve("default"), "results")).isEmpty();

    run(catalog, "raised", "--maxPathDepth=6000");
    assertThat(CatalogFixture.readRecords(root.resolve("raised"), "dead-letters")).isEmpty();
    List<JsonNode> results = CatalogFixture.readRecords(root.resolve("raised"), "results");
    assertThat(results).hasSize(1);
    assertThat(results.get(0).get("status").asText()).isEqualTo(Records.RENDERED);
    // The verifier read the output and the image back within the same raised limit.
    assertThat(results.get(0).get("verified").asBoolean()).as(results.get(0).toString()).isTrue();
    assertThat(Files.size(Path.of(results.get(0).get("output").asText()))).isPositive();
  }
}
