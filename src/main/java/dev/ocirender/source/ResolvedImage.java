package dev.ocirender.source;

import dev.ocirender.image.Descriptor;
import dev.ocirender.image.Digest;
import dev.ocirender.image.Platform;
import dev.ocirender.image.json.ImageConfigTemplate;
import dev.ocirender.image.json.MalformedTemplateException;
import dev.ocirender.layer.LayerBlob;
import java.util.List;
import java.util.Objects;

/**
 * One image, resolved for one platform: what {@code render} merges and {@code inspect} shows.
 *
 * <p>Layers are oldest first: {@code layers.get(0)} is the base layer and has
 * {@link LayerBlob#index()} 0. Nothing here holds layer content; each {@link LayerBlob} reopens its
 * blob from the source, so the source must stay open while the layers are read.
 *
 * @param reference the reference as the user gave it
 * @param manifest the manifest's descriptor (for docker-archive, a manifest synthesised by the source)
 * @param platform the image's platform as the index or config declares it, or the requested one when
 *     the image declares none
 * @param config the config blob's descriptor
 * @param configJson the parsed config
 * @param layers the layers, base first
 */
public record ResolvedImage(
    String reference,
    Descriptor manifest,
    Platform platform,
    Descriptor config,
    ImageConfigTemplate configJson,
    List<LayerBlob> layers) {

  public ResolvedImage {
    Objects.requireNonNull(reference, "reference");
    Objects.requireNonNull(manifest, "manifest");
    Objects.requireNonNull(platform, "platform");
    Objects.requireNonNull(config, "config");
    Objects.requireNonNull(configJson, "configJson");
    layers = List.copyOf(layers);
    for (int i = 0; i < layers.size(); i++) {
      if (layers.get(i).index() != i) {
        throw new IllegalArgumentException(layers.get(i) + " is at position " + i + " of " + reference);
      }
    }
  }

  /** The manifest digest: what identifies the image (and what the pipeline de-duplicates on). */
  public Digest manifestDigest() {
    return manifest.digest();
  }

  /**
   * The config's {@code rootfs.diff_ids}: the uncompressed digest of each layer, base first. Sources
   * check when resolving that there is one per layer and that each is a valid digest.
   */
  public List<Digest> diffIds() {
    try {
      return configJson.diffIds();
    } catch (MalformedTemplateException e) {
      // Sources reject such configs before building a ResolvedImage.
      throw new IllegalStateException(reference + ": " + e.getMessage(), e);
    }
  }

  /** The sum of the layer blob sizes as stored (compressed, where the layers are). */
  public long layersSize() {
    long total = 0;
    for (LayerBlob layer : layers) {
      total += layer.descriptor().size();
    }
    return total;
  }
}
