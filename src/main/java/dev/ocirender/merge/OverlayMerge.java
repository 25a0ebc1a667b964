package dev.ocirender.merge;

import dev.ocirender.layer.LayerBlob;
import dev.ocirender.output.EntrySink;
import java.io.IOException;
import java.util.List;

/** STUB: entry point of the streaming merge (being written). */
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
    throw new UnsupportedOperationException("stub");
  }
}
