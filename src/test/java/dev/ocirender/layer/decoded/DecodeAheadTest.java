package dev.ocirender.layer.decoded;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ocirender.image.Descriptor;
import dev.ocirender.image.Digest;
import dev.ocirender.layer.LayerBlob;
import dev.ocirender.layer.decoded.FrameFile.Frame;
import dev.ocirender.merge.MergeListener;
import dev.ocirender.merge.OverlayMerge;
import dev.ocirender.output.tar.TarEntrySink;
import dev.ocirender.squashfs.writer.SquashfsEntrySink;
import dev.ocirender.squashfs.writer.SquashfsOptions;
import dev.ocirender.testing.Compression;
import dev.ocirender.testing.ImageBuilder;
import dev.ocirender.testing.LayerBuilder;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.RandomAccessFile;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Decoding layers ahead must not change a single output byte: the same layer stacks merged with
 * the layers decoded one at a time (the reference) and through {@link DecodeAhead} (2 or 3 threads,
 * a store with no memory budget so every layer not yet read goes through LZ4 or raw frames on disk)
 * give byte-identical tar and squashfs outputs. Stacks are seeded-random: files up to 700 KB (so
 * layers span many chunks), directories, symlinks, hard links, whiteouts, opaque markers, and
 * same-layer repeats that force the merge's second pass; gzip, zstd and plain layers.
 */
class DecodeAheadTest {

  @TempDir Path tmp;

  @Test
  void decodeAhead_givesByteIdenticalTar_onRandomStacks() throws IOException {
    for (int seed = 0; seed < 60; seed++) {
      List<LayerBlob> layers = randomStack(new Random(seed)).inMemoryBlobs();
      byte[] reference = tar(layers);
      for (Variant v : Variant.values()) {
        try (DecodeAhead ahead = v.start(layers, tmp)) {
          assertThat(tar(ahead.layers())).as("seed %d, %s", seed, v).isEqualTo(reference);
        }
      }
    }
    assertThat(tmp).isEmptyDirectory();
  }

  @Test
  void decodeAhead_givesByteIdenticalSquashfs_onRandomStacks() throws IOException {
    for (int seed = 1000; seed < 1020; seed++) {
      List<LayerBlob> layers = randomStack(new Random(seed)).inMemoryBlobs();
      byte[] reference = squashfs(layers, "ref-" + seed);
      for (Variant v : Variant.values()) {
        try (DecodeAhead ahead = v.start(layers, tmp.resolve("spill"))) {
          assertThat(squashfs(ahead.layers(), v + "-" + seed)).as("seed %d, %s", seed, v).isEqualTo(reference);
        }
      }
    }
  }

  @Test
  void decodeAhead_withNoBudget_spillsTheLayersNotYetRead() throws Exception {
    List<LayerBlob> layers = randomStack(new Random(7)).inMemoryBlobs();
    // Nothing reads the layers until all are decoded: everything goes to frames on disk.
    try (DecodeAhead ahead = new DecodeAhead(layers, new DecodedLayerStore(tmp, 0, true), 2)) {
      ahead.awaitDecoders(); // else a layer opened before its first chunk is written would stream through memory
      List<byte[]> decoded = new ArrayList<>();
      for (LayerBlob l : ahead.layers()) {
        decoded.add(null);
      }
      for (int i = layers.size() - 1; i >= 0; i--) {
        try (InputStream in = ahead.layers().get(i).openTar()) {
          decoded.set(i, in.readAllBytes());
        }
        try (InputStream in = layers.get(i).openTar()) {
          assertThat(decoded.get(i)).isEqualTo(in.readAllBytes());
        }
      }
      assertThat(ahead.bytesSpilled()).isPositive();
    }
  }

  @Test
  void aFailingOlderLayer_reachesTheMerge_withTheSameError() throws IOException {
    ImageBuilder image = randomStack(new Random(3));
    List<LayerBlob> good = image.inMemoryBlobs();
    List<LayerBlob> layers = new ArrayList<>(good);
    byte[] blob = LayerBuilder.layer().file("big", new byte[300_000], 0644).blob(Compression.GZIP);
    byte[] truncated = Arrays.copyOf(blob, blob.length / 2);
    layers.set(0, new LayerBlob(0, new Descriptor(Compression.GZIP.mediaType(), Digest.sha256Of(blob), blob.length),
        null, () -> new ByteArrayInputStream(truncated)));
    String expected = null;
    try {
      tar(layers);
    } catch (IOException e) {
      expected = e.getMessage();
    }
    assertThat(expected).contains("layer 0").contains("truncated gzip data");
    try (DecodeAhead ahead = new DecodeAhead(layers, new DecodedLayerStore(tmp, 0, true), 2)) {
      assertThatThrownBy(() -> tar(ahead.layers())).hasMessage(expected);
    }
  }

  @Test
  void closing_beforeAnythingIsRead_stopsTheDecodersAndLeavesNoFiles() throws Exception {
    List<LayerBlob> layers = randomStack(new Random(11)).inMemoryBlobs();
    DecodeAhead ahead = new DecodeAhead(layers, new DecodedLayerStore(tmp, 0, true), 2);
    try (Stream<Path> files = Files.list(tmp)) {
      assertThat(files).isEmpty(); // frame files are unlinked as soon as they are open
    }
    ahead.close();
    assertThat(Thread.getAllStackTraces().keySet()).noneMatch(t -> t.getName().startsWith("decode-ahead") && t.isAlive()
        && Arrays.stream(t.getStackTrace()).anyMatch(f -> f.getClassName().startsWith(DecodeAhead.class.getName())));
    assertThat(tmp).isEmptyDirectory();
  }

  @Test
  void frameFile_detectsAFlippedByte_inCompressedAndInRawFrames() throws IOException {
    for (boolean compress : new boolean[] {true, false}) {
      Path path = tmp.resolve("frames-" + compress);
      byte[] data = new byte[100_000];
      new Random(5).nextBytes(data);
      Arrays.fill(data, 0, 50_000, (byte) 'a'); // compressible half
      Frame frame;
      try (FrameFile f = FrameFile.create(path, compress)) {
        frame = f.append(data, data.length);
        byte[] back = new byte[data.length];
        f.read(frame, back, null);
        assertThat(back).isEqualTo(data);
      }
      assertThat(frame.storedLength() < data.length).isEqualTo(compress);
      try (RandomAccessFile raf = new RandomAccessFile(path.toFile(), "rw")) {
        long at = FrameFile.HEADER_SIZE + frame.storedLength() - 10;
        raf.seek(at);
        int b = raf.read();
        raf.seek(at);
        raf.write(b ^ 0x10);
      }
      try (FrameFile f = FrameFile.openExisting(path, compress)) {
        assertThatThrownBy(() -> f.read(frame, new byte[data.length], null))
            .isInstanceOf(IOException.class).hasMessageMatching(".*(checksum mismatch|corrupt LZ4|decodes to).*");
      }
    }
  }

  @Test
  void frameFile_detectsTruncation() throws IOException {
    Path path = tmp.resolve("frames");
    byte[] data = new byte[10_000];
    Frame frame;
    try (FrameFile f = FrameFile.create(path, true)) {
      frame = f.append(data, data.length);
    }
    try (FileChannel c = FileChannel.open(path, StandardOpenOption.WRITE)) {
      c.truncate(frame.storedLength());
    }
    try (FrameFile f = FrameFile.openExisting(path, true)) {
      assertThatThrownBy(() -> f.read(frame, new byte[data.length], null)).hasMessageContaining("truncated frame");
    }
  }

  private enum Variant {
    LZ4_FRAMES_TWO_THREADS(0, true, 2),
    RAW_FRAMES_THREE_THREADS(0, false, 3),
    MEMORY_TWO_THREADS(64L << 20, true, 2),
    ONE_CHUNK_BUDGET(DecodedLayerStore.CHUNK_SIZE, true, 2);

    final long budget;
    final boolean compress;
    final int threads;

    Variant(long budget, boolean compress, int threads) {
      this.budget = budget;
      this.compress = compress;
      this.threads = threads;
    }

    DecodeAhead start(List<LayerBlob> layers, Path dir) {
      return new DecodeAhead(layers, new DecodedLayerStore(dir, budget, compress), threads);
    }
  }

  private static byte[] tar(List<LayerBlob> layers) throws IOException {
    ByteArrayOutputStream[] out = new ByteArrayOutputStream[1];
    OverlayMerge.run(layers, () -> new TarEntrySink(out[0] = new ByteArrayOutputStream()), MergeListener.NONE);
    return out[0].toByteArray();
  }

  private byte[] squashfs(List<LayerBlob> layers, String name) throws IOException {
    Path file = tmp.resolve(name + ".sqfs");
    OverlayMerge.run(layers, () -> {
      Files.deleteIfExists(file);
      FileChannel c = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ, StandardOpenOption.WRITE);
      return new SquashfsEntrySink(c, SquashfsOptions.defaults());
    }, MergeListener.NONE);
    byte[] bytes = Files.readAllBytes(file);
    Files.delete(file);
    return bytes;
  }

  /** 2-6 layers over a small path alphabet, so that entries of different layers meet often. */
  static ImageBuilder randomStack(Random r) {
    ImageBuilder image = ImageBuilder.image();
    String[] names = {"a", "b", "c", "d"};
    Compression[] compressions = {Compression.GZIP, Compression.ZSTD, Compression.NONE, Compression.GZIP_MULTI_MEMBER};
    int layerCount = 2 + r.nextInt(5);
    for (int l = 0; l < layerCount; l++) {
      LayerBuilder layer = LayerBuilder.layer();
      List<String> files = new ArrayList<>();
      int entries = 1 + r.nextInt(12);
      for (int e = 0; e < entries; e++) {
        StringBuilder path = new StringBuilder(names[r.nextInt(names.length)]);
        for (int d = r.nextInt(3); d > 0; d--) {
          path.append('/').append(names[r.nextInt(names.length)]);
        }
        String p = path.toString();
        long mtime = 1_000_000L + l * 100L + e;
        switch (r.nextInt(10)) {
          case 0, 1, 2 -> {
            int size = r.nextInt(10) == 0 ? r.nextInt(700_000) : r.nextInt(3000);
            byte[] content = new byte[size];
            for (int i = 0; i < size; i++) {
              content[i] = (byte) (r.nextInt(4) == 0 ? r.nextInt(256) : 'a' + (i * 7 + l) % 26);
            }
            layer.file(p, content, 0644, l, l, mtime);
            files.add(p);
          }
          case 3 -> layer.dir(p, 0755, 0, 0, mtime);
          case 4 -> layer.symlink(p, "target-" + l + "-" + e);
          case 5 -> {
            if (!files.isEmpty() && !files.get(files.size() - 1).equals(p)) {
              layer.hardlink(p, files.get(files.size() - 1));
            }
          }
          case 6 -> layer.whiteout(p);
          case 7 -> layer.opaque(p);
          case 8 -> {
            if (!files.isEmpty()) {
              layer.file(files.get(0), ("again " + l).getBytes(), 0600, 0, 0, mtime); // a same-layer repeat
            }
          }
          default -> layer.file(p + "-" + l, ("small " + e).getBytes(), 0644, 0, 0, mtime);
        }
      }
      image.layer(layer, compressions[r.nextInt(compressions.length)]);
    }
    return image;
  }
}
