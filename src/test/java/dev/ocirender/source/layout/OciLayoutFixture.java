package dev.ocirender.source.layout;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ocirender.image.Descriptor;
import dev.ocirender.image.Digest;
import dev.ocirender.image.MediaTypes;
import dev.ocirender.image.Platform;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes OCI image layouts for tests, by hand (plain maps through Jackson) rather than through the
 * production templates, so that a template bug cannot hide in a matching fixture bug. Layer blobs are
 * arbitrary bytes: sources never decode them.
 */
final class OciLayoutFixture {

  static final ObjectMapper JSON = new ObjectMapper();

  final Path dir;

  OciLayoutFixture(Path dir) {
    this.dir = dir;
    try {
      Files.createDirectories(dir.resolve("blobs/sha256"));
      Files.writeString(dir.resolve("oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Stores {@code content} as a blob and describes it. */
  Descriptor blob(String mediaType, byte[] content) {
    Digest digest = Digest.sha256Of(content);
    try {
      Files.write(blobPath(digest), content);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return new Descriptor(mediaType, digest, content.length);
  }

  Descriptor json(String mediaType, Object value) {
    try {
      return blob(mediaType, JSON.writeValueAsBytes(value));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  Path blobPath(Digest digest) {
    return dir.resolve("blobs").resolve(digest.algorithm()).resolve(digest.hex());
  }

  Path blobPath(Descriptor d) {
    return blobPath(d.digest());
  }

  Descriptor layer(String content) {
    return blob(MediaTypes.OCI_LAYER_TAR_GZIP, content.getBytes(StandardCharsets.UTF_8));
  }

  /** A config whose diff_ids are the layers' own digests; {@code platform} null leaves os/arch out. */
  Descriptor config(String mediaType, Platform platform, List<Descriptor> layers) {
    Map<String, Object> config = new LinkedHashMap<>();
    if (platform != null) {
      config.put("architecture", platform.architecture());
      config.put("os", platform.os());
      if (platform.variant() != null) {
        config.put("variant", platform.variant());
      }
    }
    config.put("config", Map.of("Env", List.of("PATH=/usr/bin"), "Cmd", List.of("/bin/sh")));
    config.put("rootfs", Map.of("type", "layers", "diff_ids", layers.stream().map(l -> l.digest().toString()).toList()));
    return json(mediaType, config);
  }

  Descriptor manifest(String mediaType, Descriptor config, List<Descriptor> layers) {
    Map<String, Object> manifest = new LinkedHashMap<>();
    manifest.put("schemaVersion", 2);
    manifest.put("mediaType", mediaType);
    manifest.put("config", descriptorJson(config));
    manifest.put("layers", layers.stream().map(OciLayoutFixture::descriptorJson).toList());
    return json(mediaType, manifest);
  }

  /** An OCI image: layers with the given contents, a config for {@code platform}, a manifest. */
  Descriptor image(Platform platform, String... layerContents) {
    List<Descriptor> layers = new ArrayList<>();
    for (String content : layerContents) {
      layers.add(layer(content));
    }
    return manifest(MediaTypes.OCI_MANIFEST, config(MediaTypes.OCI_CONFIG, platform, layers), layers);
  }

  /** A Docker schema 2 image, as a registry would store it. */
  Descriptor dockerImage(Platform platform, String... layerContents) {
    List<Descriptor> layers = new ArrayList<>();
    for (String content : layerContents) {
      layers.add(blob(MediaTypes.DOCKER_LAYER_TAR_GZIP, content.getBytes(StandardCharsets.UTF_8)));
    }
    return manifest(MediaTypes.DOCKER_MANIFEST, config(MediaTypes.DOCKER_CONFIG, platform, layers), layers);
  }

  Descriptor index(String mediaType, Descriptor... entries) {
    Map<String, Object> index = new LinkedHashMap<>();
    index.put("schemaVersion", 2);
    index.put("mediaType", mediaType);
    index.put("manifests", List.of(entries).stream().map(OciLayoutFixture::descriptorJson).toList());
    return json(mediaType, index);
  }

  void writeIndexJson(Descriptor... entries) {
    Map<String, Object> index = new LinkedHashMap<>();
    index.put("schemaVersion", 2);
    index.put("mediaType", MediaTypes.OCI_INDEX);
    index.put("manifests", List.of(entries).stream().map(OciLayoutFixture::descriptorJson).toList());
    try {
      JSON.writeValue(dir.resolve("index.json").toFile(), index);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static Descriptor tagged(Descriptor d, String tag) {
    Map<String, String> annotations = new LinkedHashMap<>(d.annotations());
    annotations.put("org.opencontainers.image.ref.name", tag);
    return new Descriptor(d.mediaType(), d.digest(), d.size(), d.platform(), annotations);
  }

  static Descriptor on(Descriptor d, String platform) {
    return new Descriptor(d.mediaType(), d.digest(), d.size(), Platform.parse(platform), d.annotations());
  }

  static Map<String, Object> descriptorJson(Descriptor d) {
    Map<String, Object> out = new LinkedHashMap<>();
    if (d.mediaType() != null) {
      out.put("mediaType", d.mediaType());
    }
    out.put("digest", d.digest().toString());
    out.put("size", d.size());
    if (d.platform() != null) {
      Map<String, Object> p = new LinkedHashMap<>();
      p.put("architecture", d.platform().architecture());
      p.put("os", d.platform().os());
      if (d.platform().variant() != null) {
        p.put("variant", d.platform().variant());
      }
      out.put("platform", p);
    }
    if (!d.annotations().isEmpty()) {
      out.put("annotations", d.annotations());
    }
    return out;
  }
}
