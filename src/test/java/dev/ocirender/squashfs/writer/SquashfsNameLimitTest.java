package dev.ocirender.squashfs.writer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ocirender.layer.EntryHeader;
import dev.ocirender.layer.EntryPath;
import dev.ocirender.layer.EntryType;
import dev.ocirender.testing.ExternalTools;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** squashfs holds names of up to 256 bytes: the longest is written so unsquashfs reads it, a longer one refused. */
class SquashfsNameLimitTest {

  @TempDir Path tmp;

  private static void write(Path image, String name) throws IOException {
    try (SquashfsEntrySink sink = SquashfsEntrySink.create(image, SquashfsOptions.defaults())) {
      sink.accept(EntryHeader.builder(EntryType.DIRECTORY, EntryPath.ROOT).mode(0755).build(), null);
      sink.accept(EntryHeader.builder(EntryType.DIRECTORY, EntryPath.of("d")).mode(0755).build(), null);
      sink.accept(EntryHeader.builder(EntryType.FILE, EntryPath.of("d/" + name)).mode(0644).size(1).build(),
          new ByteArrayInputStream(new byte[] {'x'}));
      sink.finish();
    }
  }

  @Test
  void name256Bytes_isWrittenAndUnsquashfsListsIt() throws Exception {
    String name = "n".repeat(256);
    Path image = tmp.resolve("ok.sqfs");
    write(image, name);
    ExternalTools.assumeTools("unsquashfs");
    String listed = new String(ExternalTools.run(tmp, List.of("unsquashfs", "-l", "-d", "", image.toString())),
        StandardCharsets.UTF_8);
    assertThat(listed.lines()).contains("/d/" + name);
  }

  @Test
  void name257Bytes_isRefusedSayingWhy() {
    assertThatThrownBy(() -> write(tmp.resolve("bad.sqfs"), "n".repeat(257)))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("squashfs cannot hold entry")
        .hasMessageContaining("257-byte name")
        .hasMessageContaining("at most 256 bytes")
        .satisfies(e -> assertThat(e.getMessage().length()).isLessThan(400));
  }
}
