package dev.ocirender.output.dir;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Child processes of the directory writer: fed and drained at once, killed on a timeout. */
class NativeToolsTest {

  @TempDir Path tmp;

  private static byte[] megabytes(int n) {
    byte[] b = new byte[n * 1024 * 1024];
    Arrays.fill(b, (byte) 'x');
    return b;
  }

  @Test
  void childEchoingMegabytesOfStdinToStderr_finishes() {
    // cat copies 8 MiB of stdin to stderr: both pipes fill up unless stdin is fed while output drains.
    byte[] input = megabytes(8);
    assertTimeoutPreemptively(Duration.ofSeconds(120), () -> NativeTools.run(tmp,
        List.of("sh", "-c", "cat >&2; printf done > out"), input));
    assertThat(tmp.resolve("out")).hasContent("done");
  }

  @Test
  void childFailingWithMegabytesOfErrors_messageIsBounded() {
    byte[] input = megabytes(4);
    assertTimeoutPreemptively(Duration.ofSeconds(120), () -> assertThatThrownBy(() -> NativeTools.run(tmp,
        List.of("sh", "-c", "cat >&2; exit 3"), input))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("exited 3")
        .hasMessageContaining("bytes of output in all")
        .satisfies(e -> assertThat(e.getMessage().length()).isLessThan(NativeTools.KEPT_OUTPUT_BYTES + 200)));
  }

  @Test
  void childThatHangs_isKilledOnTimeout() throws Exception {
    long start = System.nanoTime();
    assertThatThrownBy(() -> NativeTools.run(tmp, List.of("sh", "-c", "echo $$ > pid; exec sleep 600"), null,
        Duration.ofSeconds(2)))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("did not finish within 2 s and was killed");
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(60));
    long pid = Long.parseLong(Files.readString(tmp.resolve("pid")).strip());
    Thread.sleep(200);
    assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)).isFalse();
  }
}
