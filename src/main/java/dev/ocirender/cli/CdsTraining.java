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
 * The training run for the command line's class-data sharing archive: {@code bin/ocirender} runs this
 * once per jar and JVM with {@code -XX:ArchiveClassesAtExit}, so that later commands map the classes it
 * loaded (picocli's, Jackson's, the render path's) from the archive instead of reading, parsing and
 * verifying them again at every start.
 *
 * <p>It does what a user does with the CLI, in one JVM and on the built-in sample image in a temporary
 * directory: {@code sample}, {@code inspect}, {@code render} to tar, squashfs and a directory, and
 * {@code verify}; the outputs are discarded. A command that fails makes the run fail, so no archive is
 * kept from a broken run.
 */
public final class CdsTraining {

  private CdsTraining() {}

  public static void main(String[] args) throws IOException {
    Path work = Files.createTempDirectory("ocirender-cds-");
    try {
      String spec = run("sample", work.resolve("layout").toString()).strip();
      run("inspect", spec);
      run("inspect", spec, "--json");
      run("render", spec, "--format", "tar", "--output", work.resolve("out.tar").toString());
      run("render", spec, "--format", "squashfs", "--output", work.resolve("out.sqfs").toString());
      run("render", spec, "--format", "dir", "--output", work.resolve("rootfs").toString());
      run("verify", work.resolve("out.tar").toString(), "--reference", spec);
      run("--version");
    } finally {
      try (Stream<Path> paths = Files.walk(work)) {
        for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
          Files.deleteIfExists(p);
        }
      }
    }
    System.exit(0);
  }

  /** Runs one command in this JVM and returns its stdout; throws when it does not exit with 0. */
  private static String run(String... args) {
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
}
