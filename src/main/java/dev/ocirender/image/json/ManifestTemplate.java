package dev.ocirender.image.json;

import com.fasterxml.jackson.annotation.JsonAutoDetect;
import com.fasterxml.jackson.annotation.JsonAutoDetect.Visibility;
import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import dev.ocirender.image.Descriptor;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A single-image manifest: the OCI image manifest and Docker image manifest v2 schema 2 share this
 * shape.
 *
 * <p>Example:
 *
 * <pre>{@code
 * {
 *   "schemaVersion": 2,
 *   "mediaType": "application/vnd.oci.image.manifest.v1+json",
 *   "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:…", "size": 292},
 *   "layers": [
 *     {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": "sha256:…", "size": 2560}
 *   ]
 * }
 * }</pre>
 *
 * <p>Layers are listed base first. Schema 1 manifests parse (they have {@code schemaVersion: 1})
 * but are not supported; sources check {@link #schemaVersion()}. {@code subject} and
 * {@code artifactType} are ignored: they do not change what the image contains.
 *
 * @see <a href="https://github.com/opencontainers/image-spec/blob/main/manifest.md">OCI image manifest</a>
 * @see <a href="https://distribution.github.io/distribution/spec/manifest-v2-2/">Docker manifest v2 schema 2</a>
 */
@JsonIgnoreProperties(ignoreUnknown = true)
@JsonInclude(JsonInclude.Include.NON_EMPTY)
@JsonAutoDetect(fieldVisibility = Visibility.ANY, getterVisibility = Visibility.NONE, isGetterVisibility = Visibility.NONE)
public final class ManifestTemplate {

  private Integer schemaVersion;
  private String mediaType;
  private DescriptorTemplate config;
  private List<DescriptorTemplate> layers;
  private Map<String, String> annotations;

  public Integer schemaVersion() {
    return schemaVersion;
  }

  /** The {@code mediaType} field; optional in OCI manifests, required in Docker ones. */
  public String mediaType() {
    return mediaType;
  }

  public DescriptorTemplate config() {
    return config;
  }

  public List<DescriptorTemplate> layers() {
    return layers == null ? List.of() : layers;
  }

  public Map<String, String> annotations() {
    return annotations == null ? Map.of() : annotations;
  }

  /** The config descriptor, validated; a manifest without one is malformed. */
  public Descriptor configDescriptor() throws MalformedTemplateException {
    if (config == null) {
      throw new MalformedTemplateException("manifest has no config");
    }
    try {
      return config.toDescriptor();
    } catch (MalformedTemplateException e) {
      throw new MalformedTemplateException("config: " + e.getMessage(), e);
    }
  }

  /** The layer descriptors, validated, base layer first. */
  public List<Descriptor> layerDescriptors() throws MalformedTemplateException {
    List<Descriptor> out = new ArrayList<>();
    for (int i = 0; i < layers().size(); i++) {
      DescriptorTemplate layer = layers().get(i);
      if (layer == null) {
        throw new MalformedTemplateException("layers[" + i + "] is null");
      }
      try {
        out.add(layer.toDescriptor());
      } catch (MalformedTemplateException e) {
        throw new MalformedTemplateException("layers[" + i + "]: " + e.getMessage(), e);
      }
    }
    return out;
  }

  /** A schema-2 manifest, for sources that have to synthesise one (docker-archive). */
  public static ManifestTemplate of(String mediaType, Descriptor config, List<Descriptor> layers) {
    ManifestTemplate t = new ManifestTemplate();
    t.schemaVersion = 2;
    t.mediaType = mediaType;
    t.config = DescriptorTemplate.of(config);
    t.layers = new ArrayList<>();
    for (Descriptor layer : layers) {
      t.layers.add(DescriptorTemplate.of(layer));
    }
    return t;
  }
}
