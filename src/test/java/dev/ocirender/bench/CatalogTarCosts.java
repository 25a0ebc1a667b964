package dev.ocirender.bench;

import dev.ocirender.image.Platform;
import dev.ocirender.io.WorkTally;
import dev.ocirender.layer.LayerBlob;
import dev.ocirender.layer.decoded.LayerCache;
import dev.ocirender.merge.MergeListener;
import dev.ocirender.merge.OverlayMerge;
import dev.ocirender.output.tar.TarEntrySink;
import dev.ocirender.source.ImageSource;
import dev.ocirender.source.ImageSources;
import dev.ocirender.source.ResolvedImage;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Where the CPU of a catalog tar job goes, part by part, in one JVM (issue 15, "floor" analysis):
 * the catalog's distinct layers are decoded from their blobs (no cache), decoded while filling a
 * new {@link LayerCache} (a miss), and read back from it (a hit); every image is rendered from the
 * warm cache into a tar sink that discards its bytes (parsing, merging, tar serialisation); and the
 * output bytes are hashed (SHA-256) and written to a new file the way {@code AtomicFileOutput} writes
 * them (256 KiB writes through a heap buffer, fdatasync every 64 MiB). Every part is timed in
 * process CPU time (all threads: user + system), after a warm-up pass, so a shared machine changes
 * the numbers less than wall time would. Per-use totals multiply a distinct layer's cost by the
 * number of images using it.
 *
 * <p>{@code java -cp target/classes:target/test-classes:DEPS dev.ocirender.bench.CatalogTarCosts CATALOG.txt SCRATCH_DIR}
 */
public final class CatalogTarCosts {
  private CatalogTarCosts() {}

  private static final com.sun.management.OperatingSystemMXBean OS =
      (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();

  private static long cpu() {
    return OS.getProcessCpuTime();
  }

  public static void main(String[] args) throws Exception {
    List<String> refs = Files.readAllLines(Path.of(args[0])).stream().filter(l -> !l.isBlank()).toList();
    Path scratch = Path.of(args[1]);
    Files.createDirectories(scratch);
    Map<String, LayerBlob> distinct = new LinkedHashMap<>();
    Map<String, Integer> uses = new LinkedHashMap<>();
    List<ImageSource> sources = new ArrayList<>();
    for (String ref : refs) {
      ImageSource source = ImageSources.open(ref);
      sources.add(source);
      ResolvedImage image = source.resolve(Platform.parse("linux/amd64"));
      for (LayerBlob l : image.layers()) {
        String d = l.descriptor().digest().toString();
        distinct.putIfAbsent(d, l);
        uses.merge(d, 1, Integer::sum);
      }
    }
    for (int round = 0; round < 2; round++) {
      boolean report = round == 1;
      Path cacheDir = scratch.resolve("cache-" + round);
      LayerCache cache = LayerCache.open(cacheDir, 1L << 40);
      long decodeCpu = 0, fillCpu = 0, readCpu = 0, decodedDistinct = 0, decodedUses = 0;
      long decodeUsesCpu = 0, readUsesCpu = 0, sharedFill = 0, sharedDecoded = 0;
      for (Map.Entry<String, LayerBlob> e : distinct.entrySet()) {
        LayerBlob layer = e.getValue();
        int n = uses.get(e.getKey());
        long t0 = cpu();
        long bytes = drain(LayerCache.attach(null, List.of(layer), new WorkTally()).get(0).openTar());
        long t1 = cpu();
        drain(LayerCache.attach(cache, List.of(layer), new WorkTally()).get(0).openTar());
        long t2 = cpu();
        drain(LayerCache.attach(cache, List.of(layer), new WorkTally()).get(0).openTar());
        long t3 = cpu();
        decodeCpu += t1 - t0;
        fillCpu += (t2 - t1) - (t1 - t0);
        if (n > 1) {
          sharedFill += (t2 - t1) - (t1 - t0);
          sharedDecoded += bytes;
        }
        readCpu += t3 - t2;
        decodedDistinct += bytes;
        decodedUses += bytes * n;
        decodeUsesCpu += (t1 - t0) * n;
        readUsesCpu += (t3 - t2) * n;
      }
      long cacheBytes = cache.sizeOnDisk();
      // Render every image from the warm cache into a tar sink that discards its bytes.
      long outputBytes = 0;
      long r0 = cpu();
      for (ImageSource source : sources) {
        ResolvedImage image = source.resolve(Platform.parse("linux/amd64"));
        Counting out = new Counting();
        OverlayMerge.run(LayerCache.attach(cache, image.layers(), new WorkTally()), () -> new TarEntrySink(out),
            MergeListener.NONE);
        outputBytes += out.count;
      }
      long renderCpu = cpu() - r0;
      // SHA-256 and writing, over 1 GiB, scaled to the output bytes.
      byte[] chunk = new byte[256 * 1024];
      new java.util.Random(1).nextBytes(chunk);
      long gib = 1L << 30;
      MessageDigest sha = MessageDigest.getInstance("SHA-256");
      long h0 = cpu();
      for (long done = 0; done < gib; done += chunk.length) {
        sha.update(chunk);
      }
      long hashCpuPerGib = cpu() - h0;
      Path file = scratch.resolve("write-test");
      long w0 = cpu();
      try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
        OutputStream os = new java.io.BufferedOutputStream(java.nio.channels.Channels.newOutputStream(ch));
        long since = 0;
        for (long done = 0; done < gib; done += chunk.length) {
          os.write(chunk);
          since += chunk.length;
          if (since >= 64L << 20) {
            os.flush();
            ch.force(false);
            since = 0;
          }
        }
        os.flush();
        ch.force(false);
      }
      long writeCpuPerGib = cpu() - w0;
      Files.delete(file);
      // The same through a direct buffer (no copy into the JDK's temporary direct buffer).
      ByteBuffer direct = ByteBuffer.allocateDirect(chunk.length);
      long d0 = cpu();
      try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
        long since = 0;
        for (long done = 0; done < gib; done += chunk.length) {
          direct.clear();
          direct.put(chunk).flip();
          while (direct.hasRemaining()) {
            ch.write(direct);
          }
          since += chunk.length;
          if (since >= 64L << 20) {
            ch.force(false);
            since = 0;
          }
        }
        ch.force(false);
      }
      long writeDirectCpuPerGib = cpu() - d0;
      Files.delete(file);
      if (report) {
        double gbOut = outputBytes / 1e9;
        System.out.printf("distinct layers %d, uses %d; decoded distinct %.3f GB, per use %.3f GB; output %.3f GB; cache %.1f MB%n",
            distinct.size(), uses.values().stream().mapToInt(Integer::intValue).sum(), decodedDistinct / 1e9,
            decodedUses / 1e9, gbOut, cacheBytes / 1e6);
        System.out.printf("decode (blob -> tar, digests checked): %.2f s per distinct pass, %.2f s over all uses (%.2f s/GB)%n",
            decodeCpu / 1e9, decodeUsesCpu / 1e9, decodeCpu / (decodedDistinct / 1e9) / 1e9);
        System.out.printf("cache fill (LZ4 + CRC32C + write), on top of decoding: %.2f s for all distinct layers (%.2f s/GB decoded); shared layers only: %.2f s (%.3f GB)%n",
            fillCpu / 1e9, fillCpu / (decodedDistinct / 1e9) / 1e9, sharedFill / 1e9, sharedDecoded / 1e9);
        System.out.printf("cache read (read + LZ4 + CRC32C): %.2f s per distinct pass, %.2f s over all uses (%.2f s/GB)%n",
            readCpu / 1e9, readUsesCpu / 1e9, readCpu / (decodedDistinct / 1e9) / 1e9);
        System.out.printf("render all images from the warm cache to a discarding tar sink: %.2f s; minus cache reads: parse + merge + tar %.2f s%n",
            renderCpu / 1e9, (renderCpu - readUsesCpu) / 1e9);
        System.out.printf("SHA-256: %.2f s/GiB -> %.2f s for the outputs%n", hashCpuPerGib / 1e9, hashCpuPerGib / 1e9 * outputBytes / gib);
        System.out.printf("write new file (heap stream, 256 KiB, fdatasync/64 MiB): %.2f s/GiB -> %.2f s; direct buffer: %.2f s/GiB -> %.2f s%n",
            writeCpuPerGib / 1e9, writeCpuPerGib / 1e9 * outputBytes / gib, writeDirectCpuPerGib / 1e9,
            writeDirectCpuPerGib / 1e9 * outputBytes / gib);
      }
    }
    for (ImageSource s : sources) {
      s.close();
    }
  }

  private static long drain(InputStream in) throws IOException {
    try (in) {
      byte[] b = new byte[256 * 1024];
      long total = 0;
      for (int n; (n = in.read(b)) >= 0; ) {
        total += n;
      }
      return total;
    }
  }

  private static final class Counting extends OutputStream {
    long count;

    @Override
    public void write(int b) {
      count++;
    }

    @Override
    public void write(byte[] b, int off, int len) {
      count += len;
    }
  }
}
