package dev.ocirender.pipeline;

import dev.ocirender.image.Descriptor;
import dev.ocirender.image.Platform;
import dev.ocirender.layer.LayerBlob;
import dev.ocirender.source.ImageSource;
import dev.ocirender.source.ResolvedImage;
import java.util.List;
import org.apache.beam.sdk.coders.KvCoder;
import org.apache.beam.sdk.coders.StringUtf8Coder;
import org.apache.beam.sdk.transforms.DoFn;
import org.apache.beam.sdk.transforms.PTransform;
import org.apache.beam.sdk.transforms.ParDo;
import org.apache.beam.sdk.transforms.Reshuffle;
import org.apache.beam.sdk.values.KV;
import org.apache.beam.sdk.values.PCollection;
import org.apache.beam.sdk.values.PCollectionTuple;
import org.apache.beam.sdk.values.TupleTag;
import org.apache.beam.sdk.values.TupleTagList;

/**
 * Resolves each request's reference to its manifest digest for its platform: the light step (a
 * manifest read, no layers), spread over workers first because one catalog file arrives as one
 * bundle. Output: requests keyed by {@link ResolvedRequest#dedupKey()}; failures (no such image,
 * no manifest for the platform, unreachable registry) as dead letters. Goes through
 * {@link dev.ocirender.source.ImageSources#open} only, so every transport that it knows works
 * here; {@code docker://} images use the worker's shared {@link WorkerRegistries}.
 */
public final class ResolveImages extends PTransform<PCollection<ImageRequest>, PCollectionTuple> {

  public static final TupleTag<KV<String, ResolvedRequest>> RESOLVED = new TupleTag<>() {};

  private final WorkerRegistries.Settings registries;

  /** @param registries how workers reach registries; one context per worker ({@link WorkerRegistries}) */
  public ResolveImages(WorkerRegistries.Settings registries) {
    this.registries = registries;
  }

  @Override
  public PCollectionTuple expand(PCollection<ImageRequest> requests) {
    PCollectionTuple out = requests
        .apply("SpreadRequests", Reshuffle.viaRandomKey())
        .apply("ResolveManifests", ParDo.of(new ResolveManifestFn(registries))
            .withOutputTags(RESOLVED, TupleTagList.of(CatalogPipeline.DEAD_LETTERS)));
    out.get(RESOLVED).setCoder(KvCoder.of(StringUtf8Coder.of(), ElementCoders.ResolvedRequestCoder.of()));
    out.get(CatalogPipeline.DEAD_LETTERS).setCoder(StringUtf8Coder.of());
    return out;
  }

  /** Opens the source and reads the manifest for the request's platform. */
  static final class ResolveManifestFn extends DoFn<ImageRequest, KV<String, ResolvedRequest>> {
    private final WorkerRegistries.Settings settings;
    private transient WorkerRegistries registries;

    ResolveManifestFn(WorkerRegistries.Settings settings) {
      this.settings = settings;
    }

    @Setup
    public void setup() {
      registries = WorkerRegistries.of(settings);
    }

    @ProcessElement
    public void process(@Element ImageRequest request, MultiOutputReceiver out) {
      try {
        resolve(request, out);
      } finally {
        registries.reportCacheMetrics(); // the config blob comes through the cache
      }
    }

    private void resolve(ImageRequest request, MultiOutputReceiver out) {
      long start = System.nanoTime();
      try (ImageSource source = registries.open(request.image())) {
        ResolvedImage image = source.resolve(Platform.parse(request.platform()));
        List<Descriptor> layers = image.layers().stream().map(LayerBlob::descriptor).toList();
        ResolvedRequest resolved = new ResolvedRequest(request, image.manifestDigest().toString(),
            (System.nanoTime() - start) / 1_000_000, Affinity.baseKey(layers),
            layers.stream().map(d -> d.digest().toString()).toList());
        PipelineMetrics.imagesResolved.inc();
        out.get(RESOLVED).output(KV.of(resolved.dedupKey(), resolved));
      } catch (Exception | Error e) {
        PerImage.rethrowIfFatal(e); // an OutOfMemoryError must fail the worker, not one image
        PipelineMetrics.imagesFailed.inc();
        PipelineMetrics.deadLetters.inc();
        out.get(CatalogPipeline.DEAD_LETTERS).output(Records.deadLetter("resolve", request, e));
      }
    }

    @Teardown
    public void teardown() {
      registries = null; // the worker's context outlives this instance on purpose
    }
  }
}
