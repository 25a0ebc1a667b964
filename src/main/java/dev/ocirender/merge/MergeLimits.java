package dev.ocirender.merge;

import dev.ocirender.layer.LayerLimits;
import java.io.Serializable;
import java.util.Objects;

/**
 * Per-image bounds, checked as entries stream past, so that a hostile or broken image fails with a
 * clear error instead of exhausting the heap or a stack. The one limits value of a render: the
 * renderer hands it to the merge, and the merge hands {@link #layer()} to every reader of a layer's
 * tar (first pass, index pass, re-reads of promoted links), so a limit raised on the command line
 * or in the pipeline options holds everywhere a layer is read.
 *
 * @param maxEntries the most tar entries (whiteouts included, over all layers) one image may have;
 *     the default, 10 million, is far above any real image (a full distribution is a few hundred
 *     thousand) and keeps the merge's metadata within about a GB of heap. The merge keeps metadata per
 *     path (about 70 bytes for a regular file, more for directories, symlinks and links, whose
 *     headers wait for the end), so the number of entries is what bounds its memory.
 * @param layer the limits on one entry's metadata (path length and depth, names, symlink targets,
 *     extended headers, xattrs), see {@link LayerLimits}
 */
public record MergeLimits(long maxEntries, LayerLimits layer) implements Serializable {

  public static final long DEFAULT_MAX_ENTRIES = 10_000_000L;

  public static final MergeLimits DEFAULT = new MergeLimits(DEFAULT_MAX_ENTRIES, LayerLimits.DEFAULT);

  public MergeLimits {
    if (maxEntries <= 0) {
      throw new IllegalArgumentException("maxEntries must be positive: " + maxEntries);
    }
    Objects.requireNonNull(layer, "layer");
  }

  /** The entry budget {@code maxEntries} with the default layer limits. */
  public MergeLimits(long maxEntries) {
    this(maxEntries, LayerLimits.DEFAULT);
  }

  public MergeLimits withLayer(LayerLimits layerLimits) {
    return new MergeLimits(maxEntries, layerLimits);
  }
}
