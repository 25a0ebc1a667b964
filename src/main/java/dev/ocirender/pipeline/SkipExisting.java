package dev.ocirender.pipeline;

import dev.ocirender.store.OutputStores;
import dev.ocirender.store.StoredOutput;
import java.io.IOException;
import java.util.Optional;
import org.apache.beam.sdk.coders.StringUtf8Coder;
import org.apache.beam.sdk.transforms.DoFn;
import org.apache.beam.sdk.transforms.PTransform;
import org.apache.beam.sdk.transforms.ParDo;
import org.apache.beam.sdk.values.PCollection;
import org.apache.beam.sdk.values.PCollectionTuple;
import org.apache.beam.sdk.values.TupleTag;
import org.apache.beam.sdk.values.TupleTagList;

/**
 * Makes re-runs idempotent: a group whose output already exists, complete, for the same manifest
 * digest, platform and format is not rendered again; its lines get "skipped" (and "duplicate")
 * results from the stored metadata. Everything else goes on to {@link #TO_RENDER}, remembering the
 * version of whatever it will replace (an output of another digest, an incomplete one, or any with
 * {@code --overwrite}). Only metadata is read, never an output's content.
 */
public final class SkipExisting extends PTransform<PCollection<ImageGroup>, PCollectionTuple> {

  public static final TupleTag<ImageGroup> TO_RENDER = new TupleTag<>() {};

  private final OutputStores stores;
  private final boolean overwrite;

  public SkipExisting(OutputStores stores, boolean overwrite) {
    this.stores = stores;
    this.overwrite = overwrite;
  }

  @Override
  public PCollectionTuple expand(PCollection<ImageGroup> groups) {
    PCollectionTuple out = groups.apply("CheckExistingOutputs", ParDo.of(new SkipExistingFn(stores, overwrite))
        .withOutputTags(TO_RENDER, TupleTagList.of(CatalogPipeline.RESULTS).and(CatalogPipeline.DEAD_LETTERS)));
    out.get(TO_RENDER).setCoder(ElementCoders.ImageGroupCoder.of());
    out.get(CatalogPipeline.RESULTS).setCoder(StringUtf8Coder.of());
    out.get(CatalogPipeline.DEAD_LETTERS).setCoder(StringUtf8Coder.of());
    return out;
  }

  /** Looks up the canonical output's metadata in its store. */
  static final class SkipExistingFn extends DoFn<ImageGroup, ImageGroup> {
    private final OutputStores stores;
    private final boolean overwrite;
    private transient OutputStores.Router router;

    SkipExistingFn(OutputStores stores, boolean overwrite) {
      this.stores = stores;
      this.overwrite = overwrite;
    }

    @Setup
    public void setup() {
      router = stores.open();
    }

    @ProcessElement
    public void process(@Element ImageGroup group, MultiOutputReceiver out) {
      ResolvedRequest first = group.canonical();
      String uri = first.request().output();
      Optional<StoredOutput> existing;
      try {
        existing = router.forUri(uri).stat(uri);
      } catch (Exception | Error e) { // one image's trouble stays its own (fatal JVM errors are rethrown)
        RenderImages.failGroup(group, "check-existing", e, out);
        return;
      }
      if (existing.isPresent() && !overwrite && existing.get().metadata() != null
          && existing.get().metadata().isCompleteRenderOf(first.manifestDigest(), first.request().platform(), first.request().format())) {
        PipelineMetrics.imagesSkipped.inc();
        out.get(CatalogPipeline.RESULTS).output(Records.result(Records.SKIPPED, first, existing.get(), Records.RenderFacts.NONE, null));
        RenderImages.duplicates(group, existing.get(), Records.RenderFacts.NONE, null, out);
        return;
      }
      out.get(TO_RENDER).output(group.replacing(existing.map(StoredOutput::version).orElse(null)));
    }

    @Teardown
    public void teardown() throws IOException {
      if (router != null) {
        router.close();
      }
    }
  }
}
