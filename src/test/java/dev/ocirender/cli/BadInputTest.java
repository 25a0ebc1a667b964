package dev.ocirender.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ocirender.cli.MainTest.Layout;
import dev.ocirender.cli.MainTest.Run;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bad input through the whole CLI: each case fails with exit code 1, ONE line on stderr that
 * names the image and what was wrong (and the layer where there is one), and leaves nothing in
 * the output directory — neither the output nor a temporary file. The fixtures are malformed on
 * purpose; each is described where it is built. (A missing blob and an escaping path are covered
 * in {@link MainTest} and {@code RendererTest}.)
 */
class BadInputTest {

  @TempDir Path tmp;

  private Run render(Layout layout) throws IOException {
    Path out = Files.createDirectories(tmp.resolve("out"));
    Run r = MainTest.run("render", "oci:" + layout.dir + ":v1", "--output", out.resolve("image.tar").toString());
    assertThat(r.exitCode()).as(r.err()).isEqualTo(1);
    assertThat(r.errLines()).as(r.err()).hasSize(1);
    assertThat(r.errLines().get(0)).startsWith("ocirender: error: oci:" + layout.dir + ":v1: ");
    assertThat(out).as("nothing may be left in the output directory").isEmptyDirectory();
    return r;
  }

  private static byte[] gzip(byte[] data) throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (GZIPOutputStream gz = new GZIPOutputStream(bytes)) {
      gz.write(data);
    }
    return bytes.toByteArray();
  }

  /** A layer of 64 KiB of varied text, so its deflate stream is long enough to damage. */
  private static byte[] bigLayerTar() throws IOException {
    StringBuilder text = new StringBuilder();
    for (int i = 0; text.length() < 65536; i++) {
      text.append("line ").append(i * 7919 % 10007).append(" of the file\n");
    }
    return TarBytes.single("data.txt", text.toString().getBytes(StandardCharsets.UTF_8));
  }

  @Test
  void corruptGzip_namesLayerAndCompression() throws IOException {
    // Malformed: valid gzip header, damaged deflate data; the descriptor's digest matches the
    // damaged bytes, so it is the decoder, not the digest check, that must catch it.
    byte[] blob = gzip(bigLayerTar());
    for (int i = 100; i < 140; i++) {
      blob[i] ^= 0x55;
    }
    Layout layout = Layout.write(tmp.resolve("layout"), blob, "application/vnd.oci.image.layer.v1.tar+gzip", null);
    Run r = render(layout);
    assertThat(r.err()).contains("layer 0 (" + layout.layerDigest.shortForm() + ")").contains("gzip");
  }

  @Test
  void truncatedLayer_namesLayer() throws IOException {
    // Malformed: the gzip stream cut in half, digest and size describing the cut blob.
    byte[] whole = gzip(bigLayerTar());
    byte[] blob = Arrays.copyOf(whole, whole.length / 2);
    Layout layout = Layout.write(tmp.resolve("layout"), blob, "application/vnd.oci.image.layer.v1.tar+gzip", null);
    Run r = render(layout);
    assertThat(r.err()).contains("layer 0 (" + layout.layerDigest.shortForm() + ")").containsIgnoringCase("truncated");
  }

  @Test
  void digestMismatch_namesBothDigests() throws IOException {
    // Malformed: one byte of the layer changed after the manifest was written.
    Layout layout = Layout.write(tmp.resolve("layout"));
    Path blob = layout.blob(layout.layerDigest);
    byte[] bytes = Files.readAllBytes(blob);
    bytes[bytes.length - 1] ^= 1; // tar padding: still parses, so only the digest can tell
    Files.write(blob, bytes);
    Run r = render(layout);
    assertThat(r.err()).contains("digest mismatch").contains(layout.layerDigest.toString())
        .contains("layer 0 (" + layout.layerDigest.shortForm() + ")");
  }

  @Test
  void malformedManifestJson_namesTheManifest() throws IOException {
    // Malformed: the manifest blob is not JSON (its digest and size match it).
    Layout layout = Layout.write(tmp.resolve("layout"), MainTest.Layout.layerTar(),
        "application/vnd.oci.image.layer.v1.tar", "{\"schemaVersion\": 2, \"layers\": [".getBytes(StandardCharsets.UTF_8));
    Run r = render(layout);
    assertThat(r.err()).contains(layout.manifestDigest.toString().substring(0, 19));
  }

  @Test
  void unknownLayerMediaType_namesIt() throws IOException {
    Layout layout = Layout.write(tmp.resolve("layout"), MainTest.Layout.layerTar(), "application/vnd.example.layer.v1+lz4", null);
    Run r = render(layout);
    assertThat(r.err()).contains("application/vnd.example.layer.v1+lz4").contains("layer 0");
  }

  @Test
  void foreignLayer_isRefusedByName() throws IOException {
    Layout layout = Layout.write(tmp.resolve("layout"), MainTest.Layout.layerTar(),
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", null);
    Run r = render(layout);
    assertThat(r.err()).contains("foreign").contains("layer 0");
  }
}
