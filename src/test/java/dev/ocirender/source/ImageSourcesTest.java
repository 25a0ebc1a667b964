package dev.ocirender.source;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ocirender.source.layout.DockerArchiveSource;
import dev.ocirender.source.layout.OciLayoutSource;
import dev.ocirender.source.registry.RegistryImageSource;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ImageSourcesTest {

  @TempDir Path tmp;

  private Path layout() throws IOException {
    Path dir = Files.createDirectories(tmp.resolve("img"));
    Files.writeString(dir.resolve("oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}");
    Files.writeString(dir.resolve("index.json"), "{\"schemaVersion\":2,\"manifests\":[]}");
    return dir;
  }

  @Test
  void ociWithTagOrDigest_opensTheLayoutAndKeepsTheSpecForMessages() throws IOException {
    Path dir = layout();
    String digest = "sha256:" + "a".repeat(64);
    for (String spec : new String[] {"oci:" + dir, "oci:" + dir + ":v1", "oci:" + dir + "@" + digest}) {
      try (ImageSource source = ImageSources.open(spec)) {
        assertThat(source).isInstanceOf(OciLayoutSource.class);
        assertThat(source.reference()).isEqualTo(spec);
      }
    }
  }

  @Test
  void ociTag_isLookedUpInIndexJson() throws IOException {
    Path dir = layout();
    try (ImageSource source = ImageSources.open("oci:" + dir + ":v1")) {
      assertThatThrownBy(() -> source.resolve(dev.ocirender.image.Platform.LINUX_AMD64))
          .hasMessage("oci:" + dir + ":v1: no image tagged 'v1' in " + dir.resolve("index.json") + "; tags: none");
    }
  }

  @Test
  void ociWithMalformedDigest_isAnError() throws IOException {
    Path dir = layout();
    assertThatThrownBy(() -> ImageSources.open("oci:" + dir + "@sha256:abc"))
        .isInstanceOf(ImageSourceException.class)
        .hasMessage("oci:" + dir + "@sha256:abc: malformed sha256 digest: sha256:abc");
  }

  @Test
  void ociWithEmptyTag_isAnError() throws IOException {
    Path dir = layout();
    assertThatThrownBy(() -> ImageSources.open("oci:" + dir + ":"))
        .isInstanceOf(ImageSourceException.class)
        .hasMessageEndingWith(": empty tag after ':'");
  }

  @Test
  void ociOfAMissingDirectory_isAnError() {
    Path absent = tmp.resolve("absent");
    assertThatThrownBy(() -> ImageSources.open("oci:" + absent))
        .isInstanceOf(ImageSourceException.class)
        .hasMessage("oci:" + absent + ": " + absent + " is not a directory");
  }

  @Test
  void dockerArchive_opensTheArchiveSource() throws IOException {
    Path dir = Files.createDirectories(tmp.resolve("saved"));
    Files.writeString(dir.resolve("manifest.json"), "[]");
    try (ImageSource source = ImageSources.open("docker-archive:" + dir + ":busybox:latest")) {
      assertThat(source).isInstanceOf(DockerArchiveSource.class);
      assertThat(source.reference()).isEqualTo("docker-archive:" + dir + ":busybox:latest");
    }
  }

  @Test
  void dockerRegistry_opensTheRegistrySourceWithoutNetwork() throws IOException {
    try (ImageSource source = ImageSources.open("docker://registry.example/app:v1")) {
      assertThat(source).isInstanceOf(RegistryImageSource.class);
      assertThat(((RegistryImageSource) source).imageReference().toString()).isEqualTo("registry.example/app:v1");
    }
  }

  @Test
  void dockerRegistry_malformedReference_namesIt() {
    assertThatThrownBy(() -> ImageSources.open("docker://Registry.example/App:v1"))
        .isInstanceOf(ImageSourceException.class)
        .hasMessageStartingWith("docker://Registry.example/App:v1: image reference Registry.example/App:v1: invalid repository");
  }

  @Test
  void unknownTransport_errorListsTheSupportedOnes() {
    assertThatThrownBy(() -> ImageSources.open("oci-archive:/x.tar"))
        .isInstanceOf(ImageSourceException.class)
        .hasMessage("oci-archive:/x.tar: unsupported transport 'oci-archive'; use one of "
            + "oci:DIR[:TAG], oci:DIR@DIGEST, docker-archive:PATH[:REFERENCE], docker://IMAGE[:TAG|@DIGEST]");
  }

  @Test
  void noTransport_errorListsTheSupportedOnes() {
    assertThatThrownBy(() -> ImageSources.open("/images/app"))
        .isInstanceOf(ImageSourceException.class)
        .hasMessage("/images/app: no transport given; use one of " + ImageSources.SUPPORTED);
  }
}
