package dev.ocirender.render;

import dev.ocirender.io.WorkTally;
import dev.ocirender.merge.MergeStats;
import dev.ocirender.source.ResolvedImage;
import java.time.Duration;

/**
 * What one successful render did.
 *
 * @param image the manifest and layers that were rendered
 * @param stats the merge's counts (entries, files, whiteouts, ...)
 * @param bytesRead blob bytes read from the source, as stored (compressed); re-reads for a merge
 *     restart or a hard-link promotion count again, since they cost again
 * @param elapsed wall time from resolving the image to the finished sink
 * @param work what the work caches did: layer cache hits and misses, bytes decoded from blobs and
 *     reused from the cache (see {@link dev.ocirender.io.WorkCounters})
 */
public record RenderResult(ResolvedImage image, MergeStats stats, long bytesRead, Duration elapsed, WorkTally work) {

  /** A result with no work counted. */
  public RenderResult(ResolvedImage image, MergeStats stats, long bytesRead, Duration elapsed) {
    this(image, stats, bytesRead, elapsed, new WorkTally());
  }
}
