package dev.ocirender.pipeline;

import dev.ocirender.image.Platform;
import dev.ocirender.io.WorkTally;
import dev.ocirender.layer.decoded.LayerCache;
import dev.ocirender.squashfs.writer.BlockStore;
import dev.ocirender.squashfs.writer.SquashfsOptions;
import dev.ocirender.merge.MergeStats;
import dev.ocirender.render.RenderListener;
import dev.ocirender.render.RenderResult;
import dev.ocirender.merge.MergeLimits;
import dev.ocirender.render.Renderer;
import dev.ocirender.render.StoreRenderTarget;
import dev.ocirender.source.ImageSource;
import dev.ocirender.store.OutputMetadata;
import dev.ocirender.store.OutputStore;
import dev.ocirender.store.OutputStores;
import dev.ocirender.store.StoredOutput;
import java.io.Closeable;
import java.io.IOException;
import java.io.Serializable;
import java.time.Duration;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Predicate;
import dev.ocirender.layer.LayerBlob;
import org.apache.beam.sdk.transforms.Count;
import org.apache.beam.sdk.transforms.Filter;
import org.apache.beam.sdk.transforms.FlatMapElements;
import org.apache.beam.sdk.transforms.Keys;
import org.apache.beam.sdk.transforms.View;
import org.apache.beam.sdk.values.KV;
import org.apache.beam.sdk.values.PCollectionView;
import org.apache.beam.sdk.values.TypeDescriptors;
import org.apache.beam.sdk.coders.StringUtf8Coder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.apache.beam.sdk.transforms.DoFn;
import org.apache.beam.sdk.transforms.PTransform;
import org.apache.beam.sdk.transforms.ParDo;
import org.apache.beam.sdk.values.PCollection;
import org.apache.beam.sdk.values.PCollectionTuple;
import org.apache.beam.sdk.values.TupleTag;
import org.apache.beam.sdk.values.TupleTagList;

/**
 * The heavy step: spreads the renders over workers (images sharing a base together:
 * {@link Affinity}), then fetches each image's layers, merges them
 * as a stream and publishes the output to its store ({@link StoreRenderTarget}). Emits a result for
 * the rendered line and each of its duplicates, or a dead letter for each of them when the render
 * fails (nothing is published then). Renders one image per element; parallelism comes from the
 * runner's workers and threads, not from inside the DoFn. {@code docker://} layers come through the
 * worker's shared blob cache ({@link WorkerRegistries}), so images that share base layers download
 * them once per worker.
 *
 * <p>What one image can do is contained ({@link PerImage}): anything it throws, a stack overflow
 * included, and a render over {@code --renderTimeoutSeconds} become its dead letters; an output
 * past {@code --maxOutputBytes} is stopped. The worker opens the reference pinned to the manifest
 * digest that was resolved ({@link PinnedReference}). A runner that re-runs a bundle finds the
 * outputs its first attempt published and answers them as rendered
 * ({@link OutputStore#adoptEarlierPublish}).
 */
public final class RenderImages extends PTransform<PCollection<ImageGroup>, PCollectionTuple> {

  /**
   * The per-image limits of the render step: how long a render may take, how large its output may
   * grow, and what its layers may hold ({@link MergeLimits}: entries, path depth and length, ...).
   */
  public record Limits(Duration timeout, long maxOutputBytes, MergeLimits merge) implements Serializable {
    private static final long serialVersionUID = 1L;

    /** The given time and size limits, with the default limits on what layers may hold. */
    public Limits(Duration timeout, long maxOutputBytes) {
      this(timeout, maxOutputBytes, MergeLimits.DEFAULT);
    }

    public static Limits from(CatalogPipelineOptions o) {
      if (o.getRenderTimeoutSeconds() <= 0) {
        throw new IllegalArgumentException("renderTimeoutSeconds must be positive, got " + o.getRenderTimeoutSeconds());
      }
      return new Limits(Duration.ofSeconds(o.getRenderTimeoutSeconds()), o.getMaxOutputBytes(), CatalogPipelineOptions.limits(o));
    }
  }

  private final OutputStores stores;
  private final WorkerRegistries.Settings registries;
  private final boolean verifyOutputs;
  private final Limits limits;
  private final LayerCacheSettings layerCache;
  private final Affinity.Settings affinity;

  /** Rendering without a layer cache, spread by base ({@link Affinity.Settings#DEFAULT}). */
  public RenderImages(OutputStores stores, WorkerRegistries.Settings registries, boolean verifyOutputs, Limits limits) {
    this(stores, registries, verifyOutputs, limits, LayerCacheSettings.OFF, Affinity.Settings.DEFAULT);
  }

  /**
   * @param registries how workers reach registries; one context and blob cache per worker ({@link WorkerRegistries})
   * @param verifyOutputs read each published output back and compare it with the image ({@link OutputVerifier})
   * @param layerCache each worker's layer work cache, shared by its renders
   * @param affinity how renders are spread over workers: by base ({@link Affinity}) or at random
   */
  public RenderImages(OutputStores stores, WorkerRegistries.Settings registries, boolean verifyOutputs, Limits limits,
      LayerCacheSettings layerCache, Affinity.Settings affinity) {
    this.stores = stores;
    this.registries = registries;
    this.verifyOutputs = verifyOutputs;
    this.limits = limits;
    this.layerCache = layerCache;
    this.affinity = affinity;
  }

  @Override
  public PCollectionTuple expand(PCollection<ImageGroup> groups) {
    PCollectionView<List<String>> singleUse = groups.apply("LayersOfOneImage", new LayersOfOneImage());
    PCollectionTuple out = groups
        .apply("Affinity", new Affinity(affinity))
        .apply("RenderImage", ParDo.of(new RenderImageFn(stores, registries, verifyOutputs, limits, layerCache, singleUse))
            .withSideInputs(singleUse)
            .withOutputTags(CatalogPipeline.RESULTS, TupleTagList.of(CatalogPipeline.DEAD_LETTERS)));
    out.get(CatalogPipeline.RESULTS).setCoder(StringUtf8Coder.of());
    out.get(CatalogPipeline.DEAD_LETTERS).setCoder(StringUtf8Coder.of());
    return out;
  }

  /**
   * Dead letters for every line of a group: the image failed, and so did its duplicates (which are
   * then not counted as {@code images_duplicate}). Rethrows {@code e} instead when the worker must
   * not go on ({@link PerImage#survivable}).
   */
  static void failGroup(ImageGroup group, String stage, Throwable e, DoFn.MultiOutputReceiver out) {
    PerImage.rethrowIfFatal(e);
    PipelineMetrics.imagesFailed.inc();
    out.get(CatalogPipeline.DEAD_LETTERS).output(Records.deadLetter(stage, group.canonical().request(), e));
    PipelineMetrics.deadLetters.inc();
    for (ResolvedRequest d : group.duplicates()) {
      out.get(CatalogPipeline.DEAD_LETTERS).output(Records.deadLetter(stage, d.request(), e));
      PipelineMetrics.deadLetters.inc();
    }
  }

  /** Results for the duplicates of a group whose output exists, counted as {@code images_duplicate}. */
  static void duplicates(ImageGroup group, StoredOutput output, Records.RenderFacts facts, OutputVerifier.Verdict verdict,
      DoFn.MultiOutputReceiver out) {
    for (ResolvedRequest d : group.duplicates()) {
      out.get(CatalogPipeline.RESULTS).output(Records.result(Records.DUPLICATE, d, output, facts, group.canonical().request(), verdict));
      PipelineMetrics.imagesDuplicate.inc();
    }
  }

  /**
   * The digests of the layers that exactly one image of the job uses (counted over the groups to
   * render: one per render, however many catalog lines ask for it), as a side input of the render.
   * Writing a layer into the layer cache costs more than decoding it (LZ4, CRC32C, the disk), and
   * pays back only when another render reads it: such layers (typically every image's own top) are
   * decoded but not kept. An image whose layers are not known counts for none, so its layers are kept.
   */
  static final class LayersOfOneImage extends PTransform<PCollection<ImageGroup>, PCollectionView<List<String>>> {
    @Override
    public PCollectionView<List<String>> expand(PCollection<ImageGroup> groups) {
      return groups
          .apply("LayersOfEach", FlatMapElements.into(TypeDescriptors.strings())
              .via((ImageGroup g) -> new LinkedHashSet<>(g.canonical().layers())))
          .apply("ImagesPerLayer", Count.perElement())
          .apply("UsedByOne", Filter.by((KV<String, Long> kv) -> kv.getValue() == 1))
          .apply("Digests", Keys.create())
          .apply("AsList", View.asList());
    }
  }

  /** Renders one group's image to its canonical output. */
  static final class RenderImageFn extends DoFn<ImageGroup, String> {
    private static final Logger LOG = LoggerFactory.getLogger(RenderImageFn.class);
    private final OutputStores stores;
    private final WorkerRegistries.Settings settings;
    private final boolean verifyOutputs;
    private final Limits limits;
    private final LayerCacheSettings layerCacheSettings;
    private transient OutputStores.Router router;
    private transient WorkerRegistries registries;
    private transient LayerCache layerCache;
    private final PCollectionView<List<String>> singleUse;
    /** The side input last seen and its digests as a set (the runner hands the same list to every element). */
    private transient List<String> singleUseSeen;
    private transient Set<String> singleUseSet = Set.of();

    RenderImageFn(OutputStores stores, WorkerRegistries.Settings settings, boolean verifyOutputs, Limits limits) {
      this(stores, settings, verifyOutputs, limits, LayerCacheSettings.OFF);
    }

    RenderImageFn(OutputStores stores, WorkerRegistries.Settings settings, boolean verifyOutputs, Limits limits,
        LayerCacheSettings layerCacheSettings) {
      this(stores, settings, verifyOutputs, limits, layerCacheSettings, null);
    }

    /** @param singleUse the side input of {@link LayersOfOneImage}; null to keep every layer in the cache */
    RenderImageFn(OutputStores stores, WorkerRegistries.Settings settings, boolean verifyOutputs, Limits limits,
        LayerCacheSettings layerCacheSettings, PCollectionView<List<String>> singleUse) {
      this.singleUse = singleUse;
      this.stores = stores;
      this.settings = settings;
      this.verifyOutputs = verifyOutputs;
      this.limits = limits;
      this.layerCacheSettings = layerCacheSettings;
    }

    @Setup
    public void setup() {
      router = stores.open();
      registries = WorkerRegistries.of(settings);
      try {
        layerCache = layerCacheSettings.open();
        if (layerCache != null) {
          BlockStore.at(layerCache.root()).reportFilesAddedTo(layerCache::fileAdded);
        }
      } catch (IOException | RuntimeException e) {
        // A cache is worth no lost image: without it every render still works, only slower.
        LOG.warn("layer cache {} unusable, rendering without it: {}", layerCacheSettings.root(), e.toString());
        layerCache = null;
      }
    }

    /**
     * Squashfs settings of this worker's renders: with the layer cache on, its root also keeps the
     * compressed blocks ({@code ROOT/blocks}, evicted with the layers) so shared content is
     * compressed once per worker.
     */
    private SquashfsOptions squashfsOptions() {
      return layerCache == null ? SquashfsOptions.defaults() : SquashfsOptions.defaults().withBlockCacheRoot(layerCache.root());
    }

    @ProcessElement
    public void process(@Element ImageGroup group, MultiOutputReceiver out, ProcessContext context) throws InterruptedException {
      try {
        render(group, out, keepInCache(context));
      } finally {
        registries.reportCacheMetrics();
      }
    }

    /** What the render thread hands back; metrics and outputs are written on the DoFn's thread. */
    private record Rendered(RenderResult result, StoredOutput stored) {}

    /** Which layers this render adds to the layer cache: all but those that no other image of the job uses. */
    private Predicate<LayerBlob> keepInCache(ProcessContext context) {
      if (singleUse == null || layerCache == null) {
        return LayerCache.KEEP_ALL;
      }
      List<String> seen = context.sideInput(singleUse);
      if (seen != singleUseSeen) {
        singleUseSet = new HashSet<>(seen);
        singleUseSeen = seen;
      }
      Set<String> single = singleUseSet;
      return layer -> !single.contains(layer.descriptor().digest().toString());
    }

    private void render(ImageGroup group, MultiOutputReceiver out, Predicate<LayerBlob> keep) throws InterruptedException {
      ResolvedRequest first = group.canonical();
      ImageRequest q = first.request();
      String pinned = PinnedReference.of(q.image(), first.manifestDigest());
      long start = System.nanoTime();
      Rendered rendered;
      // What a timed-out render holds, closed from the DoFn's thread to unblock it and clean up ({@link #abandon}).
      Closeable[] open = new Closeable[2];
      try {
        rendered = PerImage.call("rendering " + q.image(), limits.timeout(), () -> {
          OutputStore store = OutputStores.limited(router.forUri(q.output()), limits.maxOutputBytes());
          OutputMetadata metadata = OutputMetadata.of(q.image(), first.manifestDigest(), q.platform(), q.format());
          WorkTally work = new WorkTally();
          try (ImageSource source = registries.open(pinned);
              StoreRenderTarget target = new StoreRenderTarget(store, q.output(), CatalogParser.format(q.format()), metadata,
                  group.replaceVersion(), squashfsOptions(), work)) {
            open[0] = source;
            open[1] = target;
            // One decoding thread: the runner already renders one image per core, so decoding layers
            // ahead would only add the cost of its temporary store.
            RenderResult result = new Renderer(RenderListener.NONE, limits.merge(), 1).withLayerCache(layerCache, keep)
                .render(source, Platform.parse(q.platform()), target, work);
            String digest = result.image().manifestDigest().toString();
            if (!digest.equals(first.manifestDigest())) {
              // Only for references that cannot be pinned (docker-archive): the output would be labelled wrongly.
              throw new IOException(q.image() + " now resolves to " + digest + ", not " + first.manifestDigest()
                  + " as when the job started; not publishing");
            }
            return new Rendered(result, target.publish());
          }
        }, () -> abandon(open));
      } catch (InterruptedException e) {
        throw e;
      } catch (Throwable e) {
        failGroup(group, "render", e, out);
        return;
      }
      long millis = (System.nanoTime() - start) / 1_000_000;
      StoredOutput stored = rendered.stored();
      OutputVerifier.Verdict verdict = null;
      if (verifyOutputs) {
        try {
          verdict = PerImage.call("verifying " + stored.uri(), limits.timeout(),
              () -> OutputVerifier.verify(stored.uri(), q.format(), pinned, Platform.parse(q.platform()), registries::open,
                  limits.merge()),
              () -> {});
        } catch (InterruptedException e) {
          throw e;
        } catch (Throwable e) {
          failGroup(group, "verify", e, out);
          return;
        }
        PipelineMetrics.outputsVerified.inc();
        if (!verdict.equal()) {
          PipelineMetrics.outputsMismatched.inc();
          failGroup(group, "verify", new IOException("output " + stored.uri() + " does not match " + q.image() + ": "
              + verdict.summary() + "; first differences: " + verdict.firstDifferences()), out);
          return;
        }
      }
      RenderResult result = rendered.result();
      MergeStats stats = result.stats();
      PipelineMetrics.imagesRendered.inc();
      PipelineMetrics.layers.inc(result.image().layers().size());
      PipelineMetrics.bytesFetched.inc(result.bytesRead());
      PipelineMetrics.bytesWritten.inc(stored.size());
      PipelineMetrics.entries.inc(stats.entriesWritten());
      PipelineMetrics.whiteouts.inc(stats.whiteouts());
      PipelineMetrics.renderMillis.update(millis);
      PipelineMetrics.layerCacheHits.inc(result.work().layerCacheHits());
      PipelineMetrics.layerCacheMisses.inc(result.work().layerCacheMisses());
      PipelineMetrics.bytesDecoded.inc(result.work().bytesDecoded());
      PipelineMetrics.bytesReused.inc(result.work().bytesReused());
      PipelineMetrics.bytesCompressed.inc(result.work().bytesCompressed());
      PipelineMetrics.bytesCompressionReused.inc(result.work().bytesCompressionReused());
      Records.RenderFacts facts = new Records.RenderFacts(stats.entriesWritten(), result.image().layers().size(), result.bytesRead(), millis);
      out.get(CatalogPipeline.RESULTS).output(Records.result(Records.RENDERED, first, stored, facts, null, verdict));
      // Duplicates describe the same output but cost nothing themselves.
      duplicates(group, stored, new Records.RenderFacts(facts.entries(), facts.layers(), 0, 0), verdict, out);
    }

    /**
     * Closes what a render that ran out of time holds: its source (blocked reads fail) and its
     * target (the unpublished upload is discarded, so no temporary output stays behind even if the
     * render thread never comes back, say blocked in a kernel call). Runs while the render thread
     * may still be alive: its next read or write then fails, which is the point.
     */
    private static void abandon(Closeable[] open) {
      for (Closeable c : open) {
        if (c != null) {
          try {
            c.close();
          } catch (IOException | RuntimeException e) {
            // unblocking a render that is being abandoned; its timeout is the error reported
          }
        }
      }
    }

    @Teardown
    public void teardown() {
      registries = null; // the worker's context and cache outlive this instance on purpose
      if (router != null) {
        router.close();
      }
    }
  }
}
