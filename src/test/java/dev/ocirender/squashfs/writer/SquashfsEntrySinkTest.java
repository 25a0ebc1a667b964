package dev.ocirender.squashfs.writer;

import static dev.ocirender.testing.LayerBuilder.layer;
import static org.assertj.core.api.Assertions.assertThat;

import dev.ocirender.testing.FsSnapshot;
import dev.ocirender.testing.ImageBuilder;
import dev.ocirender.testing.OverlayModel;
import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SquashfsEntrySinkTest {

  @TempDir Path tmp;

  static FsSnapshot.Compare squashfsCompare() {
    // The format stores whole seconds; unsquashfs cannot give a symlink a mode.
    return FsSnapshot.Compare.EXACT.ignoringMtimeNanos().ignoringSymlinkModes();
  }

  @Test
  void everyInodeType_roundTripsThroughUnsquashfs() throws IOException {
    SquashfsTools.assumeTools();
    ImageBuilder image = ImageBuilder.of(
        layer().dir("etc", 0755).file("etc/hosts", "127.0.0.1 localhost\n", 0644)
            .file("bin/tool", "#!/bin/sh\necho hi\n", 04755).hardlink("bin/alias", "bin/tool")
            .symlink("bin/sh", "tool").fifo("run/fifo", 0600).charDevice("dev/null", 1, 3)
            .blockDevice("dev/sda", 8, 0).file("empty", "", 0600)
            .file("cap", "x", 0755));
    Path sqfs = SquashfsTools.render(image, tmp.resolve("a.sqfs"), SquashfsOptions.defaults());
    FsSnapshot got = SquashfsTools.extract(sqfs, tmp);
    OverlayModel.apply(image.logicalLayers()).snapshot().assertMatches(got, squashfsCompare());
    OverlayModel.apply(image.logicalLayers()).snapshot().assertMatches(SquashfsTools.ngRead(sqfs, tmp), squashfsCompare());
    assertThat(SquashfsTools.listing(sqfs)).contains("bin/alias");
  }

  @Test
  void aWriteOnlyChannel_isRefusedUpFront() throws IOException {
    Path file = tmp.resolve("w.sqfs");
    try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(file,
        java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.WRITE)) {
      org.assertj.core.api.Assertions.assertThatThrownBy(() -> new SquashfsEntrySink(ch, SquashfsOptions.defaults()))
          .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("reading");
    }
  }
}
