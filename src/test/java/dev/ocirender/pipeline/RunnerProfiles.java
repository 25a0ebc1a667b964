package dev.ocirender.pipeline;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The job definitions of {@code pipelines/catalog-render/}, read the way
 * {@code scripts/catalog-pipeline.sh} reads them, so tests exercise the files users run.
 */
public final class RunnerProfiles {

  /** The catalog-render job folder; tests run with the repository root as working directory. */
  public static final Path JOB = Path.of("pipelines", "catalog-render");

  private RunnerProfiles() {}

  /** The options of {@code runners/NAME.args}: one per line, blank lines and # comments skipped. */
  public static List<String> options(String name) throws IOException {
    return Files.readAllLines(JOB.resolve("runners").resolve(name + ".args")).stream()
        .map(String::strip)
        .filter(l -> !l.isEmpty() && !l.startsWith("#"))
        .toList();
  }
}
