package dev.ocirender.testing;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Assumptions;

/**
 * Runs the real command-line tools (GNU tar, gzip, zstd, ...) that tests use as independent
 * references. A missing tool skips the test with a visible message, unless the build runs with
 * {@code -Docirender.requireTools=true} (as CI does), where it fails.
 */
public final class ExternalTools {

  private ExternalTools() {}

  public static boolean available(String tool) {
    for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
      if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, tool))) {
        return true;
      }
    }
    return false;
  }

  public static void assumeTools(String... tools) {
    for (String tool : tools) {
      if (!available(tool)) {
        String message = "external tool '" + tool + "' is not installed";
        if (Boolean.getBoolean("ocirender.requireTools")) {
          fail(message + " (required: ocirender.requireTools=true)");
        }
        System.err.println("SKIPPED: " + message);
        Assumptions.abort(message);
      }
    }
  }

  /** {@link #assumeTools} for one tool. */
  public static void require(String tool) {
    assumeTools(tool);
  }

  /** Runs a command in the working directory; fails the test unless it exits 0; returns its stdout. */
  public static String output(Object... command) {
    List<String> args = new java.util.ArrayList<>();
    for (Object part : command) {
      args.add(part.toString());
    }
    return new String(run(Path.of("."), args), StandardCharsets.UTF_8);
  }

  public static void assumeRoot() {
    Assumptions.assumeTrue("root".equals(System.getProperty("user.name")), "needs root (mknod, setcap)");
  }

  /** Runs a bash script in {@code dir}; fails the test with its stderr unless it exits 0. */
  public static byte[] bash(Path dir, String script) {
    return run(dir, List.of("bash", "-euo", "pipefail", "-c", script));
  }

  public static byte[] run(Path dir, List<String> command) {
    Result r = runAllowingFailure(dir, command);
    if (r.exitCode() != 0) {
      fail(String.join(" ", command) + " exited " + r.exitCode() + ":\n" + r.stderrText());
    }
    return r.stdout();
  }

  public static Result runAllowingFailure(Path dir, List<String> command) {
    try {
      ProcessBuilder pb = new ProcessBuilder(command).directory(dir.toFile());
      pb.environment().put("LC_ALL", "C");
      pb.environment().put("TZ", "UTC");
      Process p = pb.start();
      p.getOutputStream().close();
      CompletableFuture<byte[]> err = CompletableFuture.supplyAsync(() -> readAll(p.getErrorStream()));
      byte[] out = readAll(p.getInputStream());
      return new Result(p.waitFor(), out, err.join());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  private static byte[] readAll(InputStream in) {
    try (in) {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      in.transferTo(out);
      return out.toByteArray();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public record Result(int exitCode, byte[] stdout, byte[] stderr) {
    public String stdoutText() {
      return new String(stdout, StandardCharsets.UTF_8);
    }

    public String stderrText() {
      return new String(stderr, StandardCharsets.UTF_8);
    }
  }
}
