package dev.ocirender.render;

import dev.ocirender.layer.LayerBlob;
import dev.ocirender.source.ResolvedImage;

/**
 * Progress of one render, for a terminal display, logs or pipeline metrics.
 *
 * <p>Callbacks must be cheap and must not throw. {@link #imageResolved}, {@link #layerStarted} and
 * {@link #layerFinished} come from the merging thread; {@link #bytesRead} may come from whichever
 * thread is reading a blob (layers can be fetched concurrently), so implementations that keep
 * state must be thread-safe. Byte counts are throttled by the renderer, not per read.
 *
 * <p>If the merge restarts (see {@code OverlayMerge.run}), layers are started and finished a
 * second time; listeners that count layers should count distinct {@link LayerBlob#index()}es.
 */
public interface RenderListener {

  RenderListener NONE = new RenderListener() {};

  /** The manifest is chosen and the layer list is known; nothing has been merged yet. */
  default void imageResolved(ResolvedImage image) {}

  default void layerStarted(LayerBlob layer) {}

  default void layerFinished(LayerBlob layer, long entriesRead) {}

  /**
   * The total number of blob bytes read so far (compressed, as stored), including any re-reads.
   * Called at most about ten times a second, and once more with the final total when the merge
   * ends.
   */
  default void bytesRead(long totalBytes) {}
}
