package dev.ocirender.pipeline;

import dev.ocirender.image.Descriptor;
import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import org.apache.beam.sdk.coders.KvCoder;
import org.apache.beam.sdk.coders.StringUtf8Coder;
import org.apache.beam.sdk.transforms.DoFn;
import org.apache.beam.sdk.transforms.GroupByKey;
import org.apache.beam.sdk.transforms.PTransform;
import org.apache.beam.sdk.transforms.ParDo;
import org.apache.beam.sdk.transforms.Reshuffle;
import org.apache.beam.sdk.transforms.WithKeys;
import org.apache.beam.sdk.values.KV;
import org.apache.beam.sdk.values.PCollection;
import org.apache.beam.sdk.values.TypeDescriptors;

/**
 * Spreads renders over workers so that images sharing a base land on the same worker, where the
 * worker's caches (blobs, decoded layers) pay for the base once: in place of a random
 * {@link Reshuffle}, images are keyed by their base, a hot base is split over several keys, and each
 * key's images are rendered one after the other by the worker that gets the key.
 *
 * <p>The base of an image ({@link #baseKey}) is the shortest run of its bottom layers that holds at
 * least half of its compressed bytes, never its top layer unless it has only one: the part that
 * images built on the same distribution or runtime share and that is worth decoding once. It is
 * named by a chain digest of those layers' blob digests, computed like an OCI chain ID (but over
 * blob digests, which is what the caches are keyed by): images with the same base layers in the
 * same order get the same key.
 *
 * <p>Balance ({@link #split}): a base with more than {@code groupSize} images is split into
 * {@code ceil(n / groupSize)} keys of near-equal size, so a catalog of one popular base still keeps
 * every worker busy, at the cost of decoding that base once per key. The order inside a base (by
 * manifest digest) makes the split the same on every run and runner.
 *
 * <p>What it does not change: which images are rendered and how (each {@link ImageGroup} is rendered
 * exactly as before, with its duplicates), so records and outputs are the same with it on or off.
 */
public final class Affinity extends PTransform<PCollection<ImageGroup>, PCollection<ImageGroup>> {

  /**
   * Whether to group by base, and how many images of one base a key holds at most.
   *
   * @param enabled false: a random {@link Reshuffle}, as before affinity
   */
  public record Settings(boolean enabled, int groupSize) implements Serializable {
    private static final long serialVersionUID = 1L;

    /**
     * Runs of 4: small enough that a modest catalog still makes several runs per worker thread (24
     * images over 3 bases on 2 threads: 6 runs, 3 each; runs of 8 would leave one thread idle for a
     * third of the job), large enough that a worker decodes a base once for several images.
     */
    public static final Settings DEFAULT = new Settings(true, 4);

    public Settings {
      if (groupSize < 1) {
        throw new IllegalArgumentException("affinityGroupSize must be at least 1, got " + groupSize);
      }
    }

    public static Settings from(CatalogPipelineOptions o) {
      return new Settings(o.getAffinity(), o.getAffinityGroupSize());
    }
  }

  private final Settings settings;

  public Affinity(Settings settings) {
    this.settings = settings;
  }

  @Override
  public PCollection<ImageGroup> expand(PCollection<ImageGroup> groups) {
    if (!settings.enabled()) {
      return groups.apply("SpreadRenders", Reshuffle.viaRandomKey());
    }
    int groupSize = settings.groupSize();
    KvCoder<String, ImageGroup> keyed = KvCoder.of(StringUtf8Coder.of(), ElementCoders.ImageGroupCoder.of());
    return groups
        .apply("KeyByBase", WithKeys.of((ImageGroup g) -> g.canonical().baseKey()).withKeyType(TypeDescriptors.strings()))
        .setCoder(keyed)
        .apply("GroupByBase", GroupByKey.create())
        .apply("SplitHotBases", ParDo.of(new SplitFn(groupSize)))
        .setCoder(keyed)
        .apply("GroupBySplit", GroupByKey.create())
        .apply("EachInTurn", ParDo.of(new UngroupFn()))
        .setCoder(ElementCoders.ImageGroupCoder.of());
  }

  /**
   * The base key of an image with these layers (base first): the chain digest of its bottom layers
   * that hold at least half of its bytes, the top layer left out when there are several. Empty for
   * an image without layers.
   */
  public static String baseKey(List<Descriptor> layers) {
    int n = layers.size();
    if (n == 0) {
      return "";
    }
    long total = 0;
    for (Descriptor d : layers) {
      total += Math.max(0, d.size());
    }
    int k = 0;
    long covered = 0;
    while (k < n && (k == 0 || 2 * covered < total)) {
      covered += Math.max(0, layers.get(k).size());
      k++;
    }
    k = Math.max(1, Math.min(k, n - 1));
    String chain = layers.get(0).digest().toString();
    for (int i = 1; i < k; i++) {
      chain = "sha256:" + sha256(chain + " " + layers.get(i).digest());
    }
    return chain;
  }

  /**
   * The keys of one base's images: {@code baseKey/i} for {@code i} below {@code ceil(n / groupSize)},
   * each holding a contiguous run of the images in manifest digest order, runs differing in size by
   * one at most. The key of each image, in the order given.
   */
  static List<KV<String, ImageGroup>> split(String baseKey, List<ImageGroup> images, int groupSize) {
    List<ImageGroup> sorted = new ArrayList<>(images);
    sorted.sort(Comparator.comparing((ImageGroup g) -> g.canonical().manifestDigest())
        .thenComparing(g -> g.canonical().dedupKey())
        .thenComparing(g -> g.canonical().request(), ImageRequest.CATALOG_ORDER));
    int n = sorted.size();
    int keys = (n + groupSize - 1) / groupSize;
    List<KV<String, ImageGroup>> out = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      // Image i goes to run floor(i * keys / n): runs of floor or ceil(n / keys) images.
      int run = (int) ((long) i * keys / n);
      out.add(KV.of(baseKey + "/" + run, sorted.get(i)));
    }
    return out;
  }

  private static String sha256(String s) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JVM has SHA-256", e);
    }
  }

  /** All images of one base in, each with the key of its run out. */
  static final class SplitFn extends DoFn<KV<String, Iterable<ImageGroup>>, KV<String, ImageGroup>> {
    private final int groupSize;

    SplitFn(int groupSize) {
      this.groupSize = groupSize;
    }

    @ProcessElement
    public void process(@Element KV<String, Iterable<ImageGroup>> base, OutputReceiver<KV<String, ImageGroup>> out) {
      List<ImageGroup> images = new ArrayList<>();
      base.getValue().forEach(images::add);
      split(base.getKey(), images, groupSize).forEach(out::output);
    }
  }

  /**
   * One run's images, one after the other: fused with the render, so they are rendered by the worker
   * (and thread) that got the run.
   */
  static final class UngroupFn extends DoFn<KV<String, Iterable<ImageGroup>>, ImageGroup> {
    @ProcessElement
    public void process(@Element KV<String, Iterable<ImageGroup>> run, OutputReceiver<ImageGroup> out) {
      run.getValue().forEach(out::output);
    }
  }
}
