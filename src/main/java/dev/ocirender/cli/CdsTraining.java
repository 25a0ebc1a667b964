package dev.ocirender.cli;

import dev.ocirender.io.NativeLibraries;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The training run for the command line's class-data sharing archive: {@code bin/ocirender} runs this
 * once per jar and JVM with {@code -XX:DumpLoadedClassList}, then dumps the listed classes into a
 * static archive ({@code -Xshare:dump}), so that later commands map the classes it loaded (picocli's,
 * Jackson's, the render path's) from the archive instead of reading, parsing and verifying them again
 * at every start.
 *
 * <p>It does what a user does with the CLI, in one JVM and on the built-in sample image in a temporary
 * directory: {@code sample}, {@code inspect}, {@code render} to tar, squashfs and a directory, and
 * {@code verify}; the outputs are discarded. A command that fails makes the run fail, so no archive is
 * kept from a broken run.
 */
public final class CdsTraining {

  private CdsTraining() {}

  public static void main(String[] args) throws IOException {
    NativeLibraries.prepare(); // as Main.main does, so the training loads what a command loads
    Path work = Files.createTempDirectory("ocirender-cds-");
    try {
      String spec = TrainingRuns.run("sample", work.resolve("layout").toString()).strip();
      TrainingRuns.run("inspect", spec);
      TrainingRuns.run("inspect", spec, "--json");
      TrainingRuns.run("render", spec, "--format", "tar", "--output", work.resolve("out.tar").toString());
      TrainingRuns.run("render", spec, "--format", "squashfs", "--output", work.resolve("out.sqfs").toString());
      TrainingRuns.run("render", spec, "--format", "dir", "--output", work.resolve("rootfs").toString());
      TrainingRuns.run("verify", work.resolve("out.tar").toString(), "--reference", spec);
      TrainingRuns.run("--version");
    } finally {
      TrainingRuns.deleteTree(work);
    }
    System.exit(0);
  }
}
