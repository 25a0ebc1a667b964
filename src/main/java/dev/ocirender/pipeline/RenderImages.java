package dev.ocirender.pipeline;

import dev.ocirender.image.Platform;
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
import java.io.IOException;
import org.apache.beam.sdk.coders.StringUtf8Coder;
import org.apache.beam.sdk.transforms.DoFn;
import org.apache.beam.sdk.transforms.PTransform;
import org.apache.beam.sdk.transforms.ParDo;
import org.apache.beam.sdk.transforms.Reshuffle;
import org.apache.beam.sdk.values.PCollection;
import org.apache.beam.sdk.values.PCollectionTuple;
import org.apache.beam.sdk.values.TupleTag;
import org.apache.beam.sdk.values.TupleTagList;

/**
 * The heavy step: spreads the renders over workers, then fetches each image's layers, merges them
 * as a stream and publishes the output to its store ({@link StoreRenderTarget}). Emits a result for
 * the rendered line and each of its duplicates, or a dead letter for each of them when the render
 * fails (nothing is published then). Renders one image per element; parallelism comes from the
 * runner's workers and threads, not from inside the DoFn. {@code docker://} layers come through the
 * worker's shared blob cache ({@link WorkerRegistries}), so images that share base layers download
 * them once per worker.
 */
public final class RenderImages extends PTransform<PCollection<ImageGroup>, PCollectionTuple> {


  private final OutputStores stores;
  private final WorkerRegistries.Settings registries;
  private final boolean verifyOutputs;
  private final MergeLimits limits;

  /**
   * @param registries how workers reach registries; one context and blob cache per worker ({@link WorkerRegistries})
   * @param verifyOutputs read each published output back and compare it with the image ({@link OutputVerifier})
   */
  public RenderImages(OutputStores stores, WorkerRegistries.Settings registries, boolean verifyOutputs) {
    this(stores, registries, verifyOutputs, MergeLimits.DEFAULT);
  }

  /** @param limits each image's limits, for its render and its verification */
  public RenderImages(OutputStores stores, WorkerRegistries.Settings registries, boolean verifyOutputs,
      MergeLimits limits) {
    this.stores = stores;
    this.registries = registries;
    this.verifyOutputs = verifyOutputs;
    this.limits = limits;
  }

  @Override
  public PCollectionTuple expand(PCollection<ImageGroup> groups) {
    PCollectionTuple out = groups
        .apply("SpreadRenders", Reshuffle.viaRandomKey())
        .apply("RenderImage", ParDo.of(new RenderImageFn(stores, registries, verifyOutputs, limits))
            .withOutputTags(CatalogPipeline.RESULTS, TupleTagList.of(CatalogPipeline.DEAD_LETTERS)));
    out.get(CatalogPipeline.RESULTS).setCoder(StringUtf8Coder.of());
    out.get(CatalogPipeline.DEAD_LETTERS).setCoder(StringUtf8Coder.of());
    return out;
  }

  /** Dead letters for every line of a group. */
  static void failGroup(ImageGroup group, String stage, Throwable e, DoFn.MultiOutputReceiver out) {
    PipelineMetrics.imagesFailed.inc();
    out.get(CatalogPipeline.DEAD_LETTERS).output(Records.deadLetter(stage, group.canonical().request(), e));
    PipelineMetrics.deadLetters.inc();
    for (ResolvedRequest d : group.duplicates()) {
      out.get(CatalogPipeline.DEAD_LETTERS).output(Records.deadLetter(stage, d.request(), e));
      PipelineMetrics.deadLetters.inc();
    }
  }

  /** Renders one group's image to its canonical output. */
  static final class RenderImageFn extends DoFn<ImageGroup, String> {
    private final OutputStores stores;
    private final WorkerRegistries.Settings settings;
    private final boolean verifyOutputs;
    private final MergeLimits limits;
    private transient OutputStores.Router router;
    private transient WorkerRegistries registries;

    RenderImageFn(OutputStores stores, WorkerRegistries.Settings settings, boolean verifyOutputs) {
      this(stores, settings, verifyOutputs, MergeLimits.DEFAULT);
    }

    RenderImageFn(OutputStores stores, WorkerRegistries.Settings settings, boolean verifyOutputs, MergeLimits limits) {
      this.stores = stores;
      this.settings = settings;
      this.verifyOutputs = verifyOutputs;
      this.limits = limits;
    }

    @Setup
    public void setup() {
      router = stores.open();
      registries = WorkerRegistries.of(settings);
    }

    @ProcessElement
    public void process(@Element ImageGroup group, MultiOutputReceiver out) {
      try {
        render(group, out);
      } finally {
        registries.reportCacheMetrics();
      }
    }

    private void render(ImageGroup group, MultiOutputReceiver out) {
      ResolvedRequest first = group.canonical();
      ImageRequest q = first.request();
      long start = System.nanoTime();
      RenderResult result;
      StoredOutput stored;
      try {
        OutputStore store = router.forUri(q.output());
        OutputMetadata metadata = OutputMetadata.of(q.image(), first.manifestDigest(), q.platform(), q.format());
        try (ImageSource source = registries.open(q.image());
            StoreRenderTarget target = new StoreRenderTarget(store, q.output(), CatalogParser.format(q.format()), metadata, group.replaceVersion())) {
          // One decoding thread: the runner already renders one image per core, so decoding layers
          // ahead would only add the cost of its temporary store.
          result = new Renderer(RenderListener.NONE, limits, 1).render(source, Platform.parse(q.platform()), target);
          String rendered = result.image().manifestDigest().toString();
          if (!rendered.equals(first.manifestDigest())) {
            // The reference moved between resolving and rendering: the output would be labelled wrongly.
            throw new IOException(q.image() + " now resolves to " + rendered + ", not " + first.manifestDigest()
                + " as when the job started; not publishing");
          }
          stored = target.publish();
        }
      } catch (IOException | RuntimeException e) {
        failGroup(group, "render", e, out);
        return;
      }
      long millis = (System.nanoTime() - start) / 1_000_000;
      OutputVerifier.Verdict verdict = null;
      if (verifyOutputs) {
        try {
          verdict = OutputVerifier.verify(stored.uri(), q.format(), q.image(), Platform.parse(q.platform()), registries::open, limits);
        } catch (IOException | RuntimeException e) {
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
      MergeStats stats = result.stats();
      PipelineMetrics.imagesRendered.inc();
      PipelineMetrics.layers.inc(result.image().layers().size());
      PipelineMetrics.bytesFetched.inc(result.bytesRead());
      PipelineMetrics.bytesWritten.inc(stored.size());
      PipelineMetrics.entries.inc(stats.entriesWritten());
      PipelineMetrics.whiteouts.inc(stats.whiteouts());
      PipelineMetrics.renderMillis.update(millis);
      Records.RenderFacts facts = new Records.RenderFacts(stats.entriesWritten(), result.image().layers().size(), result.bytesRead(), millis);
      out.get(CatalogPipeline.RESULTS).output(Records.result(Records.RENDERED, first, stored, facts, null, verdict));
      // Duplicates describe the same output but cost nothing themselves.
      Records.RenderFacts shared = new Records.RenderFacts(facts.entries(), facts.layers(), 0, 0);
      for (ResolvedRequest d : group.duplicates()) {
        out.get(CatalogPipeline.RESULTS).output(Records.result(Records.DUPLICATE, d, stored, shared, q, verdict));
      }
    }

    @Teardown
    public void teardown() throws IOException {
      registries = null; // the worker's context and cache outlive this instance on purpose
      if (router != null) {
        router.close();
      }
    }
  }
}
