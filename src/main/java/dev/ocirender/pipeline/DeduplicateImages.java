package dev.ocirender.pipeline;

import java.util.ArrayList;
import java.util.List;
import org.apache.beam.sdk.transforms.DoFn;
import org.apache.beam.sdk.transforms.GroupByKey;
import org.apache.beam.sdk.transforms.PTransform;
import org.apache.beam.sdk.transforms.ParDo;
import org.apache.beam.sdk.values.KV;
import org.apache.beam.sdk.values.PCollection;

/**
 * Groups requests that ask for the same render (manifest digest, platform, format) so each is
 * rendered once. The first line in catalog order is the one rendered, whichever runner and
 * bundling, so re-runs and different runners pick the same output.
 */
public final class DeduplicateImages extends PTransform<PCollection<KV<String, ResolvedRequest>>, PCollection<ImageGroup>> {

  @Override
  public PCollection<ImageGroup> expand(PCollection<KV<String, ResolvedRequest>> resolved) {
    return resolved
        .apply("GroupSameRenders", GroupByKey.create())
        .apply("PickFirstInCatalog", ParDo.of(new PickCanonicalFn()))
        .setCoder(ElementCoders.ImageGroupCoder.of());
  }

  /**
   * Sorts a group by catalog order; the first is rendered, the rest are duplicates. They are counted
   * as {@code images_duplicate} only when their result is written: if the render fails they become
   * dead letters instead.
   */
  static final class PickCanonicalFn extends DoFn<KV<String, Iterable<ResolvedRequest>>, ImageGroup> {
    @ProcessElement
    public void process(@Element KV<String, Iterable<ResolvedRequest>> group, OutputReceiver<ImageGroup> out) {
      List<ResolvedRequest> all = new ArrayList<>();
      group.getValue().forEach(all::add);
      all.sort((a, b) -> ImageRequest.CATALOG_ORDER.compare(a.request(), b.request()));
      out.output(new ImageGroup(all.get(0), all.subList(1, all.size()), null));
    }
  }
}
