package dev.ocirender.image.json;

import dev.ocirender.image.Descriptor;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * An image index: the OCI image index and the Docker manifest list share this shape, as does an OCI
 * layout's {@code index.json}.
 *
 * <p>Example:
 *
 * <pre>{@code
 * {
 *   "schemaVersion": 2,
 *   "mediaType": "application/vnd.oci.image.index.v1+json",
 *   "manifests": [
 *     {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:…", "size": 345,
 *      "platform": {"os": "linux", "architecture": "amd64"}}
 *   ]
 * }
 * }</pre>
 *
 * <p>It does not decide which entry to use; that is the source's platform and tag selection.
 *
 * @see <a href="https://github.com/opencontainers/image-spec/blob/main/image-index.md">OCI image index</a>
 * @see <a href="https://distribution.github.io/distribution/spec/manifest-v2-2/#manifest-list">Docker manifest list</a>
 */
public final class IndexTemplate {

  private Integer schemaVersion;
  private String mediaType;
  private List<DescriptorTemplate> manifests;
  private Map<String, String> annotations;

  static IndexTemplate read(TemplateParser p, String what) throws IOException {
    if (!p.beginObject(what)) {
      return null;
    }
    IndexTemplate t = new IndexTemplate();
    for (String field; (field = p.nextField()) != null; ) {
      switch (field) {
        case "schemaVersion" -> t.schemaVersion = p.int32("schemaVersion");
        case "mediaType" -> t.mediaType = p.string("mediaType");
        case "manifests" -> t.manifests = p.list("manifests", DescriptorTemplate::read);
        case "annotations" -> t.annotations = p.stringMap("annotations");
        default -> p.skip();
      }
    }
    return t;
  }

  public Integer schemaVersion() {
    return schemaVersion;
  }

  /** The {@code mediaType} field; optional in OCI indexes, so often null. */
  public String mediaType() {
    return mediaType;
  }

  public List<DescriptorTemplate> manifests() {
    return manifests == null ? List.of() : manifests;
  }

  public Map<String, String> annotations() {
    return annotations == null ? Map.of() : annotations;
  }

  /** All entries as validated descriptors, in index order. */
  public List<Descriptor> descriptors() throws MalformedTemplateException {
    List<Descriptor> out = new ArrayList<>();
    for (int i = 0; i < manifests().size(); i++) {
      DescriptorTemplate entry = manifests().get(i);
      if (entry == null) {
        throw new MalformedTemplateException("manifests[" + i + "] is null");
      }
      try {
        out.add(entry.toDescriptor());
      } catch (MalformedTemplateException e) {
        throw new MalformedTemplateException("manifests[" + i + "]: " + e.getMessage(), e);
      }
    }
    return out;
  }
}
