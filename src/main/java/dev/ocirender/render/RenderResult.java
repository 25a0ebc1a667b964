package dev.ocirender.render;

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
 */
public record RenderResult(ResolvedImage image, MergeStats stats, long bytesRead, Duration elapsed) {}
