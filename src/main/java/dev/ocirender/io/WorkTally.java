package dev.ocirender.io;

import java.util.concurrent.atomic.AtomicLong;

/**
 * {@link WorkCounters} that add up, for one render (or any other span of work), from any thread.
 * Read the totals once the work is done.
 */
public final class WorkTally implements WorkCounters {
  private final AtomicLong layerCacheHits = new AtomicLong();
  private final AtomicLong layerCacheMisses = new AtomicLong();
  private final AtomicLong bytesDecoded = new AtomicLong();
  private final AtomicLong bytesReused = new AtomicLong();
  private final AtomicLong bytesCompressed = new AtomicLong();
  private final AtomicLong bytesCompressionReused = new AtomicLong();

  @Override
  public void layerCacheHit() {
    layerCacheHits.incrementAndGet();
  }

  @Override
  public void layerCacheMiss() {
    layerCacheMisses.incrementAndGet();
  }

  @Override
  public void bytesDecoded(long n) {
    bytesDecoded.addAndGet(n);
  }

  @Override
  public void bytesReused(long n) {
    bytesReused.addAndGet(n);
  }

  @Override
  public void bytesCompressed(long n) {
    bytesCompressed.addAndGet(n);
  }

  @Override
  public void bytesCompressionReused(long n) {
    bytesCompressionReused.addAndGet(n);
  }

  public long layerCacheHits() {
    return layerCacheHits.get();
  }

  public long layerCacheMisses() {
    return layerCacheMisses.get();
  }

  public long bytesDecoded() {
    return bytesDecoded.get();
  }

  public long bytesReused() {
    return bytesReused.get();
  }

  public long bytesCompressed() {
    return bytesCompressed.get();
  }

  public long bytesCompressionReused() {
    return bytesCompressionReused.get();
  }

  @Override
  public String toString() {
    return "layer cache " + layerCacheHits() + " hits, " + layerCacheMisses() + " misses; " + bytesDecoded()
        + " bytes decoded, " + bytesReused() + " reused, " + bytesCompressed() + " compressed, "
        + bytesCompressionReused() + " compression reused";
  }
}
