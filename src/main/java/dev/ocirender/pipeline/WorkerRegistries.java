package dev.ocirender.pipeline;

import dev.ocirender.source.ImageSource;
import dev.ocirender.source.ImageSourceException;
import dev.ocirender.source.ImageSources;
import dev.ocirender.source.registry.BlobCache;
import dev.ocirender.source.registry.RegistryContext;
import dev.ocirender.source.registry.RegistryOptions;
import dev.ocirender.source.registry.RetryPolicy;
import java.io.IOException;
import java.io.Serializable;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The registry state of one worker JVM: one {@link RegistryContext} (HTTP clients and tokens, the
 * download pool, the on-disk {@link BlobCache}) per {@link Settings}, shared by every DoFn instance
 * and thread of the worker that opens sources, so a blob that several images share is downloaded
 * once per worker. DoFns get it in {@code @Setup} ({@link #of}); it lives as long as the JVM (its
 * threads are daemons and nothing needs closing), because DoFn instances come and go far more often
 * than workers do.
 *
 * <p>{@link #reportCacheMetrics()} turns the cache's process-wide counters into Beam counter
 * increments: each call reports what changed since the previous call of any DoFn of the worker, so
 * the sums are exact. The cache is created only once a {@code docker://} image is opened, so a
 * catalog of local images leaves no cache directory behind.
 */
public final class WorkerRegistries {

  /** The registry options of a pipeline, as a value: equal settings share one context per worker. */
  public record Settings(String cacheDir, long cacheMaxBytes, int parallelDownloads, List<String> insecureRegistries,
      boolean tlsVerify, List<String> mirrors, int retries, long timeoutSeconds) implements Serializable {

    public static Settings from(CatalogPipelineOptions o) {
      return new Settings(o.getBlobCacheDir(), o.getBlobCacheMaxBytes(), o.getParallelDownloads(),
          split(o.getInsecureRegistries()), o.getRegistryTlsVerify(), split(o.getRegistryMirrors()),
          o.getRegistryRetries(), o.getRegistryTimeoutSeconds());
    }

    /**
     * The options these settings stand for.
     *
     * @throws IllegalArgumentException for a non-positive size, count or timeout, or a malformed mirror
     */
    RegistryOptions toRegistryOptions() {
      Duration timeout = Duration.ofSeconds(timeoutSeconds);
      if (timeout.isNegative() || timeout.isZero()) {
        throw new IllegalArgumentException("registryTimeoutSeconds must be positive, got " + timeoutSeconds);
      }
      RegistryOptions.Builder b = RegistryOptions.builder()
          .tlsVerify(tlsVerify)
          .connectTimeout(timeout).requestTimeout(timeout).readTimeout(timeout)
          .retry(new RetryPolicy(retries, RetryPolicy.DEFAULT.initialDelay(), RetryPolicy.DEFAULT.maxDelay(),
              RetryPolicy.DEFAULT.maxRetryAfter()))
          .cacheDir(cacheDir.isBlank() ? null : Path.of(cacheDir))
          .cacheMaxBytes(cacheMaxBytes)
          .concurrentDownloads(parallelDownloads);
      insecureRegistries.forEach(b::insecureRegistry);
      mirrors.forEach(m -> b.dockerHubMirror(URI.create(m)));
      return b.build();
    }

    private static List<String> split(String csv) {
      return Arrays.stream(csv.split(",")).map(String::trim).filter(s -> !s.isEmpty()).toList();
    }
  }

  private static final Map<Settings, WorkerRegistries> WORKER = new ConcurrentHashMap<>();
  // Per cache, not per context: contexts of different settings may share one cache directory.
  private static final Map<BlobCache, Reported> REPORTED = new ConcurrentHashMap<>();

  /** The cache counters already reported. */
  private static final class Reported {
    final AtomicLong hits = new AtomicLong();
    final AtomicLong downloads = new AtomicLong();
    final AtomicLong bytes = new AtomicLong();
  }

  private final RegistryContext context;
  private final AtomicBoolean used = new AtomicBoolean();

  private WorkerRegistries(RegistryContext context) {
    this.context = context;
  }

  /**
   * The worker's registries for {@code settings}, created on first use.
   *
   * @throws IllegalArgumentException when the settings are invalid
   */
  static WorkerRegistries of(Settings settings) {
    return WORKER.computeIfAbsent(settings, s -> new WorkerRegistries(new RegistryContext(s.toRegistryOptions())));
  }

  RegistryContext context() {
    return context;
  }

  /** Opens {@code spec} with this worker's registry context ({@link ImageSources#open(String, RegistryContext)}). */
  ImageSource open(String spec) throws ImageSourceException {
    ImageSource source = ImageSources.open(spec, context);
    if (spec.startsWith("docker://")) {
      used.set(true);
    }
    return source;
  }

  /** Adds what the worker's blob cache counted since the last report to the pipeline's counters. */
  void reportCacheMetrics() {
    if (!used.get()) {
      return;
    }
    BlobCache cache;
    try {
      cache = context.cache();
    } catch (IOException e) {
      return; // the image that needed it has failed with this error already
    }
    Reported r = REPORTED.computeIfAbsent(cache, c -> new Reported());
    PipelineMetrics.cacheHits.inc(delta(r.hits, cache.hits()));
    PipelineMetrics.blobsDownloaded.inc(delta(r.downloads, cache.downloadsStarted()));
    PipelineMetrics.bytesDownloaded.inc(delta(r.bytes, cache.bytesDownloaded()));
  }

  /** Moves {@code reported} up to {@code now} (never down) and returns by how much. */
  private static long delta(AtomicLong reported, long now) {
    while (true) {
      long before = reported.get();
      if (now <= before) {
        return 0;
      }
      if (reported.compareAndSet(before, now)) {
        return now - before;
      }
    }
  }
}
