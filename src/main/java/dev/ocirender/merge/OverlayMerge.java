package dev.ocirender.merge;

import dev.ocirender.layer.LayerBlob;
import dev.ocirender.output.EntrySink;
import java.io.IOException;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Entry point of the streaming overlay merge: layers in, one merged filesystem out to a sink.
 *
 * <p>Usually one pass: every layer is decoded once, newest first, and regular files stream
 * straight to the sink. A layer that repeats a path it already wrote a file for (or puts children
 * under such a file) cannot be fixed up after the fact in a stream; then the sink is discarded
 * and a second pass runs, indexing that layer and the older ones first (see {@link LayerIndex}).
 */
public final class OverlayMerge {
  private OverlayMerge() {}

  /** Opens a fresh sink; a sink closed without finish() must discard what it wrote. */
  @FunctionalInterface
  public interface SinkOpener {
    EntrySink open() throws IOException;
  }

  /**
   * Merges {@code layers} (oldest first) into a sink from {@code opener}, finishing it on success.
   * The sink is always closed. If a layer turns out to hold conflicting entries for one path, the
   * first sink is discarded and the merge runs once more, with those layers indexed first.
   */
  public static MergeStats run(List<LayerBlob> layers, SinkOpener opener, MergeListener listener) throws IOException {
    return run(layers, opener, listener, MergeLimits.DEFAULT);
  }

  /** As {@link #run(List, SinkOpener, MergeListener)}, failing the image when it exceeds {@code limits}. */
  public static MergeStats run(List<LayerBlob> layers, SinkOpener opener, MergeListener listener, MergeLimits limits)
      throws IOException {
    return run(layers, opener, listener, limits, LayerLookahead::forPass);
  }

  /** As {@link #run(List, SinkOpener, MergeListener, MergeLimits)}, with each pass's look-ahead from {@code lookahead}. */
  static MergeStats run(List<LayerBlob> layers, SinkOpener opener, MergeListener listener, MergeLimits limits,
      LayerLookahead.Factory lookahead) throws IOException {
    Set<Integer> indexed = new HashSet<>();
    for (int attempt = 0; ; attempt++) {
      try (EntrySink sink = opener.open()) {
        return new StreamingMerger(layers, sink, listener, indexed, limits,
            lookahead.forPass(layers, limits.layer(), Set.copyOf(indexed))).merge(attempt);
      } catch (LayerConflictException e) {
        if (indexed.contains(e.layer)) {
          throw new IllegalStateException("conflict in an indexed layer: " + e.getMessage(), e);
        }
        for (int l = 0; l <= e.layer; l++) {
          indexed.add(l);
        }
      }
    }
  }
}
