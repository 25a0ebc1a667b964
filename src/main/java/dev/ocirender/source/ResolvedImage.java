package dev.ocirender.source;

import dev.ocirender.image.Descriptor;
import dev.ocirender.image.Platform;
import dev.ocirender.image.json.ImageConfigTemplate;
import dev.ocirender.layer.LayerBlob;
import java.util.List;

/** STUB (h-cli): the agreed ResolvedImage API; replaced by the source work at merge. */
public record ResolvedImage(
    String reference,
    Descriptor manifest,
    Platform platform,
    Descriptor config,
    ImageConfigTemplate configJson,
    List<LayerBlob> layers) {}
