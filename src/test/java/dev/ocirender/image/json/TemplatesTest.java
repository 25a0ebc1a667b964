package dev.ocirender.image.json;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ocirender.image.Descriptor;
import dev.ocirender.image.Digest;
import dev.ocirender.image.MediaTypes;
import dev.ocirender.image.Platform;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
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

  @Test
  void wrongType_isAnErrorNamingTheFieldAndItsPosition() {
    assertThatThrownBy(() -> read("{\"schemaVersion\": 2,\n \"layers\": [{\"digest\": \"%s\", \"size\": \"12\"}]}"
        .formatted(D1), ManifestTemplate.class))
        .isInstanceOf(JsonProcessingException.class)
        .satisfies(e -> assertThat(JsonTemplates.describeError((IOException) e))
            .isEqualTo("expected an integer for 'layers[].size', found a string (line 2, column 107)"));
    assertThatThrownBy(() -> read("{\"manifests\": {}}", IndexTemplate.class))
        .isInstanceOf(JsonProcessingException.class).hasMessageContaining("expected an array for 'manifests', found an object");
    assertThatThrownBy(() -> read("{\"config\": {\"Env\": [[\"A=1\"]]}}", ImageConfigTemplate.class))
        .isInstanceOf(JsonProcessingException.class).hasMessageContaining("expected a string for 'config.Env[]', found an array");
    assertThatThrownBy(() -> read("[]", ManifestTemplate.class))
        .isInstanceOf(JsonProcessingException.class).hasMessageContaining("expected an object for 'document'");
    assertThatThrownBy(() -> read("{\"schemaVersion\": 4294967298}", ManifestTemplate.class))
        .isInstanceOf(JsonProcessingException.class).hasMessageContaining("a 32-bit integer");
  }

  @Test
  void trailingContentAndEmptyDocuments_areErrors() {
    assertThatThrownBy(() -> read("{} {}", ManifestTemplate.class))
        .isInstanceOf(JsonProcessingException.class).hasMessageContaining("trailing content");
    assertThatThrownBy(() -> read("  ", ManifestTemplate.class))
        .isInstanceOf(JsonProcessingException.class).hasMessageContaining("empty document");
  }

  @Test
  void scalarsWhereStringsAreExpected_andIntegralFloats_areAcceptedAsDatabindDid() throws IOException {
    DescriptorTemplate d = read("{\"mediaType\": 5, \"digest\": \"%s\", \"size\": 12.0, \"annotations\": {\"n\": true}}"
        .formatted(D1), DescriptorTemplate.class);
    assertThat(d.mediaType()).isEqualTo("5");
    assertThat(d.size()).isEqualTo(12L);
    assertThat(d.annotations()).containsEntry("n", "true");
    assertThatThrownBy(() -> read("{\"size\": 12.5}", DescriptorTemplate.class))
        .isInstanceOf(JsonProcessingException.class).hasMessageContaining("expected an integer for 'document.size'");
  }

  @Test
  void nullsAreAbsentValues_andNullListElementsAreReportedWhereTheyMatter() throws IOException {
    ManifestTemplate m = read("{\"mediaType\": null, \"config\": null, \"layers\": [null]}", ManifestTemplate.class);
    assertThat(m.mediaType()).isNull();
    assertThatThrownBy(m::configDescriptor).hasMessage("manifest has no config");
    assertThatThrownBy(m::layerDescriptors).hasMessage("layers[0] is null");
    ImageConfigTemplate c = read("{\"rootfs\": {\"diff_ids\": [\"%s\", null]}}".formatted(D1), ImageConfigTemplate.class);
    assertThatThrownBy(c::diffIds).isInstanceOf(MalformedTemplateException.class).hasMessage("rootfs.diff_ids[1] is null");
  }

  @Test
  void unknownFields_areSkippedHoweverDeep_andTooDeepIsTheParsersErrorNotAStackOverflow() throws IOException {
    String deep = "[".repeat(400) + "]".repeat(400);
    assertThat(read("{\"future\": " + deep + ", \"schemaVersion\": 2}", ManifestTemplate.class).schemaVersion()).isEqualTo(2);

    String tooDeep = "[".repeat(100_000) + "]".repeat(100_000);
    assertThatThrownBy(() -> read("{\"future\": " + tooDeep + "}", ManifestTemplate.class))
        .isInstanceOf(JsonProcessingException.class).hasMessageContaining("depth");
    assertThatThrownBy(() -> read("{\"config\": {\"Healthcheck\": " + tooDeep + "}}", ImageConfigTemplate.class))
        .isInstanceOf(JsonProcessingException.class).hasMessageContaining("depth");
  }

  @Test
  void containerConfig_keepsTheFieldsItDoesNotTypeAsCompactJson() throws IOException {
    ImageConfigTemplate c = read("""
        {"config": {"Healthcheck": {"Test": ["CMD", "true"], "Interval": 30}, "OnBuild": null, "Tty": false,
                    "Volumes": {"/data": {}, "/logs": {}}}}
        """, ImageConfigTemplate.class);
    assertThat(c.config().other()).containsExactly(
        Map.entry("Healthcheck", "{\"Test\":[\"CMD\",\"true\"],\"Interval\":30}"),
        Map.entry("OnBuild", "null"), Map.entry("Tty", "false"));
    assertThat(c.config().volumes()).containsExactly("/data", "/logs");
  }

  @Test
  void dockerArchiveManifest_andOciLayout_read() throws IOException {
    DockerArchiveManifestTemplate[] images = read("""
        [{"Config": "c.json", "RepoTags": ["a:1"], "Layers": ["l1/layer.tar", "l2/layer.tar"], "Parent": ""}, null]
        """, DockerArchiveManifestTemplate[].class);
    assertThat(images).hasSize(2);
    assertThat(images[0].config()).isEqualTo("c.json");
    assertThat(images[0].repoTags()).containsExactly("a:1");
    assertThat(images[0].layers()).containsExactly("l1/layer.tar", "l2/layer.tar");
    assertThat(images[1]).isNull();
    assertThat(read("{\"imageLayoutVersion\": \"1.0.0\"}", OciLayoutTemplate.class).imageLayoutVersion()).isEqualTo("1.0.0");
    assertThat(read("{}", OciLayoutTemplate.class).imageLayoutVersion()).isEmpty();
  }

  /**
   * The streaming reads agree with databind's tree of the same documents (the independent reading):
   * every field the templates type, on documents in the shapes Docker, skopeo and umoci write.
   */
  @Test
  void templates_agreeWithDatabindsTreeOfTheSameDocument() throws IOException {
    ObjectMapper tree = new ObjectMapper();
    String index = """
        {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
         "manifests": [
           {"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "digest": "%s", "size": 525,
            "platform": {"architecture": "amd64", "os": "linux"}},
           {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "%s", "size": 1 ,
            "platform": {"architecture": "arm64", "os": "linux", "variant": "v8", "os.version": "x"},
            "annotations": {"org.opencontainers.image.ref.name": "latest", "com.example": "\\u00e9\\n"}}]}
        """.formatted(D1, D2);
    JsonNode indexTree = tree.readTree(index);
    IndexTemplate indexTemplate = read(index, IndexTemplate.class);
    assertThat(indexTemplate.schemaVersion()).isEqualTo(indexTree.get("schemaVersion").intValue());
    assertThat(indexTemplate.mediaType()).isEqualTo(indexTree.get("mediaType").textValue());
    List<Descriptor> expected = new ArrayList<>();
    for (JsonNode m : indexTree.get("manifests")) {
      JsonNode p = m.get("platform");
      Map<String, String> annotations = m.has("annotations") ? tree.convertValue(m.get("annotations"), Map.class) : null;
      expected.add(new Descriptor(m.get("mediaType").textValue(), Digest.parse(m.get("digest").textValue()),
          m.get("size").longValue(), new Platform(p.get("os").textValue(), p.get("architecture").textValue(),
              p.path("variant").textValue()), annotations));
    }
    assertThat(indexTemplate.descriptors()).isEqualTo(expected);
    assertThat(indexTemplate.descriptors().get(1).annotations().get("com.example")).isEqualTo("\u00e9\n");

    String config = """
        {"architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z", "author": "me",
         "config": {"User": "1:2", "Env": ["PATH=/bin", "E=\\"q\\""], "Entrypoint": ["/init"], "Cmd": [],
                    "WorkingDir": "/srv", "Labels": {"a": "b"}, "StopSignal": "SIGTERM",
                    "ExposedPorts": {"53/udp": {}}, "Hostname": "", "Image": "sha256:x"},
         "rootfs": {"type": "layers", "diff_ids": ["%s"]},
         "history": [{"created": "t", "created_by": "/bin/sh -c x", "author": "a", "comment": "c"}]}
        """.formatted(D2);
    JsonNode configTree = tree.readTree(config);
    ImageConfigTemplate c = read(config, ImageConfigTemplate.class);
    JsonNode cc = configTree.get("config");
    assertThat(c.created()).isEqualTo(configTree.get("created").textValue());
    assertThat(c.author()).isEqualTo(configTree.get("author").textValue());
    assertThat(c.config().user()).isEqualTo(cc.get("User").textValue());
    assertThat(c.config().env()).isEqualTo(tree.convertValue(cc.get("Env"), List.class));
    assertThat(c.config().entrypoint()).isEqualTo(tree.convertValue(cc.get("Entrypoint"), List.class));
    assertThat(c.config().cmd()).isEqualTo(tree.convertValue(cc.get("Cmd"), List.class)).isEmpty();
    assertThat(c.config().workingDir()).isEqualTo(cc.get("WorkingDir").textValue());
    assertThat(c.config().labels()).isEqualTo(tree.convertValue(cc.get("Labels"), Map.class));
    assertThat(c.config().stopSignal()).isEqualTo(cc.get("StopSignal").textValue());
    assertThat(c.config().exposedPorts()).containsExactly(cc.get("ExposedPorts").fieldNames().next());
    assertThat(c.config().other()).containsOnlyKeys("Hostname", "Image");
    assertThat(tree.readTree(c.config().other().get("Image"))).isEqualTo(cc.get("Image"));
    assertThat(c.diffIds()).containsExactly(Digest.parse(configTree.at("/rootfs/diff_ids/0").textValue()));
    assertThat(c.rootfs().type()).isEqualTo(configTree.at("/rootfs/type").textValue());
    ImageConfigTemplate.History h = c.history().get(0);
    JsonNode ht = configTree.at("/history/0");
    assertThat(List.of(h.created(), h.createdBy(), h.author(), h.comment())).isEqualTo(List.of(
        ht.get("created").textValue(), ht.get("created_by").textValue(), ht.get("author").textValue(), ht.get("comment").textValue()));
    assertThat(h.emptyLayer()).isFalse();
  }
}
