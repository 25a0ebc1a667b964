package dev.ocirender.image.json;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.core.JsonProcessingException;
import dev.ocirender.image.Descriptor;
import dev.ocirender.image.Digest;
import dev.ocirender.image.MediaTypes;
import dev.ocirender.image.Platform;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class TemplatesTest {

  private static final String D1 = "sha256:" + "1".repeat(64);
  private static final String D2 = "sha256:" + "2".repeat(64);

  private static <T> T read(String json, Class<T> type) throws IOException {
    return JsonTemplates.read(json.getBytes(StandardCharsets.UTF_8), type);
  }

  @Test
  void index_readsEntriesWithPlatformAndAnnotations_ignoringUnknownFields() throws IOException {
    IndexTemplate index = read("""
        {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "future": [1],
         "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "%s", "size": 7,
                        "platform": {"architecture": "arm64", "os": "linux", "variant": "v8", "os.features": ["x"]},
                        "annotations": {"org.opencontainers.image.ref.name": "v1"}, "artifactType": "x"}]}
        """.formatted(D1), IndexTemplate.class);

    List<Descriptor> entries = index.descriptors();

    assertThat(entries).containsExactly(new Descriptor(MediaTypes.OCI_MANIFEST, Digest.parse(D1), 7,
        Platform.parse("linux/arm64/v8"), java.util.Map.of("org.opencontainers.image.ref.name", "v1")));
  }

  @Test
  void descriptor_withoutDigestOrSize_orWithBadDigest_isMalformed() throws IOException {
    assertThatThrownBy(() -> read("{\"size\": 1}", DescriptorTemplate.class).toDescriptor())
        .isInstanceOf(MalformedTemplateException.class).hasMessage("descriptor has no digest");
    assertThatThrownBy(() -> read("{\"digest\": \"" + D1 + "\"}", DescriptorTemplate.class).toDescriptor())
        .hasMessage("descriptor " + D1 + " has no size");
    assertThatThrownBy(() -> read("{\"digest\": \"" + D1 + "\", \"size\": -1}", DescriptorTemplate.class).toDescriptor())
        .hasMessage("descriptor " + D1 + " has negative size -1");
    assertThatThrownBy(() -> read("{\"digest\": \"sha256:XYZ\", \"size\": 1}", DescriptorTemplate.class).toDescriptor())
        .hasMessage("descriptor has malformed sha256 digest: sha256:XYZ");
  }

  @Test
  void descriptor_platformWithoutArchitecture_isNoPlatform() throws IOException {
    Descriptor d = read("{\"digest\": \"" + D1 + "\", \"size\": 1, \"platform\": {\"os\": \"linux\"}}",
        DescriptorTemplate.class).toDescriptor();
    assertThat(d.platform()).isNull();
  }

  @Test
  void manifest_readsConfigAndLayersInOrder() throws IOException {
    ManifestTemplate m = read("""
        {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
         "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": "%s", "size": 3},
         "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": "%s", "size": 4},
                    {"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": "%s", "size": 5}]}
        """.formatted(D1, D2, D1), ManifestTemplate.class);

    assertThat(m.configDescriptor()).isEqualTo(new Descriptor(MediaTypes.DOCKER_CONFIG, Digest.parse(D1), 3));
    assertThat(m.layerDescriptors()).extracting(Descriptor::size).containsExactly(4L, 5L);
  }

  @Test
  void manifest_writtenAndReadBack_isTheSame() throws IOException {
    Descriptor config = new Descriptor(MediaTypes.OCI_CONFIG, Digest.parse(D1), 3);
    Descriptor layer = new Descriptor(null, Digest.parse(D2), 9);

    byte[] json = JsonTemplates.write(ManifestTemplate.of(MediaTypes.OCI_MANIFEST, config, List.of(layer)));
    ManifestTemplate back = JsonTemplates.read(json, ManifestTemplate.class);

    assertThat(new String(json, StandardCharsets.UTF_8)).isEqualTo(
        "{\"schemaVersion\":2,\"mediaType\":\"" + MediaTypes.OCI_MANIFEST + "\",\"config\":{\"mediaType\":\""
            + MediaTypes.OCI_CONFIG + "\",\"digest\":\"" + D1 + "\",\"size\":3},\"layers\":[{\"digest\":\"" + D2
            + "\",\"size\":9}]}");
    assertThat(back.configDescriptor()).isEqualTo(config);
    assertThat(back.layerDescriptors()).containsExactly(layer);
  }

  @Test
  void config_readsPlatformDiffIdsExecutionParametersAndHistory() throws IOException {
    ImageConfigTemplate c = read("""
        {"architecture": "arm", "os": "linux", "variant": "v7",
         "config": {"User": "1000", "Env": ["A=1"], "Cmd": ["sh"], "WorkingDir": "/w",
                    "ExposedPorts": {"80/tcp": {}}, "Labels": {"k": "v"}, "Hostname": "h"},
         "rootfs": {"type": "layers", "diff_ids": ["%s", "%s"]},
         "history": [{"created_by": "ADD x", "empty_layer": false}, {"created_by": "ENV A=1", "empty_layer": true}]}
        """.formatted(D1, D2), ImageConfigTemplate.class);

    assertThat(c.platform()).isEqualTo(Platform.parse("linux/arm/v7"));
    assertThat(c.diffIds()).containsExactly(Digest.parse(D1), Digest.parse(D2));
    assertThat(c.config().user()).isEqualTo("1000");
    assertThat(c.config().env()).containsExactly("A=1");
    assertThat(c.config().cmd()).containsExactly("sh");
    assertThat(c.config().entrypoint()).isNull();
    assertThat(c.config().exposedPorts()).containsExactly("80/tcp");
    assertThat(c.config().labels()).containsEntry("k", "v");
    assertThat(c.config().other()).containsKey("Hostname");
    assertThat(c.history()).extracting(ImageConfigTemplate.History::emptyLayer).containsExactly(false, true);
  }

  @Test
  void config_withBadDiffId_isMalformed() throws IOException {
    ImageConfigTemplate c = read("{\"rootfs\": {\"diff_ids\": [\"sha256:1\"]}}", ImageConfigTemplate.class);
    assertThatThrownBy(c::diffIds).isInstanceOf(MalformedTemplateException.class)
        .hasMessage("rootfs.diff_ids[0]: malformed sha256 digest: sha256:1");
    assertThat(read("{}", ImageConfigTemplate.class).platform()).isNull();
  }

  @Test
  void syntaxError_isDescribedOnOneLineWithItsPosition() {
    assertThatThrownBy(() -> read("{\"schemaVersion\": 2,\n \"layers\": [}", ManifestTemplate.class))
        .isInstanceOf(JsonProcessingException.class)
        .satisfies(e -> assertThat(JsonTemplates.describeError((IOException) e))
            .contains("line 2").doesNotContain("\n"));
  }

  @Test
  void jsonNull_isMalformed() {
    assertThatThrownBy(() -> read("null", ManifestTemplate.class)).isInstanceOf(MalformedTemplateException.class);
  }

  @Test
  void mediaTypes_tellIndexesFromManifests() {
    assertThat(MediaTypes.isIndex(MediaTypes.OCI_INDEX)).isTrue();
    assertThat(MediaTypes.isIndex(MediaTypes.DOCKER_MANIFEST_LIST)).isTrue();
    assertThat(MediaTypes.isIndex(MediaTypes.OCI_MANIFEST)).isFalse();
    assertThat(MediaTypes.isManifest(MediaTypes.OCI_MANIFEST)).isTrue();
    assertThat(MediaTypes.isManifest(MediaTypes.DOCKER_MANIFEST)).isTrue();
    assertThat(MediaTypes.isManifest(MediaTypes.DOCKER_MANIFEST_SCHEMA1)).isFalse();
    assertThat(MediaTypes.isManifest(null)).isFalse();
  }
}
