package dev.ocirender.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ocirender.layer.inflate.GzipDecoding;
import dev.ocirender.image.Digest;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class MainTest {

  @TempDir Path tmp;

  record Run(int exitCode, String out, String err) {
    List<String> errLines() {
      return err.lines().toList();
    }
  }

  static Run run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cl = Main.commandLine();
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    int code = cl.execute(args);
    return new Run(code, out.toString(), err.toString());
  }

  @Test
  void noCommand_isUsageErrorOnOneLine() {
    Run r = run();
    assertThat(r.exitCode()).isEqualTo(2);
    assertThat(r.errLines()).hasSize(1).first().asString().startsWith("ocirender: error: missing command");
  }

  @Test
  void unknownOption_isUsageError() {
    Run r = run("render", "--bogus", "oci:x", "-o", tmp.resolve("o.tar").toString());
    assertThat(r.exitCode()).isEqualTo(2);
    assertThat(r.errLines()).hasSize(1).first().asString().startsWith("ocirender: error: Unknown option: '--bogus'");
  }

  @Test
  void renderWithoutOutput_isUsageError() {
    Run r = run("render", "oci:x");
    assertThat(r.exitCode()).isEqualTo(2);
    assertThat(r.err()).contains("--output");
  }

  @Test
  void badPlatform_isUsageError() {
    Run r = run("inspect", "--platform", "linux", "oci:x");
    assertThat(r.exitCode()).isEqualTo(2);
    assertThat(r.errLines()).hasSize(1).first().asString().contains("os/arch[/variant]");
  }

  @Test
  void unknownFormat_isUsageErrorListingTheFormats() {
    Run r = run("render", "--format", "zip", "oci:x", "-o", tmp.resolve("o").toString());
    assertThat(r.exitCode()).isEqualTo(2);
    assertThat(r.errLines()).hasSize(1).first().asString()
        .contains("unknown output format 'zip'").contains("tar, squashfs, dir");
    assertThat(tmp).isEmptyDirectory();
  }

  @Test
  void unknownTransport_failsWithOneLineError() {
    Run r = run("render", "nosuch:whatever", "-o", tmp.resolve("o.tar").toString());
    assertThat(r.exitCode()).isEqualTo(1);
    assertThat(r.errLines()).hasSize(1).first().asString().startsWith("ocirender: error: ");
    assertThat(r.out()).isEmpty();
    assertThat(tmp).isEmptyDirectory();
  }

  @Test
  void debug_addsStackTrace() {
    Run r = run("--debug", "render", "nosuch:whatever", "-o", tmp.resolve("o.tar").toString());
    assertThat(r.exitCode()).isEqualTo(1);
    assertThat(r.errLines().size()).isGreaterThan(1);
    assertThat(r.err()).contains("\tat ");
  }

  @Test
  void version_printsName() {
    Run r = run("--version");
    assertThat(r.exitCode()).isZero();
    assertThat(r.out()).startsWith("ocirender ");
  }

  @Test
  void renderWithMissingLayerBlob_leavesNoOutputAndNoTempFile() throws IOException {
    Layout layout = Layout.write(tmp.resolve("layout"));
    Files.delete(layout.blob(layout.layerDigest));
    Path outDir = Files.createDirectory(tmp.resolve("out"));
    Path output = outDir.resolve("image.tar");

    Run r = run("render", "oci:" + layout.dir + ":v1", "--output", output.toString());

    assertThat(r.exitCode()).isEqualTo(1);
    assertThat(r.errLines()).hasSize(1).first().asString().startsWith("ocirender: error: ");
    assertThat(outDir).isEmptyDirectory();
  }

  @Test
  void renderWithMissingLayerBlob_errorNamesImageAndBlob() throws IOException {
    Layout layout = Layout.write(tmp.resolve("layout"));
    Files.delete(layout.blob(layout.layerDigest));
    String spec = "oci:" + layout.dir + ":v1";

    Run r = run("render", spec, "--output", tmp.resolve("image.tar").toString());

    assertThat(r.errLines()).hasSize(1).first().asString()
        .startsWith("ocirender: error: " + spec + ": ")
        .contains(layout.layerDigest.hex().substring(0, 12));
  }

  @Test
  void failedRender_keepsExistingOutputFileUntouched() throws IOException {
    Layout layout = Layout.write(tmp.resolve("layout"));
    Files.delete(layout.blob(layout.layerDigest));
    Path output = tmp.resolve("image.tar");
    Files.writeString(output, "previous render");

    Run r = run("render", "oci:" + layout.dir + ":v1", "--output", output.toString());

    assertThat(r.exitCode()).isEqualTo(1);
    assertThat(output).hasContent("previous render");
    try (Stream<Path> files = Files.list(tmp)) {
      assertThat(files.map(p -> p.getFileName().toString())).containsExactlyInAnyOrder("layout", "image.tar");
    }
  }

  @Test
  void inspectJson_reportsManifestConfigAndLayerDigests() throws IOException {
    Layout layout = Layout.write(tmp.resolve("layout"));

    Run r = run("inspect", "--json", "oci:" + layout.dir + ":v1");

    assertThat(r.exitCode()).as(r.err()).isZero();
    JsonNode json = new ObjectMapper().readTree(r.out());
    assertThat(json.path("manifest").path("digest").asText()).isEqualTo(layout.manifestDigest.toString());
    assertThat(json.path("manifest").path("mediaType").asText()).isEqualTo("application/vnd.oci.image.manifest.v1+json");
    assertThat(json.path("config").path("digest").asText()).isEqualTo(layout.configDigest.toString());
    assertThat(json.path("platform").path("os").asText()).isEqualTo("linux");
    assertThat(json.path("platform").path("architecture").asText()).isEqualTo("amd64");
    JsonNode layers = json.path("layers");
    assertThat(layers).hasSize(1);
    assertThat(layers.get(0).path("index").asInt()).isZero();
    assertThat(layers.get(0).path("digest").asText()).isEqualTo(layout.layerDigest.toString());
    assertThat(layers.get(0).path("size").asLong()).isEqualTo(layout.layerSize);
    assertThat(layers.get(0).path("mediaType").asText()).isEqualTo("application/vnd.oci.image.layer.v1.tar");
  }

  @Test
  void inspectTable_listsDigests() throws IOException {
    Layout layout = Layout.write(tmp.resolve("layout"));

    Run r = run("inspect", "oci:" + layout.dir + ":v1");

    assertThat(r.exitCode()).as(r.err()).isZero();
    assertThat(r.out()).contains(layout.manifestDigest.toString(), layout.configDigest.toString(), layout.layerDigest.toString(), "linux/amd64");
    assertThat(r.out()).containsPattern("(?m)^gzip +(ISA-L igzip|JDK java.util.zip)");
  }

  @Test
  void inspectJson_saysWhichGzipDecoder_andTheForcedOne() throws IOException {
    Layout layout = Layout.write(tmp.resolve("layout"));
    String before = System.getProperty(GzipDecoding.PROPERTY);
    System.setProperty(GzipDecoding.PROPERTY, "jdk");
    try {
      Run r = run("inspect", "--json", "oci:" + layout.dir + ":v1");
      assertThat(new ObjectMapper().readTree(r.out()).path("gzipDecoder").asText())
          .isEqualTo("JDK java.util.zip (ocirender.inflater=jdk)");
    } finally {
      if (before == null) {
        System.clearProperty(GzipDecoding.PROPERTY);
      } else {
        System.setProperty(GzipDecoding.PROPERTY, before);
      }
    }
  }

  @Test
  void inspectUnknownTag_failsOnOneLineNamingTheSource() throws IOException {
    Layout layout = Layout.write(tmp.resolve("layout"));
    String spec = "oci:" + layout.dir + ":nosuchtag";

    Run r = run("inspect", spec);

    assertThat(r.exitCode()).isEqualTo(1);
    assertThat(r.errLines()).hasSize(1).first().asString().startsWith("ocirender: error: " + spec + ": ");
  }

  /**
   * A one-layer OCI image layout written by hand with plain JSON, tagged {@code v1}, for
   * linux/amd64. Deliberately independent of any fixture builder, so these tests check the CLI
   * against the format itself.
   */
  static final class Layout {
    final Path dir;
    Digest layerDigest;
    long layerSize;
    Digest configDigest;
    Digest manifestDigest;

    private Layout(Path dir) {
      this.dir = dir;
    }

    Path blob(Digest d) {
      return dir.resolve("blobs").resolve(d.algorithm()).resolve(d.hex());
    }

    static Layout write(Path dir) throws IOException {
      return write(dir, layerTar(), "application/vnd.oci.image.layer.v1.tar", null);
    }

    /**
     * A layout whose one layer blob and media type are given as they are (malformed fixtures
     * for bad-input tests), and whose manifest is {@code manifestOverride} when not null.
     */
    static Layout write(Path dir, byte[] layer, String layerMediaType, byte[] manifestOverride) throws IOException {
      Layout l = new Layout(dir);
      Files.createDirectories(dir.resolve("blobs/sha256"));
      Files.writeString(dir.resolve("oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}");

      l.layerDigest = l.put(layer);
      l.layerSize = layer.length;
      byte[] config = ("{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\""
          + l.layerDigest + "\"]}}").getBytes(StandardCharsets.UTF_8);
      l.configDigest = l.put(config);
      byte[] manifest = ("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
          + "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"" + l.configDigest + "\",\"size\":" + config.length + "},"
          + "\"layers\":[{\"mediaType\":\"" + layerMediaType + "\",\"digest\":\"" + l.layerDigest + "\",\"size\":" + layer.length + "}]}")
          .getBytes(StandardCharsets.UTF_8);
      if (manifestOverride != null) {
        manifest = manifestOverride;
      }
      l.manifestDigest = l.put(manifest);
      Files.writeString(dir.resolve("index.json"),
          "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":[{"
              + "\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" + l.manifestDigest + "\",\"size\":" + manifest.length + ","
              + "\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"},"
              + "\"annotations\":{\"org.opencontainers.image.ref.name\":\"v1\"}}]}");
      return l;
    }

    private Digest put(byte[] content) throws IOException {
      Digest d = Digest.sha256Of(content);
      Files.write(blob(d), content);
      return d;
    }

    static byte[] layerTar() throws IOException {
      return TarBytes.single("hello.txt", "hello\n".getBytes(StandardCharsets.UTF_8));
    }
  }
}
