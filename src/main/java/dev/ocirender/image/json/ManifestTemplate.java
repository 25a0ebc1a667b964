package dev.ocirender.image.json;

import com.fasterxml.jackson.core.JsonGenerator;
import dev.ocirender.image.Descriptor;
import java.io.IOException;
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
public final class ManifestTemplate {

  private Integer schemaVersion;
  private String mediaType;
  private DescriptorTemplate config;
  private List<DescriptorTemplate> layers;
  private Map<String, String> annotations;

  static ManifestTemplate read(TemplateParser p, String what) throws IOException {
    if (!p.beginObject(what)) {
      return null;
    }
    ManifestTemplate t = new ManifestTemplate();
    for (String field; (field = p.nextField()) != null; ) {
      switch (field) {
        case "schemaVersion" -> t.schemaVersion = p.int32("schemaVersion");
        case "mediaType" -> t.mediaType = p.string("mediaType");
        case "config" -> t.config = DescriptorTemplate.read(p, "config");
        case "layers" -> t.layers = p.list("layers", DescriptorTemplate::read);
        case "annotations" -> t.annotations = p.stringMap("annotations");
        default -> p.skip();
      }
    }
    return t;
  }

  /** Writes the manifest compactly, empty fields left out (the bytes are stable: they are digested). */
  void write(JsonGenerator g) throws IOException {
    g.writeStartObject();
    if (schemaVersion != null) {
      g.writeNumberField("schemaVersion", schemaVersion);
    }
    JsonTemplates.writeIfNotEmpty(g, "mediaType", mediaType);
    if (config != null) {
      g.writeFieldName("config");
      config.write(g);
    }
    if (layers != null && !layers.isEmpty()) {
      g.writeArrayFieldStart("layers");
      for (DescriptorTemplate layer : layers) {
        layer.write(g);
      }
      g.writeEndArray();
    }
    JsonTemplates.writeIfNotEmpty(g, "annotations", annotations);
    g.writeEndObject();
  }

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
