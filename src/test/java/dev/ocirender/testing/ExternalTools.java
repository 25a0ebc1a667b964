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
 * references. A missing tool (or root, for tests that need it) skips the test with a visible message,
 * unless the build runs with {@code -Docirender.requireTools=true} (as CI does), where it fails. For
 * a whole class whose {@code @BeforeAll} needs tools, use {@link Requires} instead: an assumption
 * that aborts a {@code @BeforeAll} drops the class's tests from the counts without a trace.
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

  /** Whether the build runs with {@code -Docirender.requireTools=true}: nothing may skip. */
  public static boolean toolsRequired() {
    return Boolean.getBoolean("ocirender.requireTools");
  }

  /** The first tool of {@code tools} that is not installed, or null when all are. */
  public static String firstMissing(String... tools) {
    for (String tool : tools) {
      if (!available(tool)) {
        return tool;
      }
    }
    return null;
  }

  public static void assumeTools(String... tools) {
    String missing = firstMissing(tools);
    if (missing != null) {
      skipOrFail("external tool '" + missing + "' is not installed");
    }
  }

  /**
   * Skips the test with a visible message, or fails it under {@code ocirender.requireTools}: a
   * missing tool and a missing privilege are the same kind of gap in the evidence.
   */
  public static void skipOrFail(String message) {
    if (toolsRequired()) {
      fail(message + " (required: ocirender.requireTools=true)");
    }
    System.err.println("SKIPPED: " + message);
    Assumptions.abort(message);
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

  /** Skips (or fails, under {@code ocirender.requireTools}) unless the JVM runs with effective uid 0. */
  public static void assumeRoot() {
    if (!isRoot()) {
      skipOrFail("needs root (effective uid 0: mknod, setcap, chown, umoci's privileged unpack); uid is " + effectiveUid());
    }
  }

  /** Whether the effective uid is 0; a user named "root" is not enough, nor needed. */
  public static boolean isRoot() {
    return effectiveUid() == 0;
  }

  private static volatile Long effectiveUid;

  /** {@code id -u}: the effective uid (Java has no API for it; UnixSystem gives the real uid). */
  public static long effectiveUid() {
    Long uid = effectiveUid;
    if (uid == null) {
      Result r = runAllowingFailure(Path.of("."), List.of("id", "-u"));
      if (r.exitCode() != 0) {
        throw new IllegalStateException("id -u exited " + r.exitCode() + ": " + r.stderrText());
      }
      uid = Long.parseLong(r.stdoutText().strip());
      effectiveUid = uid;
    }
    return uid;
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
