package dev.ocirender.render;

import dev.ocirender.image.Messages;
import dev.ocirender.image.Platform;
import dev.ocirender.io.WorkTally;
import dev.ocirender.layer.LayerBlob;
import dev.ocirender.layer.LayerDecoder;
import dev.ocirender.layer.decoded.DecodeAhead;
import dev.ocirender.layer.decoded.DecodedLayerStore;
import dev.ocirender.layer.decoded.LayerCache;
import dev.ocirender.merge.MergeException;
import dev.ocirender.merge.MergeLimits;
import dev.ocirender.merge.MergeListener;
import dev.ocirender.merge.MergeStats;
import dev.ocirender.merge.OverlayMerge;
import dev.ocirender.source.ImageSource;
import dev.ocirender.source.ResolvedImage;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Renders one image end to end: resolve the manifest for a platform, stream its layers through the
 * overlay merge into a sink, and report progress and totals.
 *
 * <p>The renderer owns none of its collaborators: the caller opens and closes the
 * {@link ImageSource}, and the sink opener decides where output goes. It adds what neither the
 * source nor the merge knows: the image reference in every error message, a count of bytes read,
 * and the elapsed time. It does not retry, cache blobs, or publish outputs by itself; a pipeline or
 * CLI wraps it for that ({@link #renderToFile} is the local-file case).
 *
 * <p>Layers are decoded on up to {@code decodeThreads} threads at once ({@link DecodeAhead}): the
 * merge reads them newest first, one at a time, and meanwhile the older ones decode into a bounded
 * store. With one thread each layer decodes as the merge reaches it. Outputs are the same either way.
 * By default ({@link #AUTOMATIC_DECODE_THREADS}) an image decodes ahead only when one of its layers
 * is slow to decode ({@link LayerDecoder#decodesCheaply}): with ISA-L, gzip decodes at about the
 * cost of spilling the decoded bytes, so decoding ahead would add CPU time and save no wall time
 * (BENCHMARKS.md, issue 14 goal 1).
 *
 * <p>With a {@link LayerCache} ({@link #withLayerCache}), layers the cache holds are read from it
 * decoded, and the others are copied into it as they decode; the merge reads the same bytes either
 * way, so outputs are identical with and without the cache. What the cache did is in
 * {@link RenderResult#work()}.
 *
 * <p>Its {@link MergeLimits} (entries, and the {@code LayerLimits} of every tar entry) go to the
 * merge, which applies them wherever it reads a layer's tar; the decode-ahead only decompresses, so
 * it needs none.
 *
 * <p>Thread-safe: one renderer may render several images at once, each call with its own state.
 */
public final class Renderer {

  /** How often {@link RenderListener#bytesRead} may fire; a display redraws slower than this. */
  private static final long BYTES_REPORT_INTERVAL_NANOS = TimeUnit.MILLISECONDS.toNanos(100);

  private final RenderListener listener;
  private final MergeLimits limits;
  private final int decodeThreads;
  private final LayerCache layerCache;
  private final Predicate<LayerBlob> keepInCache;

  /**
   * Decode threads chosen per image: as many as there are processors when a layer is slow to
   * decode, else one; the system property {@code ocirender.decodeThreads}, if set, instead.
   */
  public static final int AUTOMATIC_DECODE_THREADS = 0;

  /** A renderer choosing its decode threads per image ({@link #AUTOMATIC_DECODE_THREADS}). */
  public Renderer(RenderListener listener) {
    this(listener, MergeLimits.DEFAULT, AUTOMATIC_DECODE_THREADS);
  }

  /** A renderer whose images fail when they exceed {@code limits} (see {@link MergeLimits}). */
  public Renderer(RenderListener listener, MergeLimits limits) {
    this(listener, limits, AUTOMATIC_DECODE_THREADS);
  }

  /**
   * @param decodeThreads how many layers of one image may decode at once; 1 for one at a time,
   *     {@link #AUTOMATIC_DECODE_THREADS} to choose per image
   */
  public Renderer(RenderListener listener, int decodeThreads) {
    this(listener, MergeLimits.DEFAULT, decodeThreads);
  }

  public Renderer(RenderListener listener, MergeLimits limits, int decodeThreads) {
    this(listener, limits, decodeThreads, null, LayerCache.KEEP_ALL);
  }

  private Renderer(RenderListener listener, MergeLimits limits, int decodeThreads, LayerCache layerCache,
      Predicate<LayerBlob> keepInCache) {
    this.layerCache = layerCache;
    this.keepInCache = keepInCache;
    this.listener = Objects.requireNonNull(listener, "listener");
    this.limits = Objects.requireNonNull(limits, "limits");
    if (decodeThreads < 0) {
      throw new IllegalArgumentException("decodeThreads must be at least 1, or 0 for automatic: " + decodeThreads);
    }
    this.decodeThreads = decodeThreads;
  }

  /** This renderer, reading decoded layers from {@code cache} and adding to it; null for none. */
  public Renderer withLayerCache(LayerCache cache) {
    return withLayerCache(cache, LayerCache.KEEP_ALL);
  }

  /**
   * This renderer, reading decoded layers from {@code cache} and adding to it those that
   * {@code keep} accepts ({@link LayerCache#attach(LayerCache, List, dev.ocirender.io.WorkCounters, Predicate)});
   * null for no cache. The output is the same whatever is kept.
   */
  public Renderer withLayerCache(LayerCache cache, Predicate<LayerBlob> keep) {
    return new Renderer(listener, limits, decodeThreads, cache, keep);
  }

  /**
   * How many layers of these decode at once: the system property {@code ocirender.decodeThreads}
   * if set; else one when every layer decodes cheaply (decoding ahead would spill bytes at about
   * the cost of decoding them again), else as many as there are processors.
   */
  static int automaticDecodeThreads(List<LayerBlob> layers) {
    Integer property = Integer.getInteger("ocirender.decodeThreads");
    if (property != null) {
      return Math.max(1, property);
    }
    for (LayerBlob layer : layers) {
      if (!layer.isCached() && !LayerDecoder.decodesCheaply(layer)) {
        return Runtime.getRuntime().availableProcessors();
      }
    }
    return 1;
  }

  public Renderer() {
    this(RenderListener.NONE);
  }

  /**
   * Resolves {@code platform} in {@code source} and merges its layers into a sink from
   * {@code opener}. On success the sink has been finished; publishing it is the opener's business.
   *
   * @throws RenderException for any failure of the source or the merge, naming the image (and the
   *     layer and entry when known)
   */
  public RenderResult render(ImageSource source, Platform platform, OverlayMerge.SinkOpener opener) throws RenderException {
    return render(source, platform, opener, new WorkTally());
  }

  /**
   * As {@link #render(ImageSource, Platform, OverlayMerge.SinkOpener)}, counting the work into
   * {@code work} (which becomes {@link RenderResult#work()}): hand the same tally to sinks that
   * count their own work, such as a squashfs sink's compression
   * ({@link dev.ocirender.squashfs.writer.SquashfsEntrySink#reportingTo}).
   */
  public RenderResult render(ImageSource source, Platform platform, OverlayMerge.SinkOpener opener, WorkTally work)
      throws RenderException {
    long start = System.nanoTime();
    String reference = source.reference();
    ResolvedImage image;
    try {
      image = source.resolve(platform);
    } catch (IOException e) {
      throw new RenderException(reference, Messages.describe(e), e);
    }
    listener.imageResolved(image);

    ByteCounter counter = new ByteCounter(listener);
    Progress progress = new Progress(listener);
    List<LayerBlob> counted = new ArrayList<>(image.layers().size());
    for (LayerBlob layer : image.layers()) {
      counted.add(new LayerBlob(layer.index(), layer.descriptor(), layer.verifyUncompressed(),
          () -> new CountingInputStream(layer.openRaw(), counter)));
    }
    List<LayerBlob> layers = LayerCache.attach(layerCache, counted, work, keepInCache);
    MergeStats stats;
    int threads = Math.min(decodeThreads == AUTOMATIC_DECODE_THREADS ? automaticDecodeThreads(layers) : decodeThreads,
        layers.size());
    try (DecodeAhead ahead = threads > 1 ? new DecodeAhead(layers, DecodedLayerStore.withDefaults(), threads) : null) {
      stats = OverlayMerge.run(ahead == null ? layers : ahead.layers(), opener, progress, limits);
    } catch (MergeException e) {
      // The merge already names the layer and entry.
      throw new RenderException(reference, Messages.describe(e), e);
    } catch (IOException e) {
      LayerBlob layer = progress.current;
      String detail = Messages.describe(e);
      throw new RenderException(reference, layer == null ? detail : Messages.within(layer.toString(), detail), e);
    } finally {
      counter.reportNow();
    }
    return new RenderResult(image, stats, counter.total.get(), Duration.ofNanos(System.nanoTime() - start), work);
  }

  /**
   * Renders into a local file that appears only when the render succeeded: nothing exists at
   * {@code output} after a failure (an existing file there is left as it was), and no temporary
   * file is left behind.
   */
  public RenderResult renderToFile(ImageSource source, Platform platform, OutputFormat format, Path output) throws IOException {
    try (FileRenderTarget target = FileRenderTarget.of(output, format)) {
      return renderTo(source, platform, target);
    }
  }

  /**
   * Renders into {@code target} and publishes it once the whole merge succeeded, so nothing
   * appears at the output after a failure. The caller owns the target: it closes it, and may read
   * what the target reports (a directory's stats) afterwards.
   */
  public RenderResult renderTo(ImageSource source, Platform platform, RenderTarget target) throws IOException {
    return renderTo(source, platform, target, new WorkTally());
  }

  /** As {@link #renderTo(ImageSource, Platform, RenderTarget)}, counting the work into {@code work}. */
  public RenderResult renderTo(ImageSource source, Platform platform, RenderTarget target, WorkTally work) throws IOException {
    RenderResult result = render(source, platform, target, work);
    try {
      target.publish();
    } catch (IOException e) {
      throw new RenderException(source.reference(), "publishing " + target.output() + ": " + Messages.describe(e), e);
    }
    return result;
  }

  /** Forwards merge progress and remembers which layer is being read, for error messages. */
  private static final class Progress implements MergeListener {
    private final RenderListener listener;
    volatile LayerBlob current;

    Progress(RenderListener listener) {
      this.listener = listener;
    }

    @Override
    public void layerStarted(LayerBlob layer) {
      current = layer;
      listener.layerStarted(layer);
    }

    @Override
    public void layerFinished(LayerBlob layer, long entriesRead) {
      current = null;
      listener.layerFinished(layer, entriesRead);
    }
  }

  /** Counts bytes from every blob stream of one render and reports the total, throttled. */
  private static final class ByteCounter {
    final AtomicLong total = new AtomicLong();
    private final AtomicLong lastReport = new AtomicLong(System.nanoTime());
    private final RenderListener listener;

    ByteCounter(RenderListener listener) {
      this.listener = listener;
    }

    void add(long n) {
      long sum = total.addAndGet(n);
      long now = System.nanoTime();
      long last = lastReport.get();
      // compareAndSet: when several threads read blobs, only one of them reports per interval.
      if (now - last >= BYTES_REPORT_INTERVAL_NANOS && lastReport.compareAndSet(last, now)) {
        listener.bytesRead(sum);
      }
    }

    void reportNow() {
      lastReport.set(System.nanoTime());
      listener.bytesRead(total.get());
    }
  }

  private static final class CountingInputStream extends FilterInputStream {
    private final ByteCounter counter;

    CountingInputStream(InputStream in, ByteCounter counter) {
      super(in);
      this.counter = counter;
    }

    @Override
    public int read() throws IOException {
      int b = in.read();
      if (b >= 0) {
        counter.add(1);
      }
      return b;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      int n = in.read(b, off, len);
      if (n > 0) {
        counter.add(n);
      }
      return n;
    }

    @Override
    public long skip(long n) throws IOException {
      long skipped = in.skip(n);
      if (skipped > 0) {
        counter.add(skipped);
      }
      return skipped;
    }

    @Override
    public boolean markSupported() {
      // A reset would make bytes count twice.
      return false;
    }
  }
}
