package dev.ocirender.bench;

import dev.ocirender.image.Platform;
import dev.ocirender.merge.MergeListener;
import dev.ocirender.merge.MergeStats;
import dev.ocirender.merge.OverlayMerge;
import dev.ocirender.output.tar.TarEntrySink;
import dev.ocirender.source.ImageSource;
import dev.ocirender.source.ImageSources;
import dev.ocirender.source.registry.CredentialStore;
import dev.ocirender.source.registry.RegistryContext;
import dev.ocirender.source.registry.RegistryOptions;
import java.io.IOException;
import java.io.OutputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Pull-and-render from a registry on the loopback interface against rendering the same image from
 * its local {@code oci:} layout, in one run, alternating, medians of 5 rounds after a warm-up. Each
 * registry round starts with an empty blob cache, so every layer crosses the network; both write
 * the tar to nowhere. Run by {@code scripts/bench.sh registry} (needs docker-registry and skopeo).
 */
public final class RegistryBenchmark {

  private RegistryBenchmark() {}

  public static void main(String[] args) throws Exception {
    Path work = Path.of(args[0]).toAbsolutePath();
    Path image = work.resolve("speed-image");
    RenderBenchmark.ensureSpeedImage(image);
    Path registryDir = work.resolve("registry");
    deleteTree(registryDir);
    Files.createDirectories(registryDir);
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    Path config = registryDir.resolve("config.yml");
    Files.writeString(config, "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n"
        + "    rootdirectory: " + registryDir.resolve("storage") + "\nhttp:\n  addr: 127.0.0.1:" + port + "\n");
    Process registry = new ProcessBuilder("docker-registry", "serve", config.toString())
        .redirectErrorStream(true).redirectOutput(registryDir.resolve("log").toFile()).start();
    try {
      awaitPort(port);
      Process push = new ProcessBuilder("skopeo", "--insecure-policy", "copy", "--dest-tls-verify=false",
          "oci:" + image + ":latest", "docker://127.0.0.1:" + port + "/bench/speed:latest").inheritIO().start();
      if (push.waitFor() != 0) {
        throw new IllegalStateException("skopeo copy failed");
      }
      String spec = "docker://127.0.0.1:" + port + "/bench/speed:latest";
      List<Double> local = new ArrayList<>();
      List<Double> pulled = new ArrayList<>();
      MergeStats stats = null;
      for (int round = 0; round < 6; round++) {
        long t0 = System.nanoTime();
        stats = render("oci:" + image + ":latest", null);
        long t1 = System.nanoTime();
        Path cache = work.resolve("cache-" + round);
        deleteTree(cache);
        RegistryContext context = new RegistryContext(RegistryOptions.builder().cacheDir(cache)
            .credentials(CredentialStore.none()).build());
        long t2 = System.nanoTime();
        MergeStats fromRegistry = render(spec, context);
        long t3 = System.nanoTime();
        if (fromRegistry.entriesWritten() != stats.entriesWritten()) {
          throw new IllegalStateException("different renders: " + fromRegistry + " vs " + stats);
        }
        deleteTree(cache);
        if (round > 0) {
          local.add((t1 - t0) / 1e9);
          pulled.add((t3 - t2) / 1e9);
        }
      }
      double l = RenderBenchmark.median(local);
      double p = RenderBenchmark.median(pulled);
      System.out.printf(Locale.ROOT, "image: %d entries written%n", stats.entriesWritten());
      System.out.printf(Locale.ROOT, "render from oci: layout:                     median %.3f s  %s%n", l, local);
      System.out.printf(Locale.ROOT, "pull from loopback registry + render (cold): median %.3f s  %s%n", p, pulled);
      System.out.printf(Locale.ROOT, "ratio registry/layout: %.3f%n", p / l);
    } finally {
      registry.destroy();
      registry.waitFor(10, TimeUnit.SECONDS);
    }
  }

  private static MergeStats render(String spec, RegistryContext context) throws IOException {
    try (ImageSource source = ImageSources.open(spec, context)) {
      return OverlayMerge.run(source.resolve(Platform.LINUX_AMD64).layers(),
          () -> new TarEntrySink(OutputStream.nullOutputStream()), MergeListener.NONE);
    }
  }

  private static void awaitPort(int port) throws Exception {
    for (int i = 0; i < 400; i++) {
      try (Socket s = new Socket("127.0.0.1", port)) {
        return;
      } catch (IOException e) {
        Thread.sleep(50);
      }
    }
    throw new IllegalStateException("registry did not start");
  }

  private static void deleteTree(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> paths = Files.walk(dir)) {
      for (Path p : (Iterable<Path>) paths.sorted(Comparator.reverseOrder())::iterator) {
        Files.delete(p);
      }
    }
  }
}
