package dev.ocirender.pipeline;

import org.apache.beam.sdk.metrics.Counter;
import org.apache.beam.sdk.metrics.Distribution;
import org.apache.beam.sdk.metrics.Metrics;

/**
 * Every metric of the catalog pipeline, in one namespace ({@value #NAMESPACE}) with one naming
 * scheme: {@code snake_case}, nouns for counts of things ({@code images_rendered}), {@code bytes_}
 * and {@code _millis} for units. Counts are per image rendered unless the name says otherwise;
 * duplicates and skipped images read and write nothing.
 *
 * <p>{@code cache_hits} counts blob opens served from the worker-wide blob cache,
 * {@code blobs_downloaded} the blob downloads started and {@code bytes_downloaded} the blob bytes
 * received from registries ({@code docker://} images only; local sources ({@code oci:},
 * {@code docker-archive:}) read their files directly and touch neither). They are the
 * {@link dev.ocirender.source.registry.BlobCache} counters of the worker, reported by the DoFns as
 * deltas after each image ({@link WorkerRegistries}): the totals are exact, while which image a
 * delta is reported with is approximate when a worker resolves or renders several at once. Blobs
 * that several images share are downloaded once per worker, so across a catalog
 * {@code blobs_downloaded} stays near the number of distinct blobs times the number of workers.
 *
 * <p>{@code layer_cache_hits} and {@code layer_cache_misses} count layer openings served decoded
 * from the worker's layer work cache ({@link dev.ocirender.layer.decoded.LayerCache}) and openings
 * that decoded the blob; {@code bytes_decoded} counts the decoded (tar) bytes that decompressing
 * blobs produced and {@code bytes_reused} those read from the layer cache instead, so their sum is
 * the tar bytes the renders read. {@code bytes_compressed} counts the file content bytes that
 * squashfs renders compressed, and {@code bytes_compression_reused} those written as compressed
 * blocks taken from the worker's block store ({@link dev.ocirender.squashfs.writer.BlockStore},
 * under the same cache root) instead; their sum is the squashfs data the renders wrote, before
 * sparse blocks (tar renders compress nothing and count neither). They come from each successful render's
 * {@link dev.ocirender.io.WorkTally}; a failed render's work is not counted.
 */
public final class PipelineMetrics {

  public static final String NAMESPACE = "ocirender";

  public static final String CATALOG_LINES = "catalog_lines";
  public static final String IMAGES_RESOLVED = "images_resolved";
  public static final String IMAGES_DUPLICATE = "images_duplicate";
  public static final String IMAGES_SKIPPED = "images_skipped";
  public static final String IMAGES_RENDERED = "images_rendered";
  public static final String IMAGES_FAILED = "images_failed";
  public static final String DEAD_LETTERS = "dead_letters";
  public static final String LAYERS = "layers";
  public static final String BYTES_FETCHED = "bytes_fetched";
  public static final String BYTES_WRITTEN = "bytes_written";
  public static final String ENTRIES = "entries";
  public static final String WHITEOUTS = "whiteouts";
  public static final String CACHE_HITS = "cache_hits";
  public static final String BLOBS_DOWNLOADED = "blobs_downloaded";
  public static final String BYTES_DOWNLOADED = "bytes_downloaded";
  public static final String LAYER_CACHE_HITS = "layer_cache_hits";
  public static final String LAYER_CACHE_MISSES = "layer_cache_misses";
  public static final String BYTES_DECODED = "bytes_decoded";
  public static final String BYTES_REUSED = "bytes_reused";
  public static final String BYTES_COMPRESSED = "bytes_compressed";
  public static final String BYTES_COMPRESSION_REUSED = "bytes_compression_reused";
  public static final String RENDER_MILLIS = "render_millis";
  public static final String OUTPUTS_VERIFIED = "outputs_verified";
  public static final String OUTPUTS_MISMATCHED = "outputs_mismatched";

  static final Counter catalogLines = counter(CATALOG_LINES);
  static final Counter imagesResolved = counter(IMAGES_RESOLVED);
  static final Counter imagesDuplicate = counter(IMAGES_DUPLICATE);
  static final Counter imagesSkipped = counter(IMAGES_SKIPPED);
  static final Counter imagesRendered = counter(IMAGES_RENDERED);
  static final Counter imagesFailed = counter(IMAGES_FAILED);
  static final Counter deadLetters = counter(DEAD_LETTERS);
  static final Counter layers = counter(LAYERS);
  static final Counter bytesFetched = counter(BYTES_FETCHED);
  static final Counter bytesWritten = counter(BYTES_WRITTEN);
  static final Counter entries = counter(ENTRIES);
  static final Counter whiteouts = counter(WHITEOUTS);
  static final Counter cacheHits = counter(CACHE_HITS);
  static final Counter blobsDownloaded = counter(BLOBS_DOWNLOADED);
  static final Counter bytesDownloaded = counter(BYTES_DOWNLOADED);
  static final Counter layerCacheHits = counter(LAYER_CACHE_HITS);
  static final Counter layerCacheMisses = counter(LAYER_CACHE_MISSES);
  static final Counter bytesDecoded = counter(BYTES_DECODED);
  static final Counter bytesReused = counter(BYTES_REUSED);
  static final Counter bytesCompressed = counter(BYTES_COMPRESSED);
  static final Counter bytesCompressionReused = counter(BYTES_COMPRESSION_REUSED);
  static final Counter outputsVerified = counter(OUTPUTS_VERIFIED);
  static final Counter outputsMismatched = counter(OUTPUTS_MISMATCHED);
  static final Distribution renderMillis = Metrics.distribution(NAMESPACE, RENDER_MILLIS);

  private PipelineMetrics() {}

  private static Counter counter(String name) {
    return Metrics.counter(NAMESPACE, name);
  }
}
