package dev.ocirender.source.layout;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ocirender.image.Digest;
import dev.ocirender.image.MediaTypes;
import dev.ocirender.image.Platform;
import dev.ocirender.image.VerifyingInputStream.DigestMismatchException;
import dev.ocirender.layer.LayerBlob;
import dev.ocirender.source.ImageSource;
import dev.ocirender.source.ImageSourceException;
import dev.ocirender.source.ImageSources;
import dev.ocirender.source.ResolvedImage;
import dev.ocirender.source.layout.DockerArchiveFixture.Image;
import dev.ocirender.source.layout.DockerArchiveFixture.Layout;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

class DockerArchiveSourceTest {

  private static final Platform AMD64 = Platform.LINUX_AMD64;

  @TempDir Path tmp;

  static Stream<Arguments> layoutsAndForms() {
    List<Arguments> out = new ArrayList<>();
    for (Layout layout : Layout.values()) {
      out.add(Arguments.of(layout, false));
      out.add(Arguments.of(layout, true));
    }
    return out.stream();
  }

  private static ResolvedImage resolve(String spec, Platform platform) throws IOException {
    try (ImageSource source = ImageSources.open(spec)) {
      return source.resolve(platform);
    }
  }

  private static String read(InputStream stream) throws IOException {
    try (InputStream in = stream) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  private static List<String> layerTexts(ResolvedImage image) throws IOException {
    List<String> out = new ArrayList<>();
    for (LayerBlob layer : image.layers()) {
      out.add(read(layer.openRaw()));
    }
    return out;
  }

  private static Digest sha(String s) {
    return Digest.sha256Of(s.getBytes(StandardCharsets.UTF_8));
  }

  @ParameterizedTest(name = "{0}, tar={1}")
  @MethodSource("layoutsAndForms")
  void singleImage_resolvesLayersByDiffId(Layout layout, boolean asTar) throws IOException {
    Path archive = new DockerArchiveFixture(layout, Image.of("app:v1", AMD64, "base", "top")).write(tmp.resolve("a"), asTar);

    ResolvedImage image = resolve("docker-archive:" + archive, AMD64);

    assertThat(image.platform()).isEqualTo(AMD64);
    assertThat(image.diffIds()).containsExactly(sha("base"), sha("top"));
    assertThat(image.layers()).extracting(LayerBlob::index).containsExactly(0, 1);
    assertThat(image.layers()).extracting(l -> l.descriptor().digest()).containsExactly(sha("base"), sha("top"));
    assertThat(image.layers()).extracting(l -> l.descriptor().size()).containsExactly(4L, 3L);
    assertThat(image.layers()).extracting(l -> l.descriptor().mediaType()).containsOnlyNulls();
    assertThat(layerTexts(image)).containsExactly("base", "top");
    assertThat(image.manifest().mediaType()).isEqualTo(MediaTypes.DOCKER_MANIFEST);
  }

  @Test
  void sameImageAsDirectoryAndTar_hasTheSameManifestDigest() throws IOException {
    DockerArchiveFixture fixture = new DockerArchiveFixture(Layout.LEGACY, Image.of("app:v1", AMD64, "base"));
    ResolvedImage fromDir = resolve("docker-archive:" + fixture.writeDir(tmp.resolve("d")), AMD64);
    ResolvedImage fromTar = resolve("docker-archive:" + fixture.writeTar(tmp.resolve("t.tar")), AMD64);

    assertThat(fromTar.manifestDigest()).isEqualTo(fromDir.manifestDigest());
    assertThat(fromTar.config()).isEqualTo(fromDir.config());
  }

  @Test
  void manifestAndConfig_areServedVerifiedByOpenBlob() throws IOException {
    DockerArchiveFixture fixture = new DockerArchiveFixture(Layout.LEGACY, Image.of("app:v1", AMD64, "base"));
    Path archive = fixture.writeTar(tmp.resolve("a.tar"));
    try (ImageSource source = ImageSources.open("docker-archive:" + archive)) {
      ResolvedImage image = source.resolve(AMD64);

      String manifest = read(source.openBlob(image.manifest()));
      String config = read(source.openBlob(image.config()));

      assertThat(manifest).contains("\"config\":{\"mediaType\":\"" + MediaTypes.DOCKER_CONFIG + "\"")
          .contains(sha("base").toString());
      assertThat(Digest.sha256Of(config.getBytes(StandardCharsets.UTF_8)).hex() + ".json").isEqualTo(fixture.configPath(0));
      assertThat(read(source.openBlob(image.layers().get(0).descriptor()))).isEqualTo("base");
    }
  }

  @ParameterizedTest
  @ValueSource(booleans = {false, true})
  void severalImagesWithoutReference_errorListsRepoTags(boolean asTar) throws IOException {
    Path archive = new DockerArchiveFixture(Layout.LEGACY,
        Image.of("one:latest", AMD64, "1"), Image.of("docker.io/library/two:v2", AMD64, "2"), Image.of(null, AMD64, "3"))
        .write(tmp.resolve("m"), asTar);

    assertThatThrownBy(() -> resolve("docker-archive:" + archive, AMD64))
        .isInstanceOf(ImageSourceException.class)
        .hasMessage("docker-archive:" + archive + ": the archive holds 3 images; choose one with docker-archive:"
            + archive + ":REFERENCE or :@N; RepoTags: @0 one:latest, @1 docker.io/library/two:v2, @2 (untagged)");
  }

  @ParameterizedTest
  @ValueSource(strings = {"two:v2", "docker.io/library/two:v2", "library/two:v2", "@1"})
  void severalImages_referenceSelectsOne(String reference) throws IOException {
    Path archive = new DockerArchiveFixture(Layout.LINKED,
        Image.of("one", AMD64, "1"), Image.of("docker.io/library/two:v2", AMD64, "2a", "2b"))
        .writeTar(tmp.resolve("m.tar"));

    assertThat(layerTexts(resolve("docker-archive:" + archive + ":" + reference, AMD64))).containsExactly("2a", "2b");
  }

  @Test
  void referenceWithoutTag_meansLatest() throws IOException {
    Path archive = new DockerArchiveFixture(Layout.LEGACY,
        Image.of("one:latest", AMD64, "1"), Image.of("one:v2", AMD64, "2")).writeTar(tmp.resolve("m.tar"));

    assertThat(layerTexts(resolve("docker-archive:" + archive + ":one", AMD64))).containsExactly("1");
  }

  @Test
  void unknownReference_errorListsRepoTags() throws IOException {
    Path archive = new DockerArchiveFixture(Layout.LEGACY, Image.of("one:v1", AMD64, "1")).writeTar(tmp.resolve("m.tar"));

    assertThatThrownBy(() -> resolve("docker-archive:" + archive + ":one:v2", AMD64))
        .isInstanceOf(ImageSourceException.class)
        .hasMessage("docker-archive:" + archive + ":one:v2: no image tagged one:v2 in the archive; RepoTags: @0 one:v1");
    assertThatThrownBy(() -> resolve("docker-archive:" + archive + ":@3", AMD64))
        .isInstanceOf(ImageSourceException.class)
        .hasMessageEndingWith("no image @3; the archive holds 1 (@0 to @0)");
  }

  @Test
  void imageForAnotherPlatform_errorSaysWhatItIsAndWhatWasAsked() throws IOException {
    Path archive = new DockerArchiveFixture(Layout.LEGACY, Image.of("a:b", Platform.parse("linux/arm64"), "1"))
        .writeTar(tmp.resolve("a.tar"));

    assertThatThrownBy(() -> resolve("docker-archive:" + archive, AMD64))
        .isInstanceOf(ImageSourceException.class)
        .hasMessage("docker-archive:" + archive + ": the image is linux/arm64, not the requested linux/amd64"
            + " (a docker-archive image has one platform)");
    assertThat(resolve("docker-archive:" + archive, Platform.parse("linux/arm64/v8")).layers()).hasSize(1);
  }

  @ParameterizedTest
  @ValueSource(booleans = {false, true})
  void pathWithDotDot_isRefused(boolean asTar) throws IOException {
    DockerArchiveFixture fixture = new DockerArchiveFixture(Layout.LEGACY, Image.of("a:b", AMD64, "1"));
    fixture.manifestJson("[{\"Config\":\"" + fixture.configPath(0) + "\",\"RepoTags\":[],\"Layers\":[\"x/../../etc/passwd\"]}]");
    Path archive = fixture.write(tmp.resolve("a"), asTar);

    assertThatThrownBy(() -> resolve("docker-archive:" + archive, AMD64))
        .isInstanceOf(ImageSourceException.class)
        .hasMessageContaining("path 'x/../../etc/passwd' in manifest.json uses '..'; it must stay inside the archive");
  }

  @ParameterizedTest
  @ValueSource(booleans = {false, true})
  void linkOutOfTheArchive_isRefused(boolean asTar) throws IOException {
    Path secret = Files.writeString(tmp.resolve("secret"), "secret");
    DockerArchiveFixture fixture = new DockerArchiveFixture(Layout.LINKED, Image.of("a:b", AMD64, "1"));
    fixture.symlinks.replaceAll((name, target) -> asTar ? "../../secret" : secret.toString());
    Path archive = fixture.write(tmp.resolve("sub/a"), asTar);

    assertThatThrownBy(() -> resolve("docker-archive:" + archive, AMD64))
        .isInstanceOf(ImageSourceException.class)
        .hasMessageContaining(asTar ? "layer.tar -> ../../secret leaves the archive" : "outside the archive");
  }

  @Test
  void configNamedByDigest_isVerified() throws IOException {
    DockerArchiveFixture fixture = new DockerArchiveFixture(Layout.LEGACY, Image.of("a:b", AMD64, "1"));
    byte[] config = fixture.files.get(fixture.configPath(0)).clone();
    config[config.length - 1] = ' '; // still parses, but is not what the name says
    fixture.replace(fixture.configPath(0), config);
    Path archive = fixture.writeTar(tmp.resolve("a.tar"));

    assertThatThrownBy(() -> resolve("docker-archive:" + archive, AMD64))
        .isInstanceOf(DigestMismatchException.class)
        .hasMessageContaining(fixture.configPath(0))
        .hasMessageContaining("digest mismatch");
  }

  @Test
  void layerNamedByDigest_isVerifiedWhenRead() throws IOException {
    DockerArchiveFixture fixture = new DockerArchiveFixture(Layout.BLOBS, Image.of("a:b", AMD64, "good"));
    fixture.replace(fixture.layerPath(0, 0), "evil".getBytes(StandardCharsets.UTF_8));
    Path archive = fixture.writeTar(tmp.resolve("a.tar"));

    LayerBlob layer = resolve("docker-archive:" + archive, AMD64).layers().get(0);

    assertThatThrownBy(() -> read(layer.openRaw()))
        .isInstanceOf(DigestMismatchException.class)
        .hasMessageContaining("reading " + fixture.layerPath(0, 0));
  }

  @Test
  void missingLayerFile_errorNamesIt() throws IOException {
    DockerArchiveFixture fixture = new DockerArchiveFixture(Layout.LEGACY, Image.of("a:b", AMD64, "1"));
    fixture.files.remove(fixture.layerPath(0, 0));
    Path archive = fixture.writeTar(tmp.resolve("a.tar"));

    assertThatThrownBy(() -> resolve("docker-archive:" + archive, AMD64))
        .isInstanceOf(ImageSourceException.class)
        .hasMessage("docker-archive:" + archive + ": layer 0 file " + fixture.layerPath(0, 0)
            + " is missing from the archive " + archive);
  }

  @Test
  void layerCountDifferentFromDiffIds_isAnError() throws IOException {
    DockerArchiveFixture fixture = new DockerArchiveFixture(Layout.LEGACY, Image.of("a:b", AMD64, "1"));
    fixture.manifestJson("[{\"Config\":\"" + fixture.configPath(0) + "\",\"Layers\":[\"" + fixture.layerPath(0, 0)
        + "\",\"" + fixture.layerPath(0, 0) + "\"]}]");
    Path archive = fixture.writeDir(tmp.resolve("a"));

    assertThatThrownBy(() -> resolve("docker-archive:" + archive, AMD64))
        .isInstanceOf(ImageSourceException.class)
        .hasMessageContaining("manifest.json lists 2 layers but config " + fixture.configPath(0) + " lists 1 diff_ids");
  }

  @Test
  void malformedManifestJson_isAnError() throws IOException {
    Path archive = new DockerArchiveFixture(Layout.LEGACY, Image.of("a:b", AMD64, "1"))
        .manifestJson("{\"Config\": 1}").writeTar(tmp.resolve("a.tar"));

    assertThatThrownBy(() -> resolve("docker-archive:" + archive, AMD64))
        .isInstanceOf(ImageSourceException.class)
        .hasMessageStartingWith("docker-archive:" + archive + ": malformed manifest.json: ");
  }

  @Test
  void ociLayoutWithoutManifestJson_suggestsTheOciTransport() throws IOException {
    OciLayoutFixture layout = new OciLayoutFixture(tmp.resolve("oci"));
    layout.writeIndexJson(layout.image(AMD64, "x"));

    assertThatThrownBy(() -> ImageSources.open("docker-archive:" + layout.dir))
        .isInstanceOf(ImageSourceException.class)
        .hasMessageEndingWith("is not a docker save archive (no manifest.json); it looks like an OCI layout, use oci:" + layout.dir);
  }

  @Test
  void fileThatIsNotATar_isAnError() throws IOException {
    Path notTar = Files.writeString(tmp.resolve("x.tar"), "definitely not a tar archive, just text".repeat(20));

    assertThatThrownBy(() -> ImageSources.open("docker-archive:" + notTar))
        .isInstanceOf(ImageSourceException.class)
        .hasMessageStartingWith("docker-archive:" + notTar + ": ");
  }

  @Test
  void missingPath_isAnError() {
    Path absent = tmp.resolve("absent.tar");

    assertThatThrownBy(() -> ImageSources.open("docker-archive:" + absent))
        .isInstanceOf(ImageSourceException.class)
        .hasMessage("docker-archive:" + absent + ": " + absent + " does not exist (want a docker save tarball or directory)");
  }

  @Test
  void layersOfATar_canBeReadConcurrently() throws Exception {
    String big1 = "a".repeat(300_000);
    String big2 = "b".repeat(300_000);
    Path archive = new DockerArchiveFixture(Layout.LEGACY, Image.of("a:b", AMD64, big1, big2)).writeTar(tmp.resolve("a.tar"));
    ResolvedImage image = resolve("docker-archive:" + archive, AMD64);

    try (InputStream one = image.layers().get(0).openRaw(); InputStream two = image.layers().get(1).openRaw()) {
      // Interleaved small reads: a shared channel position would mix the two layers' bytes.
      StringBuilder s1 = new StringBuilder();
      StringBuilder s2 = new StringBuilder();
      byte[] buf = new byte[1000];
      int n1 = 0;
      int n2 = 0;
      while (n1 >= 0 || n2 >= 0) {
        if (n1 >= 0 && (n1 = one.read(buf)) > 0) {
          s1.append(new String(buf, 0, n1, StandardCharsets.UTF_8));
        }
        if (n2 >= 0 && (n2 = two.read(buf)) > 0) {
          s2.append(new String(buf, 0, n2, StandardCharsets.UTF_8));
        }
      }
      assertThat(s1.toString()).isEqualTo(big1);
      assertThat(s2.toString()).isEqualTo(big2);
    }
  }
}
