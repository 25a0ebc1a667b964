package dev.ocirender.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.ocirender.image.Platform;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.apache.beam.sdk.PipelineResult;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --verifyOutputs}: every rendered output is read back and compared with its image; the
 * verdict is in the results record, and an output that does not match its image is a dead letter.
 */
class CatalogPipelineVerifyTest {

  @TempDir Path root;

  @Test
  void verifyOutputs_recordsTheVerdictForEveryRenderedOutput() throws Exception {
    CatalogFixture f = new CatalogFixture(root);
    PipelineResult result = CatalogPipelineDirectRunnerTest.run(f, f.args("run1", "--verifyOutputs=true"));
    Map<String, Long> m = CatalogFixture.counters(result);
    // Four renders: three tars and image A again as squashfs, each read back and verified.
    assertThat(m).containsEntry(PipelineMetrics.IMAGES_RENDERED, 4L)
        .containsEntry(PipelineMetrics.OUTPUTS_VERIFIED, 4L);
    assertThat(m.getOrDefault(PipelineMetrics.OUTPUTS_MISMATCHED, 0L)).isZero();
    List<JsonNode> results = CatalogFixture.readRecords(root.resolve("run1"), "results");
    assertThat(CatalogPipelineDirectRunnerTest.statusByLine(results, "status")).isEqualTo(f.expectedResults);
    for (JsonNode r : results) {
      if (!r.get("status").asText().equals(Records.SKIPPED)) {
        assertThat(r.get("verified").asBoolean()).as(r.toString()).isTrue();
        assertThat(r.get("verification").asText()).startsWith("equal: ");
      }
    }
  }

  @Test
  void anOutputThatDiffersFromItsImage_isReportedWithItsDifferences() throws Exception {
    CatalogFixture f = new CatalogFixture(root);
    Path output = root.resolve("wrong.tar");
    Files.write(output, f.renderAlone(f.imageB)); // image B's filesystem, checked against image A
    OutputVerifier.Verdict v = OutputVerifier.verify(output.toString(), "tar", f.imageA, Platform.LINUX_AMD64);
    assertThat(v.equal()).isFalse();
    assertThat(v.summary()).startsWith("different: ");
    assertThat(v.firstDifferences()).isNotBlank();
    OutputVerifier.Verdict same = OutputVerifier.verify(output.toString(), "tar", f.imageB, Platform.LINUX_AMD64);
    assertThat(same.equal()).as(same.summary()).isTrue();
  }
}
