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
@JsonIgnoreProperties(ignoreUnknown = true)
@JsonInclude(JsonInclude.Include.NON_EMPTY)
@JsonAutoDetect(fieldVisibility = Visibility.ANY, getterVisibility = Visibility.NONE, isGetterVisibility = Visibility.NONE)
public final class IndexTemplate {

  private Integer schemaVersion;
  private String mediaType;
  private List<DescriptorTemplate> manifests;
  private Map<String, String> annotations;

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
