package dev.ocirender.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code pipeline --dry-run}: prints the job as JSON and runs nothing (no catalog read, no file written). */
class PipelineDryRunCommandTest {

  @TempDir Path tmp;

  @Test
  void dryRun_printsRunnerParametersAndSteps_andWritesNothing() throws Exception {
    MainTest.Run r = MainTest.run("pipeline", "--dry-run",
        "--catalog=" + tmp.resolve("missing-catalog.jsonl"),
        "--outputPrefix=" + tmp.resolve("outputs"),
        "--resultsPrefix=" + tmp.resolve("results") + "/",
        "--platform=linux/arm64");

    assertThat(r.exitCode()).as(r.err()).isZero();
    JsonNode job = new ObjectMapper().readTree(r.out());
    assertThat(job.path("runner").asText()).isEqualTo("DirectRunner");
    assertThat(job.path("parameters").path("platform").asText()).isEqualTo("linux/arm64");
    assertThat(job.path("parameters").path("format").asText()).isEqualTo("tar");
    assertThat(job.path("steps").toString()).contains("RenderImages/RenderImage", "WriteDeadLetters/");
    try (Stream<Path> written = Files.list(tmp)) {
      assertThat(written).isEmpty();
    }
  }

  @Test
  void dryRun_badDefaultPlatform_failsLikeARealRun() {
    MainTest.Run r = MainTest.run("pipeline", "--dry-run", "--catalog=c.jsonl", "--outputPrefix=o",
        "--resultsPrefix=r/", "--platform=not a platform");
    assertThat(r.exitCode()).isNotZero();
    assertThat(r.err()).contains("ocirender: error:");
  }
}
