package dev.ocirender.store;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A temporary left by a writer that was killed (no shutdown hook ran) is removed by the next write
 * of the same output, because no process holds its lock any more; a temporary that a live writer in
 * another process holds is left alone. Runners re-run renders after losing a worker: this is what
 * keeps the lost attempt's half-written file from staying beside the output.
 */
class AtomicFileOutputAbandonedTest {

  @TempDir Path dir;

  @Test
  void temporaryOfAKilledWriter_isRemovedByTheNextWriteOfThatOutput() throws Exception {
    Path target = dir.resolve("out.tar");
    Process writer = holdTemporary(target);
    Path leftover = onlyTemporary();
    writer.destroyForcibly().waitFor(); // SIGKILL: its shutdown hook does not run, its lock goes with it
    assertThat(leftover).exists();

    try (AtomicFileOutput next = AtomicFileOutput.create(target)) {
      next.stream().write(1);
      next.publish();
    }
    assertThat(leftover).doesNotExist();
    assertThat(names()).containsExactly("out.tar");
  }

  @Test
  void temporaryOfALiveWriterInAnotherProcess_isLeftAlone_andOtherOutputsAreNotTouched() throws Exception {
    Path target = dir.resolve("out.tar");
    Files.writeString(dir.resolve(".other.tar.tmp-0123456789ab"), "someone else's"); // another output's name
    Process writer = holdTemporary(target);
    try {
      Path held = onlyTemporaryOf("out.tar");
      try (AtomicFileOutput next = AtomicFileOutput.create(target)) {
        assertThat(held).as("a live writer's temporary").exists();
        next.close();
      }
      assertThat(held).exists();
      assertThat(dir.resolve(".other.tar.tmp-0123456789ab")).exists();
    } finally {
      writer.destroyForcibly().waitFor();
    }
  }

  /** Starts a JVM that opens a temporary for {@code target} and waits; returns once it exists. */
  private static Process holdTemporary(Path target) throws Exception {
    Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-cp", System.getProperty("java.class.path"), Holder.class.getName(), target.toString())
        .redirectErrorStream(true).start();
    BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
    assertThat(out.readLine()).as("the writer started").isEqualTo("writing");
    return p;
  }

  private Path onlyTemporary() throws Exception {
    return onlyTemporaryOf("out.tar");
  }

  private Path onlyTemporaryOf(String name) throws Exception {
    try (Stream<Path> s = Files.list(dir)) {
      List<Path> temps = s.filter(p -> p.getFileName().toString().startsWith("." + name + ".tmp-")).toList();
      assertThat(temps).hasSize(1);
      return temps.get(0);
    }
  }

  private List<String> names() throws Exception {
    try (Stream<Path> s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  /** The other process: writes a temporary for its argument and holds it until it is killed. */
  public static final class Holder {
    public static void main(String[] args) throws Exception {
      AtomicFileOutput out = AtomicFileOutput.create(Path.of(args[0]));
      out.stream().write(new byte[] {1, 2, 3});
      out.stream().flush();
      System.out.println("writing");
      System.out.flush();
      TimeUnit.HOURS.sleep(1);
    }
  }
}
