package dev.ocirender.cli;

import dev.ocirender.io.NativeLibraries;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/**
 * The training run for the pipeline's class-data sharing archive: {@code bin/ocirender pipeline} runs
 * this once per build of the whole jar and JVM with {@code -XX:DumpLoadedClassList}, then dumps the
 * listed classes into a static archive ({@code -Xshare:dump}), so that later jobs map the classes it loaded (Beam's SDK and DirectRunner, the job's options proxy, coders, TextIO, our
 * steps, the render path) from the archive instead of reading, parsing and verifying them at every start.
 * {@link CdsTraining} does the same for the command-line jar; this one is only in the whole jar.
 *
 * <p>It runs what a user runs, in one JVM, on the built-in sample image and a variant of it in a
 * temporary directory: {@code pipeline --dry-run}, then one DirectRunner job that renders a tar and a
 * squashfs output, with a layer cache, progress log lines and {@code --metrics-json}; the outputs are
 * discarded. A command that fails, or a job that leaves a dead letter, makes the run fail, so no archive
 * is kept from a broken run.
 */
public final class PipelineCdsTraining {

  private PipelineCdsTraining() {}

  public static void main(String[] args) throws IOException {
    NativeLibraries.prepare(); // as Main.main does, so the training loads what a command loads
    Path work = Files.createTempDirectory("ocirender-pipeline-cds-");
    try {
      String sample = SampleImage.write(work.resolve("sample")).strip();
      String variant = SampleImage.write(work.resolve("variant"), 1).strip();
      Path catalog = work.resolve("catalog.jsonl");
      Files.write(catalog, List.of(
          "{\"image\": \"" + sample + "\"}",
          "{\"image\": \"" + variant + "\", \"format\": \"squashfs\"}"));
      String[] job = {"--catalog=" + catalog, "--outputPrefix=" + work.resolve("out"),
          "--resultsPrefix=" + work.resolve("results") + "/", "--layerCacheDir=" + work.resolve("layer-cache"),
          "--runner=DirectRunner", "--targetParallelism=2"};
      TrainingRuns.run(concat(new String[] {"pipeline", "--dry-run"}, job));
      TrainingRuns.run(concat(new String[] {"pipeline", "--progress=log", "--progress-interval=1",
          "--metrics-json=" + work.resolve("metrics.json")}, job));
      try (Stream<Path> files = Files.list(work.resolve("results"))) {
        for (Path f : files.filter(p -> p.getFileName().toString().startsWith("dead-letters")).toList()) {
          if (Files.size(f) > 0) {
            throw new IllegalStateException("training job left dead letters: " + Files.readString(f));
          }
        }
      }
    } finally {
      TrainingRuns.deleteTree(work);
    }
    System.exit(0);
  }

  private static String[] concat(String[] a, String[] b) {
    String[] all = new String[a.length + b.length];
    System.arraycopy(a, 0, all, 0, a.length);
    System.arraycopy(b, 0, all, a.length, b.length);
    return all;
  }

}
