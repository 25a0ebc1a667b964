package dev.ocirender.io;

/**
 * Where the work caches report what they did and what they saved: the layer work cache (layers
 * served decoded from disk or decoded from their blobs) and the squashfs block reuse (file content
 * compressed, or its compressed blocks reused).
 *
 * <p>Why a hook of its own: the code that does this work sits below the renderer (layer decoding,
 * output writers) and may run on helper threads, while the totals are wanted per render by the
 * CLI and the pipeline (whose Beam counters must be updated on the DoFn's own thread). A render
 * hands one {@link WorkTally} down; everything here is a default no-op, so a reporter implements
 * only what it counts. Implementations must be thread-safe.
 */
public interface WorkCounters {

  /** Counts nothing. */
  WorkCounters NONE = new WorkCounters() {};

  /** A layer's decoded tar stream was opened from the layer work cache. */
  default void layerCacheHit() {}

  /** A layer's decoded tar stream had to be decoded from its blob (and was offered to the cache, if any). */
  default void layerCacheMiss() {}

  /** {@code n} decoded (tar) bytes came out of decompressing a layer blob (gzip, zstd, ...). */
  default void bytesDecoded(long n) {}

  /** {@code n} decoded (tar) bytes were read from the layer work cache instead of being decoded. */
  default void bytesReused(long n) {}

  /** {@code n} bytes of file content were compressed for an output (squashfs data blocks). */
  default void bytesCompressed(long n) {}

  /**
   * {@code n} bytes of file content went into an output as compressed blocks taken from the
   * squashfs block store, instead of being compressed again.
   */
  default void bytesCompressionReused(long n) {}
}
