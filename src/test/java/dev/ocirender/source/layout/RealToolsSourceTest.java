package dev.ocirender.source.layout;

import static dev.ocirender.testing.ExternalTools.output;
import static org.assertj.core.api.Assertions.assertThat;

import dev.ocirender.image.Digest;
import dev.ocirender.image.Platform;
import dev.ocirender.layer.LayerBlob;
import dev.ocirender.source.ImageSource;
import dev.ocirender.source.ImageSources;
import dev.ocirender.source.ResolvedImage;
import dev.ocirender.testing.ExternalTools;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The sources against layouts and archives written by real tools: umoci builds an OCI layout, skopeo
 * converts it to a docker-archive, and both must resolve to the same layers.
 */
class RealToolsSourceTest {

  @TempDir Path tmp;

  @Test
  void umociLayoutAndItsSkopeoDockerArchive_resolveToTheSameLayers() throws Exception {
    ExternalTools.require("umoci");
    ExternalTools.require("skopeo");
    Path oci = tmp.resolve("oci");
    Path bundle = tmp.resolve("bundle");
    output("umoci", "init", "--layout", oci);
    output("umoci", "new", "--image", oci + ":tag");
    output("umoci", "unpack", "--rootless", "--image", oci + ":tag", bundle);
    Files.createDirectories(bundle.resolve("rootfs/etc"));
    Files.writeString(bundle.resolve("rootfs/etc/hello"), "hello\n");
    Files.writeString(bundle.resolve("rootfs/etc/gone"), "soon deleted\n");
    output("umoci", "repack", "--image", oci + ":tag", bundle);
    // A second layer with a whiteout, so the image has more than one layer to keep in order. umoci
    // diffs a bundle against the image it was unpacked from, so the next layer needs a fresh unpack.
    Path bundle2 = tmp.resolve("bundle2");
    output("umoci", "unpack", "--rootless", "--image", oci + ":tag", bundle2);
    Files.delete(bundle2.resolve("rootfs/etc/gone"));
    Files.writeString(bundle2.resolve("rootfs/etc/hello"), "hello again\n");
    output("umoci", "repack", "--image", oci + ":tag", bundle2);

    Path archive = tmp.resolve("x.tar");
    output("skopeo", "--insecure-policy", "copy", "oci:" + oci + ":tag", "docker-archive:" + archive + ":img:tag");
    Path extracted = Files.createDirectories(tmp.resolve("extracted"));
    output("tar", "-xf", archive, "-C", extracted);

    // umoci records the Go runtime's architecture; Platform matching normalises aarch64/x86_64.
    Platform host = Platform.parse("linux/" + System.getProperty("os.arch"));
    ResolvedImage fromLayout = resolveAndReadAll("oci:" + oci + ":tag", host);
    ResolvedImage fromTar = resolveAndReadAll("docker-archive:" + archive, host);
    ResolvedImage fromTarByTag = resolveAndReadAll("docker-archive:" + archive + ":img:tag", host);
    ResolvedImage fromDir = resolveAndReadAll("docker-archive:" + extracted, host);

    assertThat(fromLayout.layers()).hasSize(2);
    assertThat(fromLayout.diffIds()).hasSize(2);
    for (ResolvedImage archived : List.of(fromTar, fromTarByTag, fromDir)) {
      assertThat(archived.layers()).hasSize(fromLayout.layers().size());
      assertThat(archived.diffIds()).isEqualTo(fromLayout.diffIds());
      assertThat(archived.platform().os()).isEqualTo(fromLayout.platform().os());
      assertThat(archived.layers()).extracting(l -> l.descriptor().digest()).isEqualTo(fromLayout.diffIds());
    }
    assertThat(fromDir.manifestDigest()).isEqualTo(fromTar.manifestDigest());

    // skopeo stores layers uncompressed, so the raw archive bytes are the diff IDs themselves.
    try (ImageSource source = ImageSources.open("docker-archive:" + archive)) {
      ResolvedImage image = source.resolve(host);
      for (LayerBlob layer : image.layers()) {
        assertThat(sha256(layer)).isEqualTo(image.diffIds().get(layer.index()));
      }
    }
  }

  /** Resolves, then reads every layer blob to the end, which is where verification happens. */
  private static ResolvedImage resolveAndReadAll(String spec, Platform platform) throws IOException {
    try (ImageSource source = ImageSources.open(spec)) {
      ResolvedImage image = source.resolve(platform);
      List<Long> sizes = new ArrayList<>();
      for (LayerBlob layer : image.layers()) {
        try (InputStream in = layer.openRaw()) {
          sizes.add(in.transferTo(OutputStreamSink.INSTANCE));
        }
      }
      assertThat(sizes).isEqualTo(image.layers().stream().map(l -> l.descriptor().size()).toList());
      return image;
    }
  }

  private static Digest sha256(LayerBlob layer) throws Exception {
    MessageDigest md = MessageDigest.getInstance("SHA-256");
    try (InputStream in = layer.openRaw()) {
      byte[] buf = new byte[8192];
      for (int n; (n = in.read(buf)) > 0; ) {
        md.update(buf, 0, n);
      }
    }
    return Digest.sha256(md.digest());
  }

  private static final class OutputStreamSink extends java.io.OutputStream {
    static final OutputStreamSink INSTANCE = new OutputStreamSink();

    @Override
    public void write(int b) {}

    @Override
    public void write(byte[] b, int off, int len) {}
  }
}
