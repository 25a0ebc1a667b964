package dev.ocirender.pipeline;

import dev.ocirender.layer.decoded.LayerCache;
import java.io.IOException;
import java.io.Serializable;
import java.nio.file.Path;

/**
 * Where each worker keeps its layer work cache ({@link LayerCache}) and how large it may grow:
 * {@code --layerCacheDir} and {@code --layerCacheMaxBytes}. On by default: images of a catalog
 * share base layers, and a worker that has decoded one never decompresses it again.
 *
 * @param dir the cache root on the worker; empty for {@code ocirender-layer-cache} under the
 *     worker's {@code java.io.tmpdir}
 * @param maxBytes the most it may hold; 0 for no cache
 */
public record LayerCacheSettings(String dir, long maxBytes) implements Serializable {
  private static final long serialVersionUID = 1L;

  /** No layer cache: every render decodes its layers. */
  public static final LayerCacheSettings OFF = new LayerCacheSettings("", 0);

  public LayerCacheSettings {
    if (maxBytes < 0) {
      throw new IllegalArgumentException("layerCacheMaxBytes must not be negative, got " + maxBytes);
    }
    dir = dir == null ? "" : dir;
  }

  public static LayerCacheSettings from(CatalogPipelineOptions o) {
    return new LayerCacheSettings(o.getLayerCacheDir(), o.getLayerCacheMaxBytes());
  }

  /** The directory the cache uses on this machine. */
  public Path root() {
    return dir.isEmpty() ? Path.of(System.getProperty("java.io.tmpdir"), "ocirender-layer-cache") : Path.of(dir);
  }

  /** This worker's cache, shared by all its renders; null when off. */
  public LayerCache open() throws IOException {
    return maxBytes == 0 ? null : LayerCache.shared(root(), maxBytes);
  }
}
