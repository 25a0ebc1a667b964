package dev.ocirender.image.json;

import java.io.IOException;
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
public final class DockerArchiveManifestTemplate {

    private String config;
    private List<String> repoTags;
    private List<String> layers;

  static DockerArchiveManifestTemplate read(TemplateParser p, String what) throws IOException {
    if (!p.beginObject(what)) {
      return null;
    }
    DockerArchiveManifestTemplate t = new DockerArchiveManifestTemplate();
    for (String field; (field = p.nextField()) != null; ) {
      switch (field) {
        case "Config" -> t.config = p.string(what + ".Config");
        case "RepoTags" -> t.repoTags = p.strings(what + ".RepoTags");
        case "Layers" -> t.layers = p.strings(what + ".Layers");
        default -> p.skip();
      }
    }
    return t;
  }

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
