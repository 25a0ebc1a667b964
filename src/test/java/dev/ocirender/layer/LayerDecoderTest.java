package dev.ocirender.layer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ocirender.image.Descriptor;
import dev.ocirender.image.Digest;
import dev.ocirender.image.VerifyingInputStream;
import dev.ocirender.testing.ExternalTools;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** Decodes blobs compressed by the real gzip, zstd, bzip2 and xz tools. */
class LayerDecoderTest {

  private static final String OCI_TAR = "application/vnd.oci.image.layer.v1.tar";
  private static final String OCI_GZIP = OCI_TAR + "+gzip";
  private static final String OCI_ZSTD = OCI_TAR + "+zstd";
  private static final String DOCKER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip";
  private static final String DOCKER_TAR = "application/vnd.docker.image.rootfs.diff.tar";

  @TempDir
  static Path work;

  /** Two different tars, so that concatenated members are told apart. */
  private static byte[] tarA;
  private static byte[] tarB;

  @BeforeAll
  static void makeTars() throws IOException {
    tarA = sampleTar(1, 400_000);
    tarB = sampleTar(2, 90_000);
    Files.write(work.resolve("a.tar"), tarA);
    Files.write(work.resolve("b.tar"), tarB);
  }

  private static byte[] sampleTar(int seed, int size) {
    Random random = new Random(seed);
    byte[] content = new byte[size];
    for (int i = 0; i < size; i += 64) {
      // half random, half repetitive: compressible, but not trivially
      if (random.nextBoolean()) {
        for (int j = i; j < Math.min(size, i + 64); j++) {
          content[j] = (byte) random.nextInt();
        }
      } else {
        Arrays.fill(content, i, Math.min(size, i + 64), (byte) 'z');
      }
    }
    return new TarBuilder().entry(TarBuilder.file("data-" + seed, size), content).end().bytes();
  }

  /** Compresses a.tar (and, for "multi", a.tar then b.tar as separate members) with a real tool. */
  private static byte[] compressed(String tool, boolean multi) throws IOException {
    ExternalTools.assumeTools(tool, "bash");
    String suffix = switch (tool) {
      case "gzip" -> "gz";
      case "zstd" -> "zst";
      case "bzip2" -> "bz2";
      default -> "xz";
    };
    String quiet = tool.equals("zstd") ? " -q" : "";
    ExternalTools.bash(work, tool + quiet + " -kc a.tar > a.tar." + suffix + " && " + tool + quiet
        + " -kc b.tar > b.tar." + suffix + " && cat a.tar." + suffix + " b.tar." + suffix + " > ab.tar." + suffix);
    return Files.readAllBytes(work.resolve((multi ? "ab" : "a") + ".tar." + suffix));
  }

  private static LayerBlob layer(String mediaType, byte[] blob) {
    return new LayerBlob(1, new Descriptor(mediaType, Digest.sha256Of(blob), blob.length), null,
        () -> new ByteArrayInputStream(blob));
  }

  private static byte[] decode(String mediaType, byte[] blob) throws IOException {
    LayerBlob layer = layer(mediaType, blob);
    try (InputStream in = LayerDecoder.decode(layer, layer.openRaw(), null)) {
      return in.readAllBytes();
    }
  }

  @ParameterizedTest(name = "{0} as {1}")
  @CsvSource({
      "gzip, " + OCI_GZIP, "gzip, " + DOCKER_GZIP, "zstd, " + OCI_ZSTD,
      "gzip, ''", "zstd, application/octet-stream", "bzip2, application/x-tar", "xz, ''", "bzip2, ''"})
  void compressedBlob_decodedByTypeOrMagic(String tool, String mediaType) throws IOException {
    assertThat(decode(mediaType, compressed(tool, false))).isEqualTo(tarA);
  }

  @Test
  void missingMediaType_sniffsMagic() throws IOException {
    assertThat(decode(null, compressed("zstd", false))).isEqualTo(tarA);
    assertThat(decode(null, tarA)).isEqualTo(tarA);
  }

  @ParameterizedTest(name = "[{index}] ''{0}''")
  @ValueSource(strings = {OCI_TAR, DOCKER_TAR, "", "application/octet-stream"})
  void plainTar_passesThrough(String mediaType) throws IOException {
    assertThat(decode(mediaType, tarA)).isEqualTo(tarA);
  }

  @Test
  void emptyBlob_isEmptyTar() throws IOException {
    assertThat(decode(OCI_TAR, new byte[0])).isEmpty();
    assertThat(decode(null, new byte[0])).isEmpty();
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"gzip", "zstd", "bzip2", "xz"})
  void concatenatedMembers_allDecoded(String tool) throws IOException {
    byte[] blob = compressed(tool, true);
    byte[] expected = TarBuilder.concat(tarA, tarB);
    assertThat(decode(null, blob)).isEqualTo(expected);
  }

  /**
   * GZIPInputStream only looks for a next member when its input reports available() > 0; a
   * network-like stream whose read ends exactly at the member boundary and that reports 0 available
   * must not lose the second member (a bare GZIPInputStream does, in exactly this setting).
   */
  @Test
  void multiMemberGzip_readEndingAtMemberBoundary_noAvailable_allMembersDecoded() throws IOException {
    byte[] blob = compressed("gzip", true);
    int firstMember = compressed("gzip", false).length;
    LayerBlob layer = layer(OCI_GZIP, blob);
    Trickle raw = new Trickle(blob, 1000);
    raw.boundary = firstMember;
    try (InputStream in = LayerDecoder.decode(layer, raw, null)) {
      assertThat(in.readAllBytes()).isEqualTo(TarBuilder.concat(tarA, tarB));
    }
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
      "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"})
  void foreignLayer_rejectedNamingTypeAndLayer(String mediaType) {
    LayerBlob layer = layer(mediaType, tarA);
    assertThatThrownBy(() -> LayerDecoder.decode(layer, layer.openRaw(), null))
        .isInstanceOf(LayerFormatException.class)
        .hasMessageContaining(mediaType)
        .hasMessageContaining(layer.toString())
        .hasMessageContaining("foreign");
  }

  @Test
  void unknownMediaType_rejected() {
    LayerBlob layer = layer("application/vnd.example.layer+lz4", tarA);
    assertThatThrownBy(() -> LayerDecoder.decode(layer, layer.openRaw(), null))
        .isInstanceOf(LayerFormatException.class)
        .hasMessage(layer + ": unsupported layer media type application/vnd.example.layer+lz4");
  }

  @Test
  void declaredGzip_butPlainTar_rejected() {
    LayerBlob layer = layer(OCI_GZIP, tarA);
    assertThatThrownBy(() -> LayerDecoder.decode(layer, layer.openRaw(), null))
        .isInstanceOf(LayerFormatException.class)
        .hasMessageContaining(layer.toString())
        .hasMessageContaining("declares gzip");
  }

  /** A zstd skippable frame (magic 0x184D2A5N little-endian, then a 32-bit length) with junk inside. */
  private static byte[] skippableFrame(int nibble, int length) {
    byte[] f = new byte[8 + length];
    f[0] = (byte) (0x50 | nibble);
    f[1] = 0x2a;
    f[2] = 0x4d;
    f[3] = 0x18;
    f[4] = (byte) length;
    f[5] = (byte) (length >>> 8);
    Arrays.fill(f, 8, f.length, (byte) 0x28); // looks like a zstd magic's first byte, but skipped
    return f;
  }

  @ParameterizedTest(name = "[{index}] media type ''{0}''")
  @ValueSource(strings = {OCI_ZSTD, OCI_TAR, "", "application/octet-stream"})
  void zstdLeadingSkippableFrames_acceptedByTypeAndBySniffing(String mediaType) throws IOException {
    byte[] blob = TarBuilder.concat(skippableFrame(0, 16), skippableFrame(0xf, 300), compressed("zstd", false));
    // The real zstd tool is the reference: it decodes the same bytes to the same tar.
    Files.write(work.resolve("skippable.tar.zst"), blob);
    byte[] byTool = ExternalTools.bash(work, "zstd -q -dc skippable.tar.zst");
    assertThat(byTool).isEqualTo(tarA);
    assertThat(decode(mediaType, blob)).isEqualTo(tarA);
  }

  @Test
  void declaredPlainTar_butZstd_decodedByItsMagic_asContainerdDoes() throws IOException {
    assertThat(decode(OCI_TAR, compressed("zstd", false))).isEqualTo(tarA);
  }

  @Test
  void corruptGzip_messageNamesLayerAndCompression() throws IOException {
    byte[] blob = compressed("gzip", false);
    for (int i = 2000; i < 2100; i++) {
      blob[i] ^= 0x5a;
    }
    LayerBlob layer = layer(OCI_GZIP, blob);
    assertThatThrownBy(() -> decode(OCI_GZIP, blob))
        .isInstanceOf(LayerFormatException.class)
        .hasMessageStartingWith(layer + ": corrupt gzip data: ");
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"gzip", "zstd", "bzip2", "xz"})
  void truncatedStream_failsNamingLayerAndCompression(String tool) throws IOException {
    byte[] whole = compressed(tool, false);
    byte[] cut = Arrays.copyOf(whole, whole.length / 2);
    LayerBlob layer = layer(null, cut);
    assertThatThrownBy(() -> decode(null, cut))
        .isInstanceOf(LayerFormatException.class)
        .hasMessageStartingWith(layer + ": ")
        .hasMessageContaining(tool + " data");
  }

  @Test
  void rawStreamFailure_passesThroughUnrelabelled() throws IOException {
    byte[] blob = compressed("gzip", false);
    IOException failure = new IOException("connection reset while fetching blob");
    InputStream failing = new Trickle(blob, 4096) {
      int calls;

      @Override
      public int read(byte[] b, int off, int len) throws IOException {
        if (++calls == 5) {
          throw failure;
        }
        return super.read(b, off, len);
      }
    };
    LayerBlob layer = layer(OCI_GZIP, blob);
    assertThatThrownBy(() -> LayerDecoder.decode(layer, failing, null).readAllBytes()).isSameAs(failure);
  }

  @Test
  void uncompressedDigest_verified() throws IOException {
    byte[] blob = compressed("gzip", false);
    LayerBlob layer = layer(OCI_GZIP, blob);
    try (InputStream in = LayerDecoder.decode(layer, layer.openRaw(), Digest.sha256Of(tarA))) {
      assertThat(in.readAllBytes()).isEqualTo(tarA);
    }
    try (InputStream in = LayerDecoder.decode(layer, layer.openRaw(), Digest.sha256Of(tarB))) {
      assertThatThrownBy(in::readAllBytes)
          .isInstanceOf(VerifyingInputStream.DigestMismatchException.class)
          .hasMessageContaining(layer + " uncompressed");
    }
  }

  @Test
  void afterLastMember_restOfRawBlobIsRead() throws IOException {
    byte[] blob = TarBuilder.concat(compressed("gzip", false), new byte[5000]);
    Trickle raw = new Trickle(blob, 100_000);
    LayerBlob layer = layer(OCI_GZIP, blob);
    try (InputStream in = LayerDecoder.decode(layer, raw, null)) {
      assertThat(in.readAllBytes()).isEqualTo(tarA);
    }
    assertThat(raw.position).isEqualTo(blob.length);
  }

  @Test
  void layerBlobOpenTar_feedsTheTarReader() throws IOException {
    byte[] blob = compressed("zstd", true);
    LayerBlob layer = new LayerBlob(0, new Descriptor(OCI_ZSTD, Digest.sha256Of(blob), blob.length),
        Digest.sha256Of(TarBuilder.concat(tarA, tarB)), () -> new ByteArrayInputStream(blob));
    // tarA's end marker ends the archive; the rest (tarB) is trailing data, drained and digested.
    List<TarEntries.Read> read = TarEntries.readAll(layer.openTar());
    assertThat(read).extracting(r -> r.header().path().toString()).containsExactly("data-1");
    assertThat(read.get(0).content()).hasSize(400_000);
  }

  /**
   * Hands out at most {@code chunk} bytes per read, never reads across {@code boundary}, and never
   * claims anything is available.
   */
  private static class Trickle extends InputStream {
    private final byte[] data;
    private final int chunk;
    int position;
    int boundary = -1;

    Trickle(byte[] data, int chunk) {
      this.data = data;
      this.chunk = chunk;
    }

    @Override
    public int read() {
      return position < data.length ? data[position++] & 0xff : -1;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      if (position >= data.length) {
        return -1;
      }
      int end = position < boundary ? boundary : data.length;
      int n = Math.min(Math.min(len, chunk), end - position);
      System.arraycopy(data, position, b, off, n);
      position += n;
      return n;
    }

    @Override
    public int available() {
      return 0;
    }
  }
}
