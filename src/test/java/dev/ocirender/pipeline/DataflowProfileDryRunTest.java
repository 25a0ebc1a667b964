package dev.ocirender.pipeline;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import org.apache.beam.runners.dataflow.DataflowRunner;
import org.apache.beam.sdk.options.PipelineOptionsFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The Dataflow runner profile ({@code runners/dataflow.args}), built and validated by DataflowRunner
 * itself but never submitted: this machine has no Google credentials and no route to Google, so a
 * dry run that tried to stage files, check buckets or create a job would fail here, after Beam's
 * retries (minutes), which is what the timeout catches.
 */
@Timeout(120)
class DataflowProfileDryRunTest {

  /** What a site adds to the profile: its project, buckets and service account (terraform outputs). */
  static final List<String> SITE = List.of(
      "--project=example-project",
      "--tempLocation=gs://example-temp/dataflow/tmp",
      "--serviceAccount=ocirender-worker@example-project.iam.gserviceaccount.com",
      "--catalog=gs://example-catalogs/public-registry-example.jsonl",
      "--outputPrefix=gs://example-outputs/rootfs",
      "--resultsPrefix=gs://example-results/runs/1/");

  static CatalogPipelineOptions options(List<String> extra) throws Exception {
    List<String> args = new ArrayList<>(RunnerProfiles.options("dataflow"));
    args.addAll(extra);
    PipelineOptionsFactory.register(CatalogPipelineOptions.class);
    return PipelineOptionsFactory.fromArgs(args.toArray(String[]::new)).withValidation().as(CatalogPipelineOptions.class);
  }

  @Test
  void dataflowProfile_dryRun_buildsTheWholeGraphAndReportsTheJobParameters() throws Exception {
    CatalogPipelineOptions options = options(SITE);
    assertThat(options.getRunner()).isEqualTo(DataflowRunner.class);

    DryRun.Report report = DryRun.of(options);

    assertThat(report.runner()).isEqualTo("DataflowRunner");
    assertThat(report.parameters())
        .containsEntry("catalog", "gs://example-catalogs/public-registry-example.jsonl")
        .containsEntry("outputPrefix", "gs://example-outputs/rootfs")
        .containsEntry("resultsPrefix", "gs://example-results/runs/1/")
        .containsEntry("format", "tar")
        .containsEntry("platform", "linux/amd64")
        .containsEntry("overwrite", "false")
        .containsEntry("project", "example-project")
        .containsEntry("region", "us-central1")
        .containsEntry("workerMachineType", "n2-standard-4")
        .containsEntry("diskSizeGb", "250")
        .containsEntry("maxNumWorkers", "20")
        .containsEntry("serviceAccount", "ocirender-worker@example-project.iam.gserviceaccount.com")
        .containsKey("experiments");
    assertThat(report.parameters().get("experiments")).contains("use_runner_v2");
    // Every stage of the job, in order, down to the two writers of results and dead letters.
    assertThat(report.steps()).anyMatch(s -> s.startsWith("ReadCatalog/"))
        .anyMatch(s -> s.startsWith("ResolveImages/"))
        .anyMatch(s -> s.startsWith("DeduplicateImages/"))
        .anyMatch(s -> s.startsWith("SkipExisting/"))
        .anyMatch(s -> s.startsWith("RenderImages/RenderImage"))
        .anyMatch(s -> s.startsWith("WriteResults/"))
        .anyMatch(s -> s.startsWith("WriteDeadLetters/"));
    assertThat(report.toJson()).contains("\"runner\" : \"DataflowRunner\"", "\"diskSizeGb\" : \"250\"");
  }

  @Test
  void dataflowProfile_localTempLocation_isRefusedByTheRunnersValidation() throws Exception {
    List<String> local = new ArrayList<>(SITE.stream().filter(a -> !a.startsWith("--tempLocation=")).toList());
    local.add("--tempLocation=/tmp/not-a-bucket");
    assertThatThrownBy(() -> DryRun.of(options(local)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasStackTraceContaining("Dataflow needs a gs:// path, not '/tmp/not-a-bucket'");
  }

  @Test
  void dataflowProfile_withoutTempLocation_isRefusedRatherThanCreatingABucket() throws Exception {
    List<String> none = SITE.stream().filter(a -> !a.startsWith("--tempLocation=")).toList();
    assertThatThrownBy(() -> DryRun.of(options(none)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("--tempLocation=gs://");
  }

  @Test
  void dataflowProfile_badDefaultFormat_isRefusedBeforeAnythingRuns() throws Exception {
    List<String> bad = new ArrayList<>(SITE);
    bad.add("--format=zip");
    assertThatThrownBy(() -> DryRun.of(options(bad))).isInstanceOf(IllegalArgumentException.class);
  }
}
