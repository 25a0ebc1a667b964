package dev.ocirender.merge;

import dev.ocirender.layer.LayerBlob;

/** Progress of a merge, for displays and metrics. Called on the merging thread; keep it cheap. */
public interface MergeListener {
  MergeListener NONE = new MergeListener() {};

  default void layerStarted(LayerBlob layer) {}

  default void layerFinished(LayerBlob layer, long entriesRead) {}
}
