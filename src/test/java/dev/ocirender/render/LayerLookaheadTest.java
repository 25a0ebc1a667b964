package dev.ocirender.render;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ocirender.image.Descriptor;
import dev.ocirender.image.Digest;
import dev.ocirender.layer.LayerBlob;
import dev.ocirender.merge.MergeException;
import dev.ocirender.merge.MergeListener;
import dev.ocirender.merge.OverlayMerge;
import dev.ocirender.output.tar.TarEntrySink;
import dev.ocirender.testing.Compression;
import dev.ocirender.testing.FsSnapshot;
import dev.ocirender.testing.ImageBuilder;
import dev.ocirender.testing.LayerBuilder;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The layer look-ahead: the next layer decodes while the merge reads the current one. Layers of
 * incompressible content several times the look-ahead's memory make every decoder fill its chunks
 * and wait, so the layers' decoders really run at the same time and block; the merged tar, read
 * back by an independent reader (Commons Compress), must equal the oldest-first model, and be the
 * same bytes as without the look-ahead. A failure in a layer decoded ahead must name that layer, a
 * failure above it must win, and no decoding thread may outlive either.
 */
class LayerLookaheadTest {

  private static final int CHUNKS = 2; // 512 KiB ahead: far less than a layer

  @Test
  void layersDecodedAhead_mergeToTheModel_andToTheSameBytesAsWithout() throws IOException {
    ImageBuilder image = orderSensitiveImage();
    byte[] without = render(image.inMemoryBlobs(), 0);
    byte[] with = render(image.inMemoryBlobs(), CHUNKS);
    assertThat(with).as("tar with the look-ahead against without").isEqualTo(without);
    FsSnapshot expected = FsSnapshot.fromModel(image);
    FsSnapshot actual = FsSnapshot.fromTar(new ByteArrayInputStream(with));
    expected.assertMatches(actual, FsSnapshot.Compare.EXACT);
    assertThat(actual.has("opt/big-2")).as("a file of a middle layer").isTrue();
    assertThat(actual.has("opt/gone")).as("whited out by the newest layer").isFalse();
    assertThat(readAheadThreads(image.inMemoryBlobs())).isZero();
  }

  @Test
  void corruptLayerDecodedAhead_failsNamingIt_andLeavesNoThread() throws IOException {
    ImageBuilder image = orderSensitiveImage();
    List<LayerBlob> layers = new ArrayList<>(image.inMemoryBlobs());
    // Layer 1 starts decoding while layer 2 merges; its gzip stream ends half-way.
    byte[] blob = image.inMemoryBlobs().get(1).openRaw().readAllBytes();
    layers.set(1, blobOf(1, Arrays.copyOf(blob, blob.length / 2)));
    assertThatThrownBy(() -> render(layers, CHUNKS))
        .isInstanceOf(MergeException.class)
        .hasMessageStartingWith(layers.get(1).toString());
    assertThat(readAheadThreads(layers)).isZero();
  }

  @Test
  void failureAboveALayerDecodedAhead_winsAndStopsItsDecoder() throws IOException {
    ImageBuilder image = orderSensitiveImage();
    List<LayerBlob> layers = new ArrayList<>(image.inMemoryBlobs());
    // The newest layer fails at its end, while the one below it is being decoded ahead.
    byte[] top = image.inMemoryBlobs().get(3).openRaw().readAllBytes();
    layers.set(3, blobOf(3, Arrays.copyOf(top, top.length - 20)));
    assertThatThrownBy(() -> render(layers, CHUNKS))
        .isInstanceOf(MergeException.class)
        .hasMessageStartingWith(layers.get(3).toString());
    assertThat(readAheadThreads(layers)).isZero();
  }

  /**
   * Four gzip layers, oldest first, each with several MB of random content: replacements, a
   * whiteout and an opaque directory make the result depend on merging them in order.
   */
  private static ImageBuilder orderSensitiveImage() {
    Random random = new Random(14);
    LayerBuilder base = LayerBuilder.layer().dir("opt", 0755).file("opt/shared", bytes(random, 1_500_000), 0644)
        .file("opt/gone", bytes(random, 900_000), 0644).dir("opt/cache", 0755)
        .file("opt/cache/old", bytes(random, 700_000), 0644).file("opt/big-0", bytes(random, 2_000_000), 0644);
    LayerBuilder second = LayerBuilder.layer().file("opt/shared", bytes(random, 1_200_000), 0600)
        .file("opt/big-1", bytes(random, 2_500_000), 0644).file("opt/cache/new", bytes(random, 300_000), 0644);
    LayerBuilder third = LayerBuilder.layer().opaque("opt/cache").file("opt/cache/kept", bytes(random, 400_000), 0644)
        .file("opt/big-2", bytes(random, 3_000_000), 0755);
    LayerBuilder newest = LayerBuilder.layer().whiteout("opt/gone").file("opt/shared", bytes(random, 1_000_000), 0640)
        .file("opt/big-3", bytes(random, 1_800_000), 0644);
    return ImageBuilder.image().layer(base, Compression.GZIP).layer(second, Compression.GZIP)
        .layer(third, Compression.GZIP).layer(newest, Compression.GZIP);
  }

  /** Merges {@code layers} into a tar in memory, through a look-ahead of {@code chunks} (0: none). */
  private static byte[] render(List<LayerBlob> layers, int chunks) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    if (chunks == 0) {
      OverlayMerge.run(layers, () -> new TarEntrySink(out), MergeListener.NONE);
      return out.toByteArray();
    }
    try (LayerLookahead lookahead = new LayerLookahead(layers, chunks)) {
      OverlayMerge.run(lookahead.layers(), () -> new TarEntrySink(out), MergeListener.NONE);
    }
    return out.toByteArray();
  }

  private static LayerBlob blobOf(int index, byte[] blob) {
    Descriptor d = new Descriptor(Compression.GZIP.mediaType(), Digest.sha256Of(blob), blob.length);
    return new LayerBlob(index, d, null, () -> new ByteArrayInputStream(blob));
  }

  private static byte[] bytes(Random random, int n) {
    byte[] b = new byte[n];
    random.nextBytes(b);
    return b;
  }

  /**
   * Live decoding threads of these layers (named after the layer, digest included), after giving
   * threads that were told to stop a moment to end.
   */
  private static long readAheadThreads(List<LayerBlob> layers) {
    long deadline = System.nanoTime() + 5_000_000_000L;
    while (true) {
      long n = Thread.getAllStackTraces().keySet().stream().filter(Thread::isAlive)
          .filter(t -> layers.stream().anyMatch(l -> t.getName().startsWith("read-ahead " + l))).count();
      if (n == 0 || System.nanoTime() > deadline) {
        return n;
      }
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return n;
      }
    }
  }
}
