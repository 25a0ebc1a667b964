package dev.ocirender.cli;

import dev.ocirender.io.Sizes;
import dev.ocirender.pipeline.CatalogPipeline;
import dev.ocirender.pipeline.CatalogPipelineOptions;
import dev.ocirender.pipeline.DryRun;
import dev.ocirender.pipeline.PipelineMetrics;
import dev.ocirender.pipeline.PipelineProgress;
import dev.ocirender.store.S3StoreOptions;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import org.apache.beam.sdk.PipelineResult;
import org.apache.beam.sdk.options.PipelineOptionsFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Unmatched;

/**
 * {@code ocirender pipeline --catalog=… --outputPrefix=… --resultsPrefix=… [beam options]}: runs
 * the catalog pipeline ({@link CatalogPipeline}) and waits for it. Every argument is a Beam
 * pipeline option and is passed through untouched ({@code --runner=FlinkRunner}, ...;
 * {@code --help=CatalogPipelineOptions} lists them); DirectRunner is the default. Prints one
 * summary line of the job's counters on stderr, and while the job runs its progress
 * ({@link PipelineProgress}: a live line on a terminal, a log line every {@code --progress-interval}
 * seconds otherwise). Exit status 0 when the job finished, even with dead
 * letters (they are the job's output too); 1 when the job itself failed.
 *
 * <p>{@code --dry-run} is this command's own flag, not a pipeline option, so that it never becomes
 * a job parameter (a Flex Template has no use for it): it builds and validates the job for its
 * runner, prints its parameters and steps as JSON on stdout and runs nothing ({@link DryRun}).
 */
@Command(name = "pipeline",
    description = {"Render every image of a catalog with the Beam pipeline (DirectRunner unless --runner says otherwise).",
        "Options are Beam's: --catalog=GLOB --outputPrefix=PREFIX --resultsPrefix=PREFIX [--format=tar] "
            + "[--platform=linux/amd64] [--overwrite] [--runner=FlinkRunner --flinkMaster=[local]]."})
final class PipelineCommand implements Callable<Integer> {

  @Spec CommandSpec spec;

  @Option(names = "--dry-run", description = "Build and validate the job for its runner (Dataflow included, offline), "
      + "print its parameters and steps as JSON, and run nothing.")
  boolean dryRun;

  @Option(names = "--progress", defaultValue = "auto", paramLabel = "auto|line|log|off",
      description = "Progress while the job runs (DirectRunner, Flink in process), on stderr: a live line (line), a log line "
          + "every --progress-interval seconds (log), or none (off). auto: line on a terminal, log otherwise. "
          + "Remote runners show it in their own UI. Default: ${DEFAULT-VALUE}.")
  String progress;

  @Option(names = "--progress-interval", defaultValue = "30", paramLabel = "SECONDS",
      description = "Seconds between progress log lines when not on a terminal. Default: ${DEFAULT-VALUE}.")
  long progressIntervalSeconds;

  @Option(names = "--metrics-json", paramLabel = "FILE",
      description = "After the job, write its counters (namespace ocirender, attempted values) to FILE as one JSON object.")
  Path metricsJson;

  @Unmatched List<String> args = new ArrayList<>();

  @Override
  public Integer call() throws IOException {
    PipelineOptionsFactory.register(CatalogPipelineOptions.class);
    PipelineOptionsFactory.register(S3StoreOptions.class); // --s3PathStyleAccess
    CatalogPipelineOptions options = PipelineOptionsFactory.fromArgs(args.toArray(String[]::new))
        .withValidation().as(CatalogPipelineOptions.class);
    if (dryRun) {
      PrintWriter out = spec.commandLine().getOut();
      out.println(DryRun.of(options).toJson());
      out.flush();
      return 0;
    }
    PrintWriter err = spec.commandLine().getErr();
    PipelineProgress.Mode mode = PipelineProgress.Mode.parse(progress, System.console() != null);
    if (progressIntervalSeconds <= 0) {
      throw new IllegalArgumentException("--progress-interval must be a positive number of seconds, got " + progressIntervalSeconds);
    }
    if (mode != PipelineProgress.Mode.OFF) {
      String elsewhere = PipelineProgress.prepare(options);
      if (elsewhere != null) {
        err.println("ocirender: " + elsewhere);
        err.flush();
        mode = PipelineProgress.Mode.OFF;
      }
    }
    PipelineResult result;
    PipelineResult.State state;
    try {
      result = CatalogPipeline.run(options);
      try (PipelineProgress shown = PipelineProgress.watch(result, mode, Duration.ofSeconds(progressIntervalSeconds), err)) {
        state = PipelineProgress.waitUntilFinish(result);
      }
    } catch (RuntimeException e) {
      throw slotShortage(e).orElseThrow(() -> e);
    }
    if (metricsJson != null) {
      Files.writeString(metricsJson, new ObjectMapper().writeValueAsString(PipelineProgress.counters(result)) + "\n");
    }
    err.println("pipeline " + state.toString().toLowerCase() + ": " + summary(result) + "; records under " + options.getResultsPrefix());
    err.flush();
    return state == PipelineResult.State.DONE ? 0 : 1;
  }

  /**
   * A job that Flink could not give its slots fails deep inside a "Pipeline execution failed"
   * exception; say what happened in one line instead.
   */
  static Optional<IOException> slotShortage(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      // NoResourceAvailableException: a slot request bulk that cannot be fulfilled; the TimeoutException
      // "Pending slot request timed out in slot pool": a restart that found no TaskManagers (FlinkClusterIT).
      if (t.getClass().getName().endsWith(".NoResourceAvailableException")
          || t instanceof java.util.concurrent.TimeoutException && String.valueOf(t.getMessage()).contains("slot request timed out")) {
        return Optional.of(new IOException("the Flink cluster did not give the job its task slots in time ("
            + Main.oneLine(t.getMessage()) + "): run with a --parallelism the cluster's free slots allow, or add TaskManagers", e));
      }
    }
    return Optional.empty();
  }

  static String summary(PipelineResult result) {
    Map<String, Long> c;
    try {
      c = PipelineProgress.counters(result);
    } catch (UnsupportedOperationException e) {
      return "no metrics from this runner";
    }
    return c.getOrDefault(PipelineMetrics.CATALOG_LINES, 0L) + " catalog lines: "
        + c.getOrDefault(PipelineMetrics.IMAGES_RENDERED, 0L) + " rendered, "
        + c.getOrDefault(PipelineMetrics.IMAGES_SKIPPED, 0L) + " skipped, "
        + c.getOrDefault(PipelineMetrics.IMAGES_DUPLICATE, 0L) + " duplicate, "
        + c.getOrDefault(PipelineMetrics.DEAD_LETTERS, 0L) + " dead letters; "
        + c.getOrDefault(PipelineMetrics.LAYERS, 0L) + " layers, "
        + Sizes.bytes(c.getOrDefault(PipelineMetrics.BYTES_FETCHED, 0L)) + " fetched, "
        + Sizes.bytes(c.getOrDefault(PipelineMetrics.BYTES_WRITTEN, 0L)) + " written";
  }
}
