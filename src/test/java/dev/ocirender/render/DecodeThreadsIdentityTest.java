package dev.ocirender.render;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ocirender.image.Platform;
import dev.ocirender.source.ImageSource;
import dev.ocirender.source.ImageSources;
import dev.ocirender.testing.ExternalTools;
import dev.ocirender.testing.UmociOracleImage;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The renderer's outputs do not depend on how many layers decode at once: the umoci-built oracle
 * image (whiteouts, hard links, xattrs, devices, several layers) rendered with one decoding thread
 * and with two and four ({@link dev.ocirender.layer.decoded.DecodeAhead}) gives byte-identical tar
 * and squashfs files. (Random stacks with a store that spills everything: {@code DecodeAheadTest}.)
 */
class DecodeThreadsIdentityTest {

  @Test
  void tarAndSquashfs_areByteIdentical_withOneTwoAndFourDecodingThreads(@TempDir Path tmp) throws Exception {
    ExternalTools.assumeTools("umoci");
    UmociOracleImage image = UmociOracleImage.build(tmp);
    for (OutputFormat format : new OutputFormat[] {OutputFormat.TAR, OutputFormat.SQUASHFS}) {
      byte[] reference = null;
      for (int threads : new int[] {1, 2, 4}) {
        Path out = tmp.resolve(format + "-" + threads);
        try (ImageSource source = ImageSources.open(image.spec());
            FileRenderTarget target = FileRenderTarget.of(out, format)) {
          new Renderer(RenderListener.NONE, threads).renderTo(source, Platform.LINUX_AMD64, target);
        }
        byte[] bytes = Files.readAllBytes(out);
        if (reference == null) {
          reference = bytes;
          assertThat(bytes.length).isGreaterThan(10_000);
        } else {
          assertThat(bytes).as("%s with %d decoding threads", format, threads).isEqualTo(reference);
        }
      }
    }
  }
}
