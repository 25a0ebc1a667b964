package dev.ocirender.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;
import picocli.CommandLine;

/**
 * What the class-data sharing training runs ({@link CdsTraining} for the command-line jar,
 * {@code PipelineCdsTraining} for the whole jar) share: running commands in this JVM as a user would,
 * and removing their scratch tree. Only in the jars' training runs, never on a command's path.
 */
final class TrainingRuns {

  private TrainingRuns() {}

  /** Runs one command in this JVM and returns its stdout; throws when it does not exit with 0. */
  static String run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cl = Main.commandLine(args);
    cl.setOut(new PrintWriter(out));
    cl.setErr(new PrintWriter(err));
    int code = cl.execute(args);
    if (code != 0) {
      throw new IllegalStateException("training command " + String.join(" ", args) + " exited with " + code + ": " + err);
    }
    return out.toString();
  }

  /** Deletes {@code root} and everything below it. */
  static void deleteTree(Path root) throws IOException {
    try (Stream<Path> paths = Files.walk(root)) {
      for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }
}
