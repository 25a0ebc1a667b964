package dev.ocirender.output.dir;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ocirender.image.Descriptor;
import dev.ocirender.image.Digest;
import dev.ocirender.layer.LayerBlob;
import dev.ocirender.merge.MergeListener;
import dev.ocirender.merge.OverlayMerge;
import dev.ocirender.render.DirectoryRenderTarget;
import dev.ocirender.testing.ExternalTools;
import dev.ocirender.testing.SparseLayers;
import java.io.ByteArrayInputStream;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A sparse file stays sparse in a directory output. The layer is written by GNU tar itself
 * ({@code --sparse --format=posix}: PAX sparse 1.0) from a file made sparse with {@code truncate},
 * so the input is an independent writer's; the output's allocated blocks are read with {@code stat}.
 */
class DirectorySparseTest {

  private static final long SIZE = 2L << 30; // 2 GiB, all but three short runs a hole

  @TempDir Path tmp;

  @Test
  void sparseFileInLayer_isWrittenWithHoles() throws Exception {
    ExternalTools.assumeTools("tar", "truncate", "stat");
    byte[] layer = SparseLayers.gnuTar(tmp, SIZE, false);
    assertThat(layer.length).as("the layer itself is small").isLessThan(64 * 1024);
    LayerBlob blob = new LayerBlob(0, new Descriptor("application/vnd.oci.image.layer.v1.tar", Digest.sha256Of(layer),
        layer.length), null, () -> new ByteArrayInputStream(layer));

    Path out = tmp.resolve("rootfs");
    try (DirectoryRenderTarget target = new DirectoryRenderTarget(out, false, DirectoryEntrySink.Options.rootless())) {
      OverlayMerge.run(List.of(blob), target, MergeListener.NONE);
      target.publish();
    }
    Path big = out.resolve("big");
    assertThat(Files.size(big)).isEqualTo(SIZE);
    long blocks = Long.parseLong(new String(ExternalTools.run(tmp, List.of("stat", "-c", "%b", big.toString())),
        StandardCharsets.UTF_8).strip());
    assertThat(blocks * 512).as("allocated bytes").isLessThan(1024 * 1024);
    try (RandomAccessFile f = new RandomAccessFile(big.toFile(), "r")) {
      assertThat(read(f, 0, 4)).isEqualTo("head");
      assertThat(read(f, SIZE / 2, 6)).isEqualTo("middle");
      assertThat(read(f, SIZE - 4, 4)).isEqualTo("tail");
      assertThat(read(f, 4096 * 3, 4)).isEqualTo("\0\0\0\0");
    }
  }

  private static String read(RandomAccessFile f, long at, int n) throws Exception {
    byte[] b = new byte[n];
    f.seek(at);
    f.readFully(b);
    return new String(b, StandardCharsets.ISO_8859_1);
  }
}
