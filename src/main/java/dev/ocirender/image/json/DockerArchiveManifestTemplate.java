package dev.ocirender.image.json;

import com.fasterxml.jackson.annotation.JsonAutoDetect;
import com.fasterxml.jackson.annotation.JsonAutoDetect.Visibility;
import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;

/**
 * One element of the {@code manifest.json} array that {@code docker save} (and skopeo's
 * {@code docker-archive:} transport) writes at the root of the archive.
 *
 * <p>Example (legacy layout; Docker 25+ writes {@code blobs/sha256/<hex>} paths instead):
 *
 * <pre>{@code
 * [{"Config": "08850a15….json",
 *   "RepoTags": ["busybox:latest"],
 *   "Layers": ["bf46b0a4…/layer.tar"]}]
 * }</pre>
 *
 * <p>Paths are relative to the archive root and are not validated here. {@code Parent} and
 * {@code LayerSources} (foreign layers) are ignored.
 *
 * @see <a href="https://github.com/moby/moby/blob/master/image/spec/v1.2.md">Docker image spec v1.2</a>
 */
@JsonIgnoreProperties(ignoreUnknown = true)
@JsonAutoDetect(fieldVisibility = Visibility.ANY, getterVisibility = Visibility.NONE, isGetterVisibility = Visibility.NONE)
public final class DockerArchiveManifestTemplate {

  @JsonProperty("Config")
  private String config;
  @JsonProperty("RepoTags")
  private List<String> repoTags;
  @JsonProperty("Layers")
  private List<String> layers;

  /** The config file's path inside the archive. */
  public String config() {
    return config;
  }

  /** The references this image was saved under; may be empty. */
  public List<String> repoTags() {
    return repoTags == null ? List.of() : repoTags;
  }

  /** The layer files' paths inside the archive, base layer first. */
  public List<String> layers() {
    return layers == null ? List.of() : layers;
  }
}
