package dev.ocirender.render;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ocirender.layer.EntryHeader;
import dev.ocirender.output.EntrySink;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FileRenderTargetTest {

  @TempDir Path dir;

  /** Writes a marker on open and on finish, so the test can tell attempts apart. */
  private static EntrySink markerSink(OutputStream out, String marker) {
    return new EntrySink() {
      {
        write(marker + ":start;");
      }

      private void write(String s) {
        try {
          out.write(s.getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
          throw new java.io.UncheckedIOException(e);
        }
      }

      @Override
      public void accept(EntryHeader header, InputStream content) {}

      @Override
      public void finish() throws IOException {
        write(marker + ":end");
        out.flush();
      }

      @Override
      public void close() throws IOException {
        out.close();
      }
    };
  }

  @Test
  void restartedMerge_publishesOnlyTheSecondAttempt() throws IOException {
    Path output = dir.resolve("image.tar");
    int[] attempts = {0};
    try (FileRenderTarget target = new FileRenderTarget(output, out -> markerSink(out, "attempt" + ++attempts[0]))) {
      EntrySink first = target.open();
      first.close(); // discarded by the merge without finish()
      assertThat(list()).isEmpty();
      EntrySink second = target.open();
      second.finish();
      second.close();
      assertThat(output).doesNotExist(); // not before publish()
      target.publish();
    }
    assertThat(output).hasContent("attempt2:start;attempt2:end");
    assertThat(list()).containsExactly("image.tar");
  }

  @Test
  void failureAfterFinish_publishesNothingAndLeavesNoTemp() throws IOException {
    Path output = dir.resolve("image.tar");
    try (FileRenderTarget target = new FileRenderTarget(output, out -> markerSink(out, "only"))) {
      EntrySink sink = target.open();
      sink.finish();
      sink.close();
      // the caller fails before publish()
    }
    assertThat(list()).isEmpty();
  }

  @Test
  void unfinishedSinkLeftOpen_isDeletedOnClose() throws IOException {
    try (FileRenderTarget target = new FileRenderTarget(dir.resolve("image.tar"), out -> markerSink(out, "x"))) {
      target.open();
      assertThat(list()).hasSize(1);
    }
    assertThat(list()).isEmpty();
  }

  @Test
  void publishWithoutFinishedSink_isAnError() throws IOException {
    try (FileRenderTarget target = new FileRenderTarget(dir.resolve("image.tar"), out -> markerSink(out, "x"))) {
      target.open().close();
      assertThatThrownBy(target::publish).isInstanceOf(IllegalStateException.class);
    }
    assertThat(list()).isEmpty();
  }

  @Test
  void unknownFormat_isRejected_andDirIsNoFile() {
    assertThatThrownBy(() -> OutputFormat.parse("zip")).hasMessageContaining("unknown output format");
    assertThatThrownBy(() -> FileRenderTarget.of(dir.resolve("x"), OutputFormat.DIR)).hasMessageContaining("not a file");
    assertThat(OutputFormat.parse("TAR")).isEqualTo(OutputFormat.TAR);
  }

  private java.util.List<String> list() throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }
}
