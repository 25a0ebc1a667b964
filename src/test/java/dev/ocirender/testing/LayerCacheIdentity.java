package dev.ocirender.testing;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ocirender.io.WorkTally;
import dev.ocirender.layer.LayerBlob;
import dev.ocirender.layer.decoded.LayerCache;
import dev.ocirender.merge.MergeListener;
import dev.ocirender.merge.OverlayMerge;
import dev.ocirender.output.tar.TarEntrySink;
import dev.ocirender.squashfs.writer.SquashfsEntrySink;
import dev.ocirender.squashfs.writer.SquashfsOptions;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Renders one image into tar and into squashfs with no layer cache, then with a {@link LayerCache}
 * that holds none of its layers (cold), all of them (warm), some of them (every other entry
 * deleted), and damaged entries (one byte flipped in the middle of one, another cut short), and
 * requires every output to be byte-identical to the one without cache, the warm render to decode
 * nothing, and the cold render to leave an entry for every layer.
 */
public final class LayerCacheIdentity {

  private LayerCacheIdentity() {}

  /** The renders an image went through, for tests that look further. */
  public record Outcome(byte[] tar, byte[] squashfs) {}

  public static Outcome check(ImageBuilder image, Path dir) throws IOException {
    List<LayerBlob> layers = image.inMemoryBlobs();
    Files.createDirectories(dir);
    byte[] tar = tar(LayerCache.attach(null, layers, new WorkTally()));
    byte[] sqfs = squashfs(LayerCache.attach(null, layers, new WorkTally()), dir.resolve("reference.sqfs"));

    for (String format : new String[] {"tar", "squashfs"}) {
      LayerCache cache = LayerCache.open(dir.resolve("cache-" + format), 1L << 30);
      byte[] reference = format.equals("tar") ? tar : sqfs;

      WorkTally cold = new WorkTally();
      assertThat(render(format, cache, layers, cold, dir)).as("%s, cold cache", format).isEqualTo(reference);
      // Hits may happen in a cold render too: a layer opened again after its first reading completed.
      assertThat(cold.layerCacheMisses()).as("cold: %s", cold).isGreaterThanOrEqualTo(layers.size());
      for (LayerBlob layer : layers) {
        assertThat(cache.entryFor(layer)).as("entry for %s after a cold render", layer).isRegularFile();
      }

      WorkTally warm = new WorkTally();
      assertThat(render(format, cache, layers, warm, dir)).as("%s, warm cache", format).isEqualTo(reference);
      assertThat(warm.bytesDecoded()).as("warm: %s", warm).isZero();
      assertThat(warm.layerCacheMisses()).as("warm: %s", warm).isZero();
      assertThat(warm.layerCacheHits()).as("warm: %s", warm).isGreaterThanOrEqualTo(layers.size());

      for (int i = 0; i < layers.size(); i += 2) {
        Files.delete(cache.entryFor(layers.get(i)));
      }
      WorkTally some = new WorkTally();
      assertThat(render(format, cache, layers, some, dir)).as("%s, some layers cached", format).isEqualTo(reference);
      // At least: a layer opened twice (a merge restart, a hard link's content read again) may count twice.
      assertThat(some.layerCacheMisses()).as("some: %s", some).isGreaterThanOrEqualTo((layers.size() + 1) / 2);
      assertThat(some.layerCacheHits()).as("some: %s", some).isGreaterThanOrEqualTo(layers.size() / 2);

      Path flipped = cache.entryFor(layers.get(layers.size() - 1));
      flipByte(flipped, Files.size(flipped) / 2);
      if (layers.size() > 1) {
        Path cut = cache.entryFor(layers.get(0));
        truncate(cut, Files.size(cut) - 1);
      }
      WorkTally damaged = new WorkTally();
      assertThat(render(format, cache, layers, damaged, dir)).as("%s, damaged entries", format).isEqualTo(reference);
      WorkTally rebuilt = new WorkTally();
      assertThat(render(format, cache, layers, rebuilt, dir)).as("%s, rebuilt entries", format).isEqualTo(reference);
      assertThat(rebuilt.bytesDecoded()).as("rebuilt: %s", rebuilt).isZero();
    }
    return new Outcome(tar, sqfs);
  }

  private static byte[] render(String format, LayerCache cache, List<LayerBlob> layers, WorkTally tally, Path dir)
      throws IOException {
    List<LayerBlob> attached = LayerCache.attach(cache, layers, tally);
    return format.equals("tar") ? tar(attached) : squashfs(attached, dir.resolve("cached.sqfs"));
  }

  public static byte[] tar(List<LayerBlob> layers) throws IOException {
    ByteArrayOutputStream[] out = new ByteArrayOutputStream[1];
    OverlayMerge.run(layers, () -> new TarEntrySink(out[0] = new ByteArrayOutputStream()), MergeListener.NONE);
    return out[0].toByteArray();
  }

  public static byte[] squashfs(List<LayerBlob> layers, Path file) throws IOException {
    Files.deleteIfExists(file);
    OverlayMerge.run(layers, () -> {
      Files.deleteIfExists(file);
      return SquashfsEntrySink.create(file, SquashfsOptions.defaults().withBlockSize(4096));
    }, MergeListener.NONE);
    return Files.readAllBytes(file);
  }

  /** Inverts every bit of the byte at {@code offset}. */
  public static void flipByte(Path file, long offset) throws IOException {
    try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
      f.seek(offset);
      int b = f.read();
      f.seek(offset);
      f.write(~b & 0xff);
    }
  }

  public static void truncate(Path file, long length) throws IOException {
    try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
      f.setLength(length);
    }
  }
}
