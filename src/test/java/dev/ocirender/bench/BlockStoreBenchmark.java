package dev.ocirender.bench;

import static dev.ocirender.testing.LayerBuilder.layer;

import dev.ocirender.image.Descriptor;
import dev.ocirender.image.Digest;
import dev.ocirender.layer.LayerBlob;
import dev.ocirender.merge.MergeListener;
import dev.ocirender.merge.OverlayMerge;
import dev.ocirender.squashfs.writer.BlockStore;
import dev.ocirender.squashfs.writer.SquashfsEntrySink;
import dev.ocirender.squashfs.writer.SquashfsOptions;
import dev.ocirender.testing.LayerBuilder;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;

/**
 * The squashfs block store, in process (BENCHMARKS.md, issue #15): the time to write a JDK-sized
 * image's squashfs with no store, a cold store and a warm one, and an image sharing its base
 * layer written warm from the first image's store.
 *
 * <p>{@code BlockStoreBenchmark WORK ROUNDS JDK_DIR}: the base layer is an uncompressed tar of the
 * real JDK at {@code JDK_DIR} (GNU tar, sorted), so decoding costs nothing and the numbers are the
 * writer's; image A adds a top layer of 8 MB of generated files, image B another one that also
 * replaces a JDK file. Each round, alternating: A without a store, A with a new empty store (cold),
 * A again (warm), B warm from A's store, B without a store. Every output is compared byte for byte
 * with the no-store output of its image (the run fails otherwise). Medians over the rounds after
 * one warm-up round; zstd level 3, 128 KiB blocks, one worker per core.
 */
public final class BlockStoreBenchmark {

  public static void main(String[] args) throws Exception {
    Path work = Path.of(args[0]);
    int rounds = Integer.parseInt(args[1]);
    Path jdk = Path.of(args[2]).toRealPath();
    Files.createDirectories(work);
    Path baseTar = work.resolve("jdk.tar");
    if (!Files.exists(baseTar)) {
      Process p = new ProcessBuilder("tar", "--sort=name", "-C", jdk.getParent().toString(), "-cf", baseTar.toString(),
          jdk.getFileName().toString()).inheritIO().start();
      if (p.waitFor() != 0) {
        throw new IOException("tar of " + jdk + " failed");
      }
    }
    LayerBlob base = fileLayer(0, baseTar);
    String jdkName = jdk.getFileName().toString();
    List<LayerBlob> imageA = List.of(base, memoryLayer(1, top(1, "app-a", null)));
    List<LayerBlob> imageB = List.of(base, memoryLayer(1, top(2, "app-b", jdkName + "/release")));
    System.out.printf(Locale.ROOT, "machine: %d cores, %s %s, %s%n", Runtime.getRuntime().availableProcessors(),
        System.getProperty("java.vm.name"), System.getProperty("java.version"), java.time.LocalDate.now());
    System.out.printf(Locale.ROOT, "base layer %s: %.1f MB (tar of %s); tops 8 MB each%n", baseTar,
        Files.size(baseTar) / 1e6, jdk);

    SquashfsOptions plain = SquashfsOptions.defaults();
    Map<String, List<Double>> times = new LinkedHashMap<>();
    long storeBytes = 0;
    for (int round = 0; round <= rounds; round++) {
      Path root = work.resolve("cache-" + round);
      deleteTree(root);
      Run noneA = run(imageA, work.resolve("none-a.sqfs"), plain, null);
      Run cold = run(imageA, work.resolve("cold-a.sqfs"), plain.withBlockCacheRoot(root), noneA.file);
      Run warm = run(imageA, work.resolve("warm-a.sqfs"), plain.withBlockCacheRoot(root), noneA.file);
      Run noneB = run(imageB, work.resolve("none-b.sqfs"), plain, null);
      Run warmB = run(imageB, work.resolve("warm-b.sqfs"), plain.withBlockCacheRoot(root), noneB.file);
      storeBytes = treeSize(root);
      System.out.printf(Locale.ROOT, "%s A none %s | cold %s | warm %s (compressed %.1f MB, reused %.1f MB)"
              + " | B none %s | B warm from A %s (compressed %.1f MB, reused %.1f MB) | store %.1f MB%n",
          round == 0 ? "warm-up" : "round " + round, show(noneA), show(cold), show(warm), warm.compressed / 1e6,
          warm.reused / 1e6, show(noneB), show(warmB), warmB.compressed / 1e6, warmB.reused / 1e6, storeBytes / 1e6);
      if (round > 0) {
        Run[] runs = {noneA, cold, warm, noneB, warmB};
        String[] names = {"A none", "A cold", "A warm", "B none", "B warm from A"};
        for (int i = 0; i < runs.length; i++) {
          times.computeIfAbsent(names[i] + " wall", k -> new ArrayList<>()).add(runs[i].seconds);
          times.computeIfAbsent(names[i] + " cpu", k -> new ArrayList<>()).add(runs[i].cpuSeconds);
        }
      }
      deleteTree(root);
    }
    for (Map.Entry<String, List<Double>> e : times.entrySet()) {
      double m = median(e.getValue());
      String kind = e.getKey().endsWith("cpu") ? " cpu" : " wall";
      double ref = median(times.get((e.getKey().startsWith("A") ? "A none" : "B none") + kind));
      System.out.printf(Locale.ROOT, "median %-18s %.2fs  (%.2fx the no-store time of its image)%n", e.getKey(), m, m / ref);
    }
    System.out.printf(Locale.ROOT, "output %.1f MB; store after A and B: %.1f MB%n",
        Files.size(work.resolve("none-a.sqfs")) / 1e6, storeBytes / 1e6);
  }

  private record Run(Path file, double seconds, double cpuSeconds, long compressed, long reused) {}

  /** CPU time of this whole process: the compression workers' time included, unlike wall time unaffected by load. */
  private static double processCpuSeconds() {
    return ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean())
        .getProcessCpuTime() / 1e9;
  }

  private static Run run(List<LayerBlob> layers, Path out, SquashfsOptions options, Path mustEqual) throws IOException {
    SquashfsEntrySink[] sink = new SquashfsEntrySink[1];
    long t0 = System.nanoTime();
    double cpu0 = processCpuSeconds();
    OverlayMerge.run(layers, () -> sink[0] = SquashfsEntrySink.create(out, options), MergeListener.NONE);
    double seconds = (System.nanoTime() - t0) / 1e9;
    double cpu = processCpuSeconds() - cpu0;
    if (mustEqual != null && Files.mismatch(out, mustEqual) != -1) {
      throw new AssertionError(out + " differs from " + mustEqual);
    }
    return new Run(out, seconds, cpu, sink[0].bytesCompressed(), sink[0].bytesReused());
  }

  /** 8 MB of files: half text-like (compressible), half of a few sizes around the block size. */
  private static LayerBuilder top(long seed, String dir, String replaces) {
    LayerBuilder l = layer();
    SplittableRandom r = new SplittableRandom(seed);
    String[] words = {"class ", "import ", "static ", "return ", "void ", "\n", "public ", "final "};
    int total = 0;
    for (int i = 0; total < 8_000_000; i++) {
      int size = 1000 + r.nextInt(300_000);
      byte[] b = new byte[size];
      int at = 0;
      while (at < size) {
        byte[] w = words[r.nextInt(words.length)].getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        int n = Math.min(w.length, size - at);
        System.arraycopy(w, 0, b, at, n);
        at += n;
      }
      l.file(dir + "/f" + i, b, 0644);
      total += size;
    }
    if (replaces != null) {
      l.file(replaces, "replaced\n", 0644);
    }
    return l;
  }

  private static LayerBlob memoryLayer(int index, LayerBuilder builder) {
    byte[] tar = builder.tar();
    Descriptor d = new Descriptor("application/vnd.oci.image.layer.v1.tar", Digest.sha256Of(tar), tar.length);
    return new LayerBlob(index, d, null, () -> new ByteArrayInputStream(tar));
  }

  private static LayerBlob fileLayer(int index, Path tar) throws Exception {
    MessageDigest sha = MessageDigest.getInstance("SHA-256");
    try (InputStream in = new DigestInputStream(Files.newInputStream(tar), sha)) {
      in.transferTo(java.io.OutputStream.nullOutputStream());
    }
    Descriptor d = new Descriptor("application/vnd.oci.image.layer.v1.tar", Digest.sha256(sha.digest()), Files.size(tar));
    return new LayerBlob(index, d, null, () -> Files.newInputStream(tar));
  }

  private static String show(Run r) {
    return String.format(Locale.ROOT, "%.2fs (cpu %.2fs)", r.seconds, r.cpuSeconds);
  }

  private static double median(List<Double> xs) {
    double[] a = xs.stream().mapToDouble(Double::doubleValue).toArray();
    Arrays.sort(a);
    return a.length % 2 == 1 ? a[a.length / 2] : (a[a.length / 2 - 1] + a[a.length / 2]) / 2;
  }

  private static long treeSize(Path root) throws IOException {
    Path dir = root.resolve(BlockStore.DIRECTORY);
    if (!Files.exists(dir)) {
      return 0;
    }
    try (Stream<Path> s = Files.list(dir)) {
      return s.mapToLong(p -> p.toFile().length()).sum();
    }
  }

  private static void deleteTree(Path root) throws IOException {
    if (!Files.exists(root)) {
      return;
    }
    try (Stream<Path> s = Files.walk(root)) {
      for (Path p : s.sorted((x, y) -> y.getNameCount() - x.getNameCount()).toList()) {
        Files.delete(p);
      }
    }
  }
}
