package dev.ocirender.source.layout;

import static dev.ocirender.source.layout.OciLayoutFixture.on;
import static dev.ocirender.source.layout.OciLayoutFixture.tagged;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ocirender.image.Descriptor;
import dev.ocirender.image.Digest;
import dev.ocirender.image.MediaTypes;
import dev.ocirender.image.Platform;
import dev.ocirender.image.VerifyingInputStream.DigestMismatchException;
import dev.ocirender.layer.LayerBlob;
import dev.ocirender.source.ImageSource;
import dev.ocirender.source.ImageSourceException;
import dev.ocirender.source.ImageSources;
import dev.ocirender.source.ResolvedImage;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OciLayoutSourceTest {

  private static final Platform AMD64 = Platform.LINUX_AMD64;

  @TempDir Path tmp;
  private OciLayoutFixture layout;

  @BeforeEach
  void setUp() {
    layout = new OciLayoutFixture(tmp.resolve("img"));
  }

  private ResolvedImage resolve(String spec, Platform platform) throws IOException {
    try (ImageSource source = ImageSources.open(spec)) {
      return source.resolve(platform);
    }
  }

  private String oci() {
    return "oci:" + layout.dir;
  }

  private static String layerText(LayerBlob layer) throws IOException {
    try (InputStream in = layer.openRaw()) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  private static List<String> layerTexts(ResolvedImage image) throws IOException {
    List<String> out = new java.util.ArrayList<>();
    for (LayerBlob layer : image.layers()) {
      out.add(layerText(layer));
    }
    return out;
  }

  @Test
  void singleImage_resolvesManifestConfigAndLayersBaseFirst() throws IOException {
    Descriptor manifest = layout.image(AMD64, "base", "middle", "top");
    layout.writeIndexJson(manifest);

    ResolvedImage image = resolve(oci(), AMD64);

    assertThat(image.reference()).isEqualTo(oci());
    assertThat(image.manifestDigest()).isEqualTo(manifest.digest());
    assertThat(image.platform()).isEqualTo(AMD64);
    assertThat(image.config().mediaType()).isEqualTo(MediaTypes.OCI_CONFIG);
    assertThat(image.configJson().config().cmd()).containsExactly("/bin/sh");
    assertThat(image.layers()).extracting(LayerBlob::index).containsExactly(0, 1, 2);
    assertThat(layerTexts(image)).containsExactly("base", "middle", "top");
    assertThat(image.diffIds()).containsExactly(
        Digest.sha256Of("base".getBytes(StandardCharsets.UTF_8)),
        Digest.sha256Of("middle".getBytes(StandardCharsets.UTF_8)),
        Digest.sha256Of("top".getBytes(StandardCharsets.UTF_8)));
    assertThat(image.layersSize()).isEqualTo("base".length() + "middle".length() + "top".length());
  }

  @Test
  void tag_selectsTheImageWithThatRefName() throws IOException {
    layout.writeIndexJson(tagged(layout.image(AMD64, "one"), "v1"), tagged(layout.image(AMD64, "two"), "v2"));

    assertThat(layerTexts(resolve(oci() + ":v2", AMD64))).containsExactly("two");
    assertThat(layerTexts(resolve(oci() + ":v1", AMD64))).containsExactly("one");
  }

  @Test
  void unknownTag_errorListsTheTags() {
    layout.writeIndexJson(tagged(layout.image(AMD64, "one"), "v1"), tagged(layout.image(AMD64, "two"), "v2"));

    assertThatThrownBy(() -> resolve(oci() + ":v3", AMD64))
        .isInstanceOf(ImageSourceException.class)
        .hasMessageStartingWith(oci() + ":v3: no image tagged 'v3'")
        .hasMessageEndingWith("tags: v1, v2");
  }

  @Test
  void severalImagesWithoutTag_errorListsTheTags() {
    Descriptor untagged = layout.image(AMD64, "three");
    layout.writeIndexJson(tagged(layout.image(AMD64, "one"), "v1"), tagged(layout.image(AMD64, "two"), "v2"), untagged);

    assertThatThrownBy(() -> resolve(oci(), AMD64))
        .isInstanceOf(ImageSourceException.class)
        .hasMessageContaining("lists 3 different images; choose one with oci:" + layout.dir + ":TAG")
        .hasMessageEndingWith("tags: v1, v2, (untagged " + untagged.digest().shortForm() + ")");
  }

  @Test
  void sameImageUnderTwoTags_withoutTag_isOneImage() throws IOException {
    Descriptor image = layout.image(AMD64, "one");
    layout.writeIndexJson(tagged(image, "v1"), tagged(image, "latest"));

    assertThat(resolve(oci(), AMD64).manifestDigest()).isEqualTo(image.digest());
  }

  @Test
  void platformVariantsUnderOneTag_selectedByPlatform() throws IOException {
    // umoci and buildah write one index.json entry per platform, all with the same ref name.
    layout.writeIndexJson(
        tagged(on(layout.image(AMD64, "amd"), "linux/amd64"), "v1"),
        tagged(on(layout.image(Platform.parse("linux/arm64"), "arm"), "linux/arm64/v8"), "v1"));

    assertThat(layerTexts(resolve(oci() + ":v1", Platform.parse("linux/arm64")))).containsExactly("arm");
    assertThat(layerTexts(resolve(oci(), AMD64))).containsExactly("amd");
  }

  @Test
  void twoDifferentImagesUnderOneTag_errorListsDigests() {
    Descriptor one = layout.image(AMD64, "one");
    Descriptor two = layout.image(AMD64, "two");
    layout.writeIndexJson(tagged(one, "v1"), tagged(two, "v1"));

    assertThatThrownBy(() -> resolve(oci() + ":v1", AMD64))
        .isInstanceOf(ImageSourceException.class)
        .hasMessageContaining("tag 'v1' names 2 images that are not platform variants")
        .hasMessageContaining(one.digest().toString())
        .hasMessageContaining(two.digest().toString());
  }

  @Test
  void digest_selectsAManifestListedInIndexJson() throws IOException {
    Descriptor two = layout.image(AMD64, "two");
    layout.writeIndexJson(tagged(layout.image(AMD64, "one"), "v1"), tagged(two, "v2"));

    ResolvedImage image = resolve(oci() + "@" + two.digest(), AMD64);

    assertThat(image.manifestDigest()).isEqualTo(two.digest());
    assertThat(layerTexts(image)).containsExactly("two");
  }

  @Test
  void digest_selectsAManifestInsideANestedIndex() throws IOException {
    Descriptor arm = on(layout.image(Platform.parse("linux/arm64"), "arm"), "linux/arm64");
    layout.writeIndexJson(layout.index(MediaTypes.OCI_INDEX, on(layout.image(AMD64, "amd"), "linux/amd64"), arm));

    ResolvedImage image = resolve(oci() + "@" + arm.digest(), Platform.parse("linux/arm64"));

    assertThat(layerTexts(image)).containsExactly("arm");
    assertThat(image.manifest().platform()).isEqualTo(Platform.parse("linux/arm64"));
  }

  @Test
  void digest_ofAnIndex_selectsByPlatformInsideIt() throws IOException {
    Descriptor index = layout.index(MediaTypes.OCI_INDEX,
        on(layout.image(AMD64, "amd"), "linux/amd64"),
        on(layout.image(Platform.parse("linux/arm64"), "arm"), "linux/arm64"));
    layout.writeIndexJson(tagged(index, "multi"), tagged(layout.image(AMD64, "other"), "other"));

    assertThat(layerTexts(resolve(oci() + "@" + index.digest(), Platform.parse("linux/arm64")))).containsExactly("arm");
  }

  @Test
  void digest_ofABlobNotListedInAnyIndex_isReadFromTheLayout() throws IOException {
    Descriptor unlisted = layout.image(AMD64, "unlisted");
    layout.writeIndexJson(tagged(layout.image(AMD64, "one"), "v1"));

    ResolvedImage image = resolve(oci() + "@" + unlisted.digest(), AMD64);

    assertThat(image.manifest().mediaType()).isEqualTo(MediaTypes.OCI_MANIFEST);
    assertThat(layerTexts(image)).containsExactly("unlisted");
  }

  @Test
  void digest_notInTheLayout_isAnError() {
    layout.writeIndexJson(layout.image(AMD64, "one"));
    Digest absent = Digest.sha256Of(new byte[] {1});

    assertThatThrownBy(() -> resolve(oci() + "@" + absent, AMD64))
        .isInstanceOf(ImageSourceException.class)
        .hasMessage(oci() + "@" + absent + ": no manifest or index " + absent + " in the layout " + layout.dir);
  }

  @Test
  void nestedIndexes_areFollowedToTheManifest() throws IOException {
    Descriptor inner = layout.index(MediaTypes.OCI_INDEX,
        on(layout.image(AMD64, "amd"), "linux/amd64"),
        on(layout.image(Platform.parse("linux/arm64"), "arm"), "linux/arm64/v8"));
    Descriptor outer = layout.index(MediaTypes.OCI_INDEX, inner);
    layout.writeIndexJson(tagged(outer, "v1"));

    assertThat(layerTexts(resolve(oci() + ":v1", Platform.parse("linux/arm64/v8")))).containsExactly("arm");
    assertThat(layerTexts(resolve(oci() + ":v1", AMD64))).containsExactly("amd");
  }

  @Test
  void arm64WithoutVariant_matchesARequestForArm64V8_andTheReverse() throws IOException {
    layout.writeIndexJson(layout.index(MediaTypes.OCI_INDEX,
        on(layout.image(AMD64, "amd"), "linux/amd64"),
        on(layout.image(Platform.parse("linux/arm64"), "arm64"), "linux/arm64"),
        on(layout.image(Platform.parse("linux/arm/v7"), "armv7"), "linux/arm/v7")));

    assertThat(layerTexts(resolve(oci(), Platform.parse("linux/arm64/v8")))).containsExactly("arm64");
    assertThat(layerTexts(resolve(oci(), Platform.parse("linux/aarch64")))).containsExactly("arm64");
    assertThat(layerTexts(resolve(oci(), Platform.parse("linux/arm/v7")))).containsExactly("armv7");

    OciLayoutFixture other = new OciLayoutFixture(tmp.resolve("other"));
    other.writeIndexJson(other.index(MediaTypes.OCI_INDEX,
        on(other.image(Platform.parse("linux/arm64/v8"), "v8"), "linux/arm64/v8")));
    assertThat(layerTexts(resolve("oci:" + other.dir, Platform.parse("linux/arm64")))).containsExactly("v8");
  }

  @Test
  void noManifestForThePlatform_errorListsTheAvailablePlatforms() {
    layout.writeIndexJson(tagged(layout.index(MediaTypes.OCI_INDEX,
        on(layout.image(AMD64, "amd"), "linux/amd64"),
        on(layout.image(Platform.parse("linux/arm64/v8"), "arm"), "linux/arm64/v8")), "v1"));

    assertThatThrownBy(() -> resolve(oci() + ":v1", Platform.parse("linux/s390x")))
        .isInstanceOf(ImageSourceException.class)
        .hasMessage(oci() + ":v1: no manifest for platform linux/s390x; available: linux/amd64, linux/arm64/v8");
  }

  @Test
  void dockerManifestListAndSchema2_areReadLikeTheirOciCounterparts() throws IOException {
    Descriptor amd = on(layout.dockerImage(AMD64, "amd"), "linux/amd64");
    Descriptor arm = on(layout.dockerImage(Platform.parse("linux/arm64"), "arm-base", "arm-top"), "linux/arm64");
    layout.writeIndexJson(tagged(layout.index(MediaTypes.DOCKER_MANIFEST_LIST, amd, arm), "latest"));

    ResolvedImage image = resolve(oci() + ":latest", Platform.parse("linux/arm64"));

    assertThat(image.manifest().mediaType()).isEqualTo(MediaTypes.DOCKER_MANIFEST);
    assertThat(image.config().mediaType()).isEqualTo(MediaTypes.DOCKER_CONFIG);
    assertThat(image.layers()).extracting(l -> l.descriptor().mediaType())
        .containsOnly(MediaTypes.DOCKER_LAYER_TAR_GZIP);
    assertThat(layerTexts(image)).containsExactly("arm-base", "arm-top");
  }

  @Test
  void entriesWithoutPlatform_areJudgedByTheirConfig() throws IOException {
    // Index entries with no platform field: the config's os/architecture decide.
    layout.writeIndexJson(layout.index(MediaTypes.OCI_INDEX,
        layout.image(AMD64, "amd"), layout.image(Platform.parse("linux/arm64/v8"), "arm")));

    ResolvedImage image = resolve(oci(), Platform.parse("linux/arm64"));

    assertThat(layerTexts(image)).containsExactly("arm");
    assertThat(image.platform()).isEqualTo(Platform.parse("linux/arm64/v8"));
  }

  @Test
  void topLevelImagesWithoutPlatform_areVariantsWhenTheirConfigsDiffer() throws IOException {
    layout.writeIndexJson(tagged(layout.image(AMD64, "amd"), "v1"),
        tagged(layout.image(Platform.parse("linux/arm64"), "arm"), "v1"));

    assertThat(layerTexts(resolve(oci(), Platform.parse("linux/arm64")))).containsExactly("arm");
  }

  @Test
  void configWithoutPlatform_isAccepted() throws IOException {
    layout.writeIndexJson(layout.image(null, "anything"));

    ResolvedImage image = resolve(oci(), Platform.parse("linux/riscv64"));

    assertThat(layerTexts(image)).containsExactly("anything");
    assertThat(image.platform()).isEqualTo(Platform.parse("linux/riscv64"));
  }

  @Test
  void singleImageForAnotherPlatform_errorSaysWhatItIs() {
    layout.writeIndexJson(layout.image(Platform.parse("linux/arm64"), "arm"));

    assertThatThrownBy(() -> resolve(oci(), AMD64))
        .isInstanceOf(ImageSourceException.class)
        .hasMessage(oci() + ": no manifest for platform linux/amd64; available: linux/arm64");
  }

  @Test
  void artifactsNextToImages_areSkipped() throws IOException {
    Descriptor signature = layout.blob("application/vnd.dev.cosign.simplesigning.v1+json", "{}".getBytes(StandardCharsets.UTF_8));
    layout.writeIndexJson(layout.index(MediaTypes.OCI_INDEX, signature, on(layout.image(AMD64, "amd"), "linux/amd64")));

    assertThat(layerTexts(resolve(oci(), AMD64))).containsExactly("amd");
  }

  @Test
  void layerWithWrongDigest_failsWhenReadToTheEnd() throws IOException {
    Descriptor manifest = layout.image(AMD64, "base", "top");
    layout.writeIndexJson(manifest);
    ResolvedImage image = resolve(oci(), AMD64);
    Descriptor top = image.layers().get(1).descriptor();
    Files.writeString(layout.blobPath(top), "tap"); // same size, other bytes

    try (ImageSource source = ImageSources.open(oci())) {
      LayerBlob layer = source.resolve(AMD64).layers().get(1);
      assertThatThrownBy(() -> layerText(layer))
          .isInstanceOf(DigestMismatchException.class)
          .hasMessageContaining("reading blob " + top.digest() + " of " + oci())
          .hasMessageContaining("digest mismatch");
    }
  }

  @Test
  void layerWithWrongSize_failsWhenRead() throws IOException {
    Descriptor layer = layout.layer("content");
    Descriptor lying = new Descriptor(layer.mediaType(), layer.digest(), layer.size() + 1);
    Descriptor config = layout.config(MediaTypes.OCI_CONFIG, AMD64, List.of(layer));
    layout.writeIndexJson(layout.manifest(MediaTypes.OCI_MANIFEST, config, List.of(lying)));

    LayerBlob blob = resolve(oci(), AMD64).layers().get(0);

    assertThatThrownBy(() -> layerText(blob))
        .isInstanceOf(DigestMismatchException.class)
        .hasMessageContaining("size mismatch, expected 8 bytes but got 7");
  }

  @Test
  void manifestWithWrongDigest_failsResolve() throws IOException {
    Descriptor manifest = layout.image(AMD64, "base");
    layout.writeIndexJson(manifest);
    byte[] bytes = Files.readAllBytes(layout.blobPath(manifest));
    bytes[bytes.length - 2] = ' ';
    Files.write(layout.blobPath(manifest), bytes);

    assertThatThrownBy(() -> resolve(oci(), AMD64))
        .isInstanceOf(DigestMismatchException.class)
        .hasMessageContaining(manifest.digest().toString());
  }

  @Test
  void missingLayerBlob_errorNamesTheDigestAndTheLayout() throws IOException {
    Descriptor manifest = layout.image(AMD64, "base");
    layout.writeIndexJson(manifest);
    ResolvedImage image = resolve(oci(), AMD64);
    Descriptor base = image.layers().get(0).descriptor();
    Files.delete(layout.blobPath(base));

    assertThatThrownBy(() -> layerText(image.layers().get(0)))
        .isInstanceOf(ImageSourceException.class)
        .hasMessageStartingWith(oci() + ": blob " + base.digest() + " is missing from the layout " + layout.dir);
  }

  @Test
  void missingManifestBlob_failsResolve() throws IOException {
    Descriptor manifest = layout.image(AMD64, "base");
    layout.writeIndexJson(manifest);
    Files.delete(layout.blobPath(manifest));

    assertThatThrownBy(() -> resolve(oci(), AMD64))
        .isInstanceOf(ImageSourceException.class)
        .hasMessageContaining("blob " + manifest.digest() + " is missing from the layout");
  }

  @Test
  void malformedManifestJson_errorNamesTheBlobAndTheProblem() {
    Descriptor broken = layout.blob(MediaTypes.OCI_MANIFEST, "{\"schemaVersion\": 2, \"config\": ".getBytes(StandardCharsets.UTF_8));
    layout.writeIndexJson(on(broken, "linux/amd64"));

    assertThatThrownBy(() -> resolve(oci(), AMD64))
        .isInstanceOf(ImageSourceException.class)
        .hasMessageStartingWith(oci() + ": malformed manifest " + broken.digest() + ": ")
        .hasMessageContaining("line 1");
  }

  @Test
  void manifestWithBadLayerDigest_errorSaysWhichLayer() {
    Descriptor layer = layout.layer("x");
    Descriptor config = layout.config(MediaTypes.OCI_CONFIG, AMD64, List.of(layer));
    Descriptor manifest = layout.json(MediaTypes.OCI_MANIFEST, Map.of(
        "schemaVersion", 2,
        "config", OciLayoutFixture.descriptorJson(config),
        "layers", List.of(Map.of("mediaType", MediaTypes.OCI_LAYER_TAR, "digest", "sha256:abc", "size", 1))));
    layout.writeIndexJson(manifest);

    assertThatThrownBy(() -> resolve(oci(), AMD64))
        .isInstanceOf(ImageSourceException.class)
        .hasMessage(oci() + ": malformed manifest " + manifest.digest()
            + ": layers[0]: descriptor has malformed sha256 digest: sha256:abc");
  }

  @Test
  void layerCountDifferentFromDiffIds_isAnError() {
    Descriptor a = layout.layer("a");
    Descriptor b = layout.layer("b");
    Descriptor config = layout.config(MediaTypes.OCI_CONFIG, AMD64, List.of(a));
    layout.writeIndexJson(layout.manifest(MediaTypes.OCI_MANIFEST, config, List.of(a, b)));

    assertThatThrownBy(() -> resolve(oci(), AMD64))
        .isInstanceOf(ImageSourceException.class)
        .hasMessageContaining("lists 2 layers but its config " + config.digest() + " lists 1 diff_ids");
  }

  @Test
  void malformedIndexJson_isAnError() throws IOException {
    Files.writeString(layout.dir.resolve("index.json"), "{\"manifests\": [{\"digest\": \"md5:00\", \"size\": 1}]}");

    assertThatThrownBy(() -> resolve(oci(), AMD64))
        .isInstanceOf(ImageSourceException.class)
        .hasMessageContaining("malformed " + layout.dir.resolve("index.json"))
        .hasMessageContaining("manifests[0]: descriptor has unsupported digest algorithm 'md5'");
  }

  @Test
  void directoryWithoutOciLayoutFile_isNotALayout() throws IOException {
    Path plain = Files.createDirectory(tmp.resolve("plain"));

    assertThatThrownBy(() -> ImageSources.open("oci:" + plain))
        .isInstanceOf(ImageSourceException.class)
        .hasMessage("oci:" + plain + ": " + plain + " is not an OCI image layout (no oci-layout file)");
  }

  @Test
  void schema1Manifest_isRefused() {
    Descriptor schema1 = layout.json(MediaTypes.DOCKER_MANIFEST_SCHEMA1_SIGNED,
        Map.of("schemaVersion", 1, "name", "x", "fsLayers", List.of()));
    layout.writeIndexJson(on(schema1, "linux/amd64"));

    assertThatThrownBy(() -> resolve(oci(), AMD64))
        .isInstanceOf(ImageSourceException.class)
        .hasMessageContaining("Docker schema 1, which is not supported");
  }

  @Test
  void layersAreReopenable() throws IOException {
    layout.writeIndexJson(layout.image(AMD64, "again"));
    try (ImageSource source = ImageSources.open(oci())) {
      LayerBlob layer = source.resolve(AMD64).layers().get(0);
      assertThat(layerText(layer)).isEqualTo("again");
      assertThat(layerText(layer)).isEqualTo("again");
    }
  }
}
