package dev.ocirender.layer;

import static dev.ocirender.layer.TarBuilder.concat;
import static dev.ocirender.layer.TarBuilder.record;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ocirender.render.OutputFormat;
import dev.ocirender.render.RenderException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * What a user reads when a layer is bad: one line that names the image, the layer and the entry,
 * each once, in that order, and never longer than a bounded size however long the entry's name is.
 * Also one test per {@link LayerLimits} limit.
 */
class LayerErrorMessagesTest {

  private static final String OCI_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip";

  @TempDir
  Path work;

  private static byte[] gzip(byte[] data) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
      gz.write(data);
    }
    return out.toByteArray();
  }

  private static int count(String haystack, String needle) {
    int n = 0;
    for (int i = haystack.indexOf(needle); i >= 0; i = haystack.indexOf(needle, i + 1)) {
      n++;
    }
    return n;
  }

  private String renderFailure(byte[] blob, String mediaType, byte[] tar, OutputFormat format) throws IOException {
    String ref = RawLayerImage.write(work.resolve("img"), blob, mediaType, tar);
    Path out = work.resolve("out-" + format);
    try {
      LayerShapesOracleTest.render(ref, format, out);
    } catch (RenderException e) {
      assertThat(out).doesNotExist();
      assertThat(e.getMessage()).doesNotContain("\n").startsWith(ref + ": ");
      assertThat(count(e.getMessage(), ref)).as(e.getMessage()).isEqualTo(1);
      return e.getMessage();
    }
    throw new AssertionError("render succeeded");
  }

  @ParameterizedTest
  @EnumSource(OutputFormat.class)
  void truncatedGzipInsideAnEntry_layerAndEntryNamedOnceEach(OutputFormat format) throws IOException {
    byte[] content = new byte[200_000];
    new java.util.Random(3).nextBytes(content);
    byte[] tar = new TarBuilder().entry(TarBuilder.file("big", content.length), content).end().bytes();
    byte[] gz = gzip(tar);
    byte[] cut = Arrays.copyOf(gz, gz.length / 2);
    String message = renderFailure(cut, OCI_GZIP, tar, format);
    assertThat(message).contains(": layer 0 (sha256:").contains("entry 'big'").contains("truncated gzip data");
    assertThat(count(message, "layer 0 (")).as(message).isEqualTo(1);
    assertThat(count(message, "entry '")).as(message).isEqualTo(1);
    assertThat(message.indexOf("layer 0 (")).isLessThan(message.indexOf("entry 'big'"));
  }

  @ParameterizedTest
  @EnumSource(OutputFormat.class)
  void truncatedTarContent_entryNamedOnce(OutputFormat format) throws IOException {
    byte[] whole = new TarBuilder().entry(TarBuilder.file("short", 2000), new byte[2000]).bytes();
    byte[] tar = Arrays.copyOf(whole, 1200);
    String message = renderFailure(tar, "application/vnd.oci.image.layer.v1.tar", tar, format);
    assertThat(message).contains("truncated content, 688 of 2000 bytes");
    assertThat(count(message, "entry '")).as(message).isEqualTo(1);
    assertThat(count(message, "layer 0 (")).as(message).isEqualTo(1);
  }

  @Test
  void megabyteName_messageCutWithItsLengthStated() throws IOException {
    byte[] name = ("d/" + "n".repeat(1024 * 1024)).getBytes(UTF_8);
    byte[] tar = new TarBuilder().pax('x', record("path", name)).entry(TarBuilder.file("x", 0)).end().bytes();
    String message = renderFailure(tar, "application/vnd.oci.image.layer.v1.tar", tar, OutputFormat.TAR);
    assertThat(message.length()).as(message).isLessThan(1000);
    assertThat(message).contains("(" + name.length + " bytes)").contains("\u2026")
        .contains("path of 1048578 bytes exceeds the limit of 65536 bytes");
  }

  @Test
  void quote_shortNamesWhole_longNamesCutAtACharacterBoundary() {
    assertThat(EntryPath.quote("usr/bin/sh".getBytes(UTF_8))).isEqualTo("'usr/bin/sh'");
    byte[] accented = "é".repeat(150).getBytes(UTF_8); // 300 bytes, 2 per character
    String q = EntryPath.quote(concat("a".getBytes(UTF_8), accented));
    assertThat(q).isEqualTo("'a" + "é".repeat(99) + "\u2026' (301 bytes)");
  }

  // ---- one test per limit ---------------------------------------------------------------------

  private static LayerFormatException refused(byte[] tar, LayerLimits limits) {
    try (LayerTarReader reader = new LayerTarReader(new java.io.ByteArrayInputStream(tar), limits)) {
      while (reader.next() != null) {
        reader.content().readAllBytes();
      }
    } catch (LayerFormatException e) {
      return e;
    } catch (IOException e) {
      throw new AssertionError(e);
    }
    throw new AssertionError("accepted");
  }

  private static byte[] withPaxPath(String path) {
    return new TarBuilder().pax('x', record("path", path)).entry(TarBuilder.file("x", 0)).end().bytes();
  }

  @Test
  void pathLongerThanLimit_refused_atLimitAccepted() throws IOException {
    LayerLimits limits = LayerLimits.DEFAULT.withMaxPathBytes(100);
    String ok = "a/".repeat(49) + "bb"; // 100 bytes
    assertThat(TarEntries.readAll(new java.io.ByteArrayInputStream(withPaxPath(ok)))).hasSize(1);
    new LayerTarReader(new java.io.ByteArrayInputStream(withPaxPath(ok)), limits).next();
    assertThat(refused(withPaxPath(ok + "c"), limits)).hasMessageContaining("path of 101 bytes exceeds the limit of 100");
  }

  @Test
  void pathDeeperThanLimit_refused_linearInDepth() throws IOException {
    LayerLimits limits = LayerLimits.DEFAULT.withMaxPathDepth(10);
    assertThat(new LayerTarReader(new java.io.ByteArrayInputStream(withPaxPath("a/".repeat(9) + "z")), limits).next()
        .path().components()).hasSize(10);
    assertThat(refused(withPaxPath("a/".repeat(10) + "z"), limits))
        .hasMessageContaining("11 levels deep, beyond the limit of 10");
    // 100 000 levels under the default limits: refused (by length) without quadratic work.
    assertThat(refused(withPaxPath("a/".repeat(100_000) + "z"), LayerLimits.DEFAULT))
        .hasMessageContaining("exceeds the limit of 65536 bytes");
    assertThat(refused(withPaxPath("a/".repeat(30_000) + "z"), LayerLimits.DEFAULT.withMaxPathBytes(1 << 20)))
        .hasMessageContaining("30001 levels deep, beyond the limit of 4096");
  }

  @Test
  void componentLongerThanLimit_refused() {
    assertThat(refused(withPaxPath("d/" + "n".repeat(300)), LayerLimits.DEFAULT.withMaxNameBytes(255)))
        .hasMessageContaining("component of 300 bytes, beyond the limit of 255 bytes per name");
  }

  @Test
  void symlinkTargetLongerThanLimit_refused() {
    TarBuilder.Header sym = new TarBuilder.Header().name("s").type('2');
    byte[] tar = new TarBuilder().pax('x', record("linkpath", "t".repeat(5000))).entry(sym).end().bytes();
    assertThat(refused(tar, LayerLimits.DEFAULT)).hasMessageContaining("entry 's'")
        .hasMessageContaining("symlink target of 5000 bytes exceeds the limit of 4095 bytes");
  }

  @Test
  void extendedHeaderLargerThanLimit_refusedBeforeReadingIt() {
    byte[] tar = withPaxPath("p".repeat(3000));
    assertThat(refused(tar, LayerLimits.DEFAULT.withMaxExtendedHeaderBytes(1024)))
        .hasMessageContaining("extended header of 3011 bytes exceeds the limit of 1024 bytes");
  }

  @Test
  void xattrCountAndSizes_refusedBeyondLimits() {
    byte[] three = new TarBuilder().pax('x', concat(record("SCHILY.xattr.user.a", "1"), record("SCHILY.xattr.user.b", "22"),
        record("SCHILY.xattr.user.c", "333"))).entry(TarBuilder.file("f", 0)).end().bytes();
    assertThat(refused(three, LayerLimits.DEFAULT.withMaxXattrs(2, 100, 1000)))
        .hasMessageContaining("entry 'f'").hasMessageContaining("3 extended attributes exceed the limit of 2");
    assertThat(refused(three, LayerLimits.DEFAULT.withMaxXattrs(5, 2, 1000)))
        .hasMessageContaining("'user.c' has a value of 3 bytes, beyond the limit of 2");
    assertThat(refused(three, LayerLimits.DEFAULT.withMaxXattrs(5, 100, 20)))
        .hasMessageContaining("extended attributes of 24 bytes in all exceed the limit of 20 bytes");
  }
}
