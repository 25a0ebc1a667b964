package dev.ocirender.bench;

import dev.ocirender.bench.SyntheticImage.LayerPlan;
import dev.ocirender.image.Platform;
import dev.ocirender.layer.EntryHeader;
import dev.ocirender.layer.EntryType;
import dev.ocirender.layer.LayerTarReader;
import dev.ocirender.merge.MergeListener;
import dev.ocirender.merge.OverlayMerge;
import dev.ocirender.squashfs.writer.SquashfsEntrySink;
import dev.ocirender.squashfs.writer.SquashfsOptions;
import dev.ocirender.output.tar.TarEntrySink;
import dev.ocirender.source.ImageSource;
import dev.ocirender.source.ImageSources;
import java.io.FileInputStream;
import java.io.BufferedOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * The squashfs writer benchmark (see BENCHMARKS.md and scripts/bench-squashfs.sh).
 * {@code prepare WORK}: a synthetic image of over 1 GB and its merged tar, {@code WORK/merged.tar}.
 * {@code write TAR OUT [REPEAT]}: our writer fed the merged tar's entries (read back with
 * {@link LayerTarReader}, as the merge would hand them over), timed, with peak heap; REPEAT times
 * in one JVM.
 */
public final class SquashfsBenchmark {

  public static void main(String[] args) throws Exception {
    switch (args[0]) {
      case "prepare" -> prepare(Path.of(args[1]));
      case "write" -> {
        // REPEAT > 1 writes again in the same JVM: the later runs show the writer with its code
        // compiled, as a pipeline worker runs it from the second image on.
        int repeat = args.length > 3 ? Integer.parseInt(args[3]) : 1;
        for (int i = 0; i < repeat; i++) {
          write(Path.of(args[1]), Path.of(args[2]));
        }
      }
      default -> throw new IllegalArgumentException("usage: prepare WORK | write TAR OUT [REPEAT]");
    }
  }

  private static void prepare(Path work) throws Exception {
    Path image = work.resolve("image");
    Path tar = work.resolve("merged.tar");
    if (Files.exists(tar)) {
      return;
    }
    long bytes = SyntheticImage.write(image, List.of(
        new LayerPlan("usr/lib/base", 20000, 32_000, List.of(), List.of()),
        new LayerPlan("opt/app", 12000, 24_000, List.of(), List.of("usr/lib/base/d1/file-150.txt")),
        new LayerPlan("srv/data", 8000, 40_000, List.of("usr/lib/base/d2", "opt/app/d7/file-701.txt"), List.of()),
        new LayerPlan("home/user", 6000, 24_000, List.of("srv/data/d3"), List.of("opt/app/d0/file-1.txt"))), 42);
    System.out.printf(Locale.ROOT, "generated %s: %.1f MB uncompressed%n", image, bytes / 1e6);
    try (ImageSource source = ImageSources.open("oci:" + image + ":latest");
        OutputStream out = new BufferedOutputStream(Files.newOutputStream(tar), 1 << 16)) {
      OverlayMerge.run(source.resolve(Platform.LINUX_AMD64).layers(), () -> new TarEntrySink(out), MergeListener.NONE);
    }
    System.out.printf(Locale.ROOT, "merged tar %s: %.1f MB%n", tar, Files.size(tar) / 1e6);
  }

  private static void write(Path tar, Path out) throws Exception {
    long t0 = System.nanoTime();
    long entries = 0;
    long content = 0;
    long tEntries;
    try (InputStream in = new FileInputStream(tar.toFile()); // LayerTarReader buffers itself
        LayerTarReader reader = new LayerTarReader(in);
        SquashfsEntrySink sink = SquashfsEntrySink.create(out, SquashfsOptions.defaults())) {
      for (EntryHeader h; (h = reader.next()) != null; ) {
        sink.accept(h, h.type() == EntryType.FILE ? reader.content() : null);
        entries++;
        content += h.size();
      }
      tEntries = System.nanoTime();
      sink.finish();
    }
    long t1 = System.nanoTime();
    long peak = 0;
    for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
      if (pool.getType() == MemoryType.HEAP) {
        peak += pool.getPeakUsage().getUsed();
      }
    }
    System.out.printf(Locale.ROOT, "ours: %d entries, %.1f MB content -> %d bytes in %.2f s (finishing: %.2f s); peak heap used %.1f MB (max %.0f MB)%n",
        entries, content / 1e6, Files.size(out), (t1 - t0) / 1e9, (t1 - tEntries) / 1e9, peak / 1048576.0, Runtime.getRuntime().maxMemory() / 1048576.0);
  }
}
