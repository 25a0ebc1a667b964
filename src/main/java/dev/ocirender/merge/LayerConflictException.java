package dev.ocirender.merge;

import java.io.IOException;

/**
 * Thrown by an optimistic pass when a layer holds two entries for one path (or children under a
 * non-directory) after output for the first was already written; the merge restarts with that
 * layer and all older ones indexed. Never escapes {@link OverlayMerge#run}.
 */
final class LayerConflictException extends IOException {
  private static final long serialVersionUID = 1L;

  final int layer;

  LayerConflictException(int layer, String message) {
    super(message);
    this.layer = layer;
  }
}
