package dev.ocirender.merge;

/**
 * Per-image bounds on what the merge holds in memory, checked as entries stream past, so that a
 * hostile or broken image fails with a clear error instead of exhausting the heap. The merge keeps
 * metadata per path (a few hundred bytes each), so the number of entries is what bounds its memory.
 *
 * @param maxEntries the most tar entries (whiteouts included, over all layers) one image may have;
 *     the default, 10 million, is far above any real image (a full distribution is a few hundred
 *     thousand) and keeps the merge's metadata within a few GB of heap
 */
public record MergeLimits(long maxEntries) {

  public static final long DEFAULT_MAX_ENTRIES = 10_000_000L;

  public static final MergeLimits DEFAULT = new MergeLimits(DEFAULT_MAX_ENTRIES);

  public MergeLimits {
    if (maxEntries <= 0) {
      throw new IllegalArgumentException("maxEntries must be positive: " + maxEntries);
    }
  }
}
