package dev.ocirender.source.layout;

import static org.assertj.core.api.Assertions.fail;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * Runs the real tools (umoci, skopeo) that tests compare against. A missing tool skips the test with
 * a message on stderr, except under {@code -Docirender.requireTools=true} (CI), where it fails: a
 * silently skipped oracle test proves nothing.
 */
public final class ExternalTools {

  private ExternalTools() {}

  public static void require(String tool) {
    if (onPath(tool)) {
      return;
    }
    String message = tool + " is not installed (not on PATH); skipping a test that needs it";
    if (Boolean.getBoolean("ocirender.requireTools")) {
      fail(tool + " is not installed, and ocirender.requireTools=true");
    }
    System.err.println("SKIPPED: " + message);
    Assumptions.assumeTrue(false, message);
  }

  private static boolean onPath(String tool) {
    String path = System.getenv("PATH");
    if (path == null) {
      return false;
    }
    for (String dir : path.split(File.pathSeparator)) {
      if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, tool))) {
        return true;
      }
    }
    return false;
  }

  /** Runs a command to completion; fails the test with its output if it exits non-zero. */
  public static String run(Object... command) throws IOException, InterruptedException {
    List<String> args = new ArrayList<>();
    for (Object part : command) {
      args.add(part.toString());
    }
    Process process = new ProcessBuilder(args).redirectErrorStream(true).start();
    process.getOutputStream().close();
    byte[] output = process.getInputStream().readAllBytes();
    if (!process.waitFor(5, TimeUnit.MINUTES)) {
      process.destroyForcibly();
      fail("timed out: " + String.join(" ", args));
    }
    String text = new String(output, StandardCharsets.UTF_8);
    if (process.exitValue() != 0) {
      fail(String.join(" ", args) + " exited with " + process.exitValue() + ":\n" + text);
    }
    return text;
  }
}
