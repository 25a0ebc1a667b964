package dev.ocirender.bench;

import dev.ocirender.bench.SyntheticImage.LayerPlan;
import dev.ocirender.image.Platform;
import dev.ocirender.layer.LayerBlob;
import dev.ocirender.merge.MergeListener;
import dev.ocirender.merge.MergeStats;
import dev.ocirender.merge.OverlayMerge;
import dev.ocirender.output.dir.DirStats;
import dev.ocirender.output.tar.TarEntrySink;
import dev.ocirender.render.DirectoryRenderTarget;
import dev.ocirender.render.Renderer;
import dev.ocirender.source.ImageSource;
import dev.ocirender.source.ImageSources;
import dev.ocirender.source.ResolvedImage;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.zip.GZIPInputStream;

/**
 * Benchmarks of the core engine, run by {@code scripts/bench.sh} (not by the test suite: timing
 * belongs in BENCHMARKS.md, not in assertions).
 *
 * <ul>
 *   <li>{@code speed DIR}: render a multi-layer gzip image (over 500 MB uncompressed) to tar,
 *       against the reference of decoding the same layer blobs with {@link GZIPInputStream} to
 *       nowhere, alternating the two in one run and reporting medians and their ratio.</li>
 *   <li>{@code dir DIR}: render the same image to a directory ({@code --format dir}: merge,
 *       {@code DirectoryEntrySink}, staging and rename) against {@code umoci raw unpack} of it,
 *       alternating the two in one run (outputs deleted between rounds, untimed), medians and
 *       their ratio. Run as root so that both do the privileged unpack.</li>
 *   <li>{@code heap DIR}: render an image whose top layer whites out a 300 MB directory of the
 *       base layer, in whatever heap the JVM was given ({@code -Xmx256m} in the script), and
 *       report the peak heap use.</li>
 *   <li>{@code RegistryBenchmark}: the speed image pulled from a loopback registry and rendered,
 *       against rendering its {@code oci:} layout.</li>
 * </ul>
 */
public final class RenderBenchmark {

  private RenderBenchmark() {}

  public static void main(String[] args) throws Exception {
    if (args.length != 2) {
      System.err.println("usage: RenderBenchmark speed|dir|heap WORKDIR");
      System.exit(2);
    }
    Path work = Path.of(args[1]);
    switch (args[0]) {
      case "speed" -> speed(work.resolve("speed-image"));
      case "dir" -> dir(work.resolve("speed-image"), work);
      case "heap" -> heap(work.resolve("heap-image"));
      default -> throw new IllegalArgumentException(args[0]);
    }
  }

  private static void speed(Path image) throws Exception {
    ensureSpeedImage(image);
    List<Double> reference = new ArrayList<>();
    List<Double> render = new ArrayList<>();
    long uncompressed = 0;
    MergeStats stats = null;
    for (int round = 0; round < 6; round++) {
      long t0 = System.nanoTime();
      uncompressed = decodeAllWithGzip(image);
      long t1 = System.nanoTime();
      stats = renderToNowhere(image);
      long t2 = System.nanoTime();
      if (round > 0) { // round 0 warms up the JIT and the page cache
        reference.add((t1 - t0) / 1e9);
        render.add((t2 - t1) / 1e9);
      }
    }
    double ref = median(reference);
    double ren = median(render);
    System.out.printf(Locale.ROOT, "image: %d layers, %.1f MB uncompressed, %d entries read, %d written%n",
        stats == null ? 0 : layersOf(image).size(), uncompressed / 1e6, stats.entriesRead(), stats.entriesWritten());
    System.out.printf(Locale.ROOT, "reference (GZIPInputStream to nowhere): median %.3f s  %s%n", ref, reference);
    System.out.printf(Locale.ROOT, "render to tar (to nowhere):             median %.3f s  %s%n", ren, render);
    System.out.printf(Locale.ROOT, "ratio render/reference: %.3f (%.0f MB/s uncompressed)%n", ren / ref, uncompressed / 1e6 / ren);
  }

  private static void dir(Path image, Path work) throws Exception {
    ensureSpeedImage(image);
    Path umociOut = work.resolve("dir-umoci");
    Path ourOut = work.resolve("dir-ocirender");
    List<Double> umoci = new ArrayList<>();
    List<Double> ours = new ArrayList<>();
    DirStats stats = null;
    for (int round = 0; round < 6; round++) {
      DirectoryRenderTarget.deleteTree(umociOut);
      DirectoryRenderTarget.deleteTree(ourOut);
      sync(); // each contestant starts with no dirty pages of the other's writes pending
      long t0 = System.nanoTime();
      Process p = new ProcessBuilder("umoci", "raw", "unpack", "--image", image + ":latest", umociOut.toString())
          .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
      if (p.waitFor() != 0) {
        throw new IOException("umoci raw unpack failed");
      }
      long t1 = System.nanoTime();
      sync();
      long t1s = System.nanoTime();
      try (ImageSource source = ImageSources.open("oci:" + image + ":latest");
          DirectoryRenderTarget target = new DirectoryRenderTarget(ourOut, false)) {
        new Renderer().renderTo(source, Platform.LINUX_AMD64, target);
        stats = target.stats();
      }
      long t2 = System.nanoTime();
      if (round > 0) { // round 0 warms up the JIT and the page cache
        umoci.add((t1 - t0) / 1e9);
        ours.add((t2 - t1s) / 1e9);
      }
    }
    DirectoryRenderTarget.deleteTree(umociOut);
    DirectoryRenderTarget.deleteTree(ourOut);
    double ref = median(umoci);
    double ren = median(ours);
    System.out.printf(Locale.ROOT, "output: %s%n", stats.summary());
    System.out.printf(Locale.ROOT, "umoci raw unpack:      median %.3f s  %s%n", ref, umoci);
    System.out.printf(Locale.ROOT, "ocirender --format dir: median %.3f s  %s%n", ren, ours);
    System.out.printf(Locale.ROOT, "ratio ocirender/umoci: %.3f (%.0f MB/s of content)%n", ren / ref, stats.contentBytes() / 1e6 / ren);
  }

  private static void sync() throws IOException, InterruptedException {
    new ProcessBuilder("sync").start().waitFor();
  }

  static void ensureSpeedImage(Path image) throws IOException {
    if (!Files.exists(image.resolve("index.json"))) {
      long bytes = SyntheticImage.write(image, List.of(
          new LayerPlan("usr/lib/base", 12000, 32_000, List.of(), List.of()),
          new LayerPlan("opt/app", 8000, 24_000, List.of(), List.of("usr/lib/base/d1/file-150.txt")),
          new LayerPlan("srv/data", 4000, 40_000, List.of("usr/lib/base/d2", "opt/app/d7/file-701.txt"), List.of()),
          new LayerPlan("home/user", 3000, 24_000, List.of("srv/data/d3"), List.of("opt/app/d0/file-1.txt"))), 42);
      System.out.printf(Locale.ROOT, "generated %s: %.1f MB uncompressed%n", image, bytes / 1e6);
    }
  }

  private static void heap(Path image) throws Exception {
    if (!Files.exists(image.resolve("index.json"))) {
      long bytes = SyntheticImage.write(image, List.of(
          new LayerPlan("big", 4200, 100_000, List.of(), List.of()),
          new LayerPlan("app", 200, 10_000, List.of("big"), List.of())), 7);
      System.out.printf(Locale.ROOT, "generated %s: %.1f MB uncompressed%n", image, bytes / 1e6);
    }
    long t0 = System.nanoTime();
    MergeStats stats = renderToNowhere(image);
    long t1 = System.nanoTime();
    long peak = 0;
    for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
      if (pool.getType() == MemoryType.HEAP) {
        peak += pool.getPeakUsage().getUsed();
      }
    }
    System.out.printf(Locale.ROOT, "max heap %.0f MB; peak heap used (sum of pool peaks) %.1f MB; %d entries read, %d hidden, %d written; %.2f s%n",
        Runtime.getRuntime().maxMemory() / 1e6 / 1.048576, peak / 1048576.0, stats.entriesRead(), stats.hiddenEntries(),
        stats.entriesWritten(), (t1 - t0) / 1e9);
  }

  static MergeStats renderToNowhere(Path image) throws IOException {
    try (ImageSource source = ImageSources.open("oci:" + image + ":latest")) {
      ResolvedImage resolved = source.resolve(Platform.LINUX_AMD64);
      return OverlayMerge.run(resolved.layers(), () -> new TarEntrySink(OutputStream.nullOutputStream()), MergeListener.NONE);
    }
  }

  private static List<LayerBlob> layersOf(Path image) throws IOException {
    try (ImageSource source = ImageSources.open("oci:" + image + ":latest")) {
      return source.resolve(Platform.LINUX_AMD64).layers();
    }
  }

  /** The reference: only gzip decoding of each layer blob, as fast as the JDK does it. */
  private static long decodeAllWithGzip(Path image) throws IOException {
    long total = 0;
    byte[] buffer = new byte[1 << 16];
    for (LayerBlob layer : layersOf(image)) {
      Path blob = image.resolve("blobs/sha256/" + layer.descriptor().digest().hex());
      try (InputStream in = new GZIPInputStream(Files.newInputStream(blob), 1 << 16)) {
        int n;
        while ((n = in.read(buffer)) > 0) {
          total += n;
        }
      }
    }
    return total;
  }

  static double median(List<Double> values) {
    double[] v = values.stream().mapToDouble(Double::doubleValue).toArray();
    Arrays.sort(v);
    return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
  }
}
