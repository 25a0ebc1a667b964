package dev.ocirender.squashfs.writer;

import static dev.ocirender.testing.LayerBuilder.layer;
import static org.assertj.core.api.Assertions.assertThat;

import dev.ocirender.image.Descriptor;
import dev.ocirender.image.Digest;
import dev.ocirender.layer.EntryHeader;
import dev.ocirender.layer.EntryPath;
import dev.ocirender.layer.EntryType;
import dev.ocirender.layer.LayerBlob;
import dev.ocirender.merge.MergeListener;
import dev.ocirender.merge.OverlayMerge;
import dev.ocirender.output.ContentOrigin;
import dev.ocirender.output.tar.TarEntrySink;
import dev.ocirender.testing.FsSnapshot;
import dev.ocirender.testing.ImageBuilder;
import dev.ocirender.testing.LayerBuilder;
import dev.ocirender.testing.SparseLayers;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The block store's contract: an image written with the store, cold or warm, and warm from a
 * different image sharing base layers, is byte for byte the image written without it; and it reads
 * back, with {@code unsquashfs} and {@code sqfs2tar}, as the merged tar of the same image. A
 * corrupt store file is detected, deleted and compressed again; other compression settings, and a
 * content that does not match its claimed origin, never reuse a stored block.
 */
class BlockStoreTest {

  @TempDir Path tmp;

  @BeforeEach
  void tools() {
    SquashfsTools.assumeTools();
  }

  /** A base layer with what the writer treats differently: runs, tails, sparse and raw blocks, copies, links. */
  private static final LayerBuilder BASE = layer()
      .dir("usr", 0755).dir("usr/lib", 0755)
      .file("usr/lib/libbig.so", text(1, 5 * 131072 + 4321), 0755)
      .file("usr/lib/librandom.so", random(2, 3 * 131072 + 99), 0644) // incompressible: raw blocks
      .file("usr/lib/exact", text(3, 2 * 131072), 0644) // no tail
      .file("usr/lib/holey", concat(new byte[2 * 131072], text(4, 131072 + 17)), 0644) // sparse blocks
      .file("usr/lib/copy-of-big", text(1, 5 * 131072 + 4321), 0644) // a de-duplicated copy
      .file("usr/lib/small1", text(5, 700), 0644)
      .file("usr/lib/small2", text(6, 40_000), 0644)
      .file("usr/lib/replaced", text(7, 2 * 131072 + 5), 0644)
      .file("usr/lib/linked", text(8, 131072 + 300), 0644)
      .hardlink("usr/lib/link-to-linked", "usr/lib/linked")
      .file("etc/conf", "base config\n", 0644);

  private static final LayerBuilder RUNTIME = layer()
      .dir("opt/jdk", 0755)
      .file("opt/jdk/lib/modules", text(20, 9 * 131072 + 1234), 0644)
      .file("opt/jdk/bin/java", text(21, 70_000), 0755);

  private static ImageBuilder imageA() {
    return ImageBuilder.of(BASE, RUNTIME, layer()
        .file("app/a.jar", text(30, 3 * 131072 + 10), 0644)
        .file("etc/conf", "image a\n", 0644));
  }

  /** Shares BASE and RUNTIME; its top replaces, whites out and adds, so packing differs from A's. */
  private static ImageBuilder imageB() {
    return ImageBuilder.of(BASE, RUNTIME, layer()
        .file("app/b.bin", text(40, 131072 + 55_000), 0644)
        .whiteout("usr/lib/linked") // the link survives: promoted, its content read again
        .file("usr/lib/replaced", text(41, 1000), 0644));
  }

  static Stream<Arguments> settings() {
    return Stream.of(
        Arguments.of(SquashfsCompression.GZIP, 9, SquashfsOptions.DEFAULT_BLOCK_SIZE),
        Arguments.of(SquashfsCompression.XZ, 6, SquashfsOptions.DEFAULT_BLOCK_SIZE),
        Arguments.of(SquashfsCompression.ZSTD, 3, SquashfsOptions.DEFAULT_BLOCK_SIZE),
        Arguments.of(SquashfsCompression.LZ4, 0, SquashfsOptions.DEFAULT_BLOCK_SIZE),
        Arguments.of(SquashfsCompression.ZSTD, 3, 65536));
  }

  @ParameterizedTest
  @MethodSource("settings")
  void coldAndWarm_sameImage_areByteIdenticalToNoStore_andWarmCompressesNothing(SquashfsCompression c, int level,
      int blockSize) throws IOException {
    SquashfsOptions plain = SquashfsOptions.defaults().withCompression(c, level).withBlockSize(blockSize).withThreads(2);
    SquashfsOptions cached = plain.withBlockCacheRoot(tmp.resolve("cache"));
    byte[] reference = Files.readAllBytes(render(imageA(), "plain.sqfs", plain).file);

    Rendered cold = render(imageA(), "cold.sqfs", cached);
    Rendered warm = render(imageA(), "warm.sqfs", cached);

    assertThat(Files.readAllBytes(cold.file)).as("cold").isEqualTo(reference);
    assertThat(Files.readAllBytes(warm.file)).as("warm").isEqualTo(reference);
    assertThat(cold.reused).isZero();
    assertThat(warm.compressed).as("bytes compressed warm").isZero();
    assertThat(warm.reused).as("bytes reused warm").isEqualTo(cold.compressed);
    assertThat(storeFiles()).isNotEmpty();
    assertReadsBackAsMergedTar(imageA(), warm.file);
  }

  @Test
  void warmFromADifferentImage_sharingBaseLayers_isByteIdentical_andReusesTheSharedFiles() throws IOException {
    SquashfsOptions plain = SquashfsOptions.defaults().withThreads(2);
    SquashfsOptions cached = plain.withBlockCacheRoot(tmp.resolve("cache"));
    byte[] reference = Files.readAllBytes(render(imageB(), "plain-b.sqfs", plain).file);

    render(imageA(), "a.sqfs", cached);
    Rendered b = render(imageB(), "b.sqfs", cached);

    assertThat(Files.readAllBytes(b.file)).isEqualTo(reference);
    // Every full block of BASE and RUNTIME that B keeps was compressed by A: libbig (5), librandom
    // (3), exact (2), holey (1 of 3: two are sparse), copy-of-big (5: read, then found a copy),
    // linked (1, promoted in B), modules (9). B's own full blocks (replaced is a tail now, b.bin 1)
    // and its fragment blocks, packed differently than A's, are compressed.
    long sharedFullBlocks = (5 + 3 + 2 + 1 + 5 + 1 + 9) * 131072L;
    assertThat(b.reused).isGreaterThanOrEqualTo(sharedFullBlocks);
    assertThat(b.compressed).isGreaterThanOrEqualTo(131072L);
    assertReadsBackAsMergedTar(imageB(), b.file);
  }

  @Test
  void sparseLayerContent_fromGnuTar_isReusedByteIdentically() throws IOException {
    byte[] sparseTar = SparseLayers.gnuTar(tmp, 3 * 131072 + 5000, true);
    List<LayerBlob> layers = List.of(rawLayer(0, sparseTar), rawLayer(1, layer().file("top", text(50, 131073), 0644).tar()));
    SquashfsOptions plain = SquashfsOptions.defaults().withThreads(2);
    SquashfsOptions cached = plain.withBlockCacheRoot(tmp.resolve("cache"));
    Path reference = tmp.resolve("plain.sqfs");
    OverlayMerge.run(layers, () -> SquashfsEntrySink.create(reference, plain), MergeListener.NONE);

    for (String name : List.of("cold.sqfs", "warm.sqfs")) {
      Path out = tmp.resolve(name);
      OverlayMerge.run(layers, () -> SquashfsEntrySink.create(out, cached), MergeListener.NONE);
      assertThat(Files.readAllBytes(out)).as(name).isEqualTo(Files.readAllBytes(reference));
    }
  }

  @Test
  void corruptStoreFiles_areDetected_deleted_andCompressedAgain() throws IOException {
    SquashfsOptions plain = SquashfsOptions.defaults().withThreads(2);
    SquashfsOptions cached = plain.withBlockCacheRoot(tmp.resolve("cache"));
    byte[] reference = Files.readAllBytes(render(imageA(), "plain.sqfs", plain).file);
    Rendered cold = render(imageA(), "cold.sqfs", cached);
    List<Path> files = storeFiles();
    assertThat(files).hasSizeGreaterThanOrEqualTo(3);
    long corruptBefore = BlockStore.at(tmp.resolve("cache")).corruptFiles();

    // One file with a flipped byte in its first stored block, one in its table, one truncated.
    List<Path> bySize = files.stream().sorted((x, y) -> Long.compare(size(y), size(x))).toList();
    flipByte(bySize.get(0), 10);
    flipByte(bySize.get(1), size(bySize.get(1)) - 50);
    try (FileChannel ch = FileChannel.open(bySize.get(2), StandardOpenOption.WRITE)) {
      ch.truncate(ch.size() / 2);
    }

    Rendered warm = render(imageA(), "warm.sqfs", cached);
    assertThat(Files.readAllBytes(warm.file)).isEqualTo(reference);
    assertThat(BlockStore.at(tmp.resolve("cache")).corruptFiles() - corruptBefore).isEqualTo(3);
    assertThat(warm.compressed).isPositive().isLessThan(cold.compressed);

    // Compressed again, they were stored again, intact: the next render compresses nothing.
    Rendered again = render(imageA(), "again.sqfs", cached);
    assertThat(Files.readAllBytes(again.file)).isEqualTo(reference);
    assertThat(again.compressed).isZero();
    assertReadsBackAsMergedTar(imageA(), again.file);
  }

  @Test
  void aWarmRender_opensOneStoreFilePerLayer_notOnePerFileContent() throws IOException {
    SquashfsOptions cached = SquashfsOptions.defaults().withThreads(2).withBlockCacheRoot(tmp.resolve("cache"));
    render(imageA(), "cold.sqfs", cached);
    BlockStore store = BlockStore.at(tmp.resolve("cache"));
    long before = store.filesOpened();

    Rendered warm = render(imageA(), "warm.sqfs", cached);

    assertThat(warm.compressed).isZero();
    // Image A has 3 layers, and a dozen file contents and fragment blocks reused from the store.
    assertThat(store.filesOpened() - before).isEqualTo(3);
    assertThat(storeFiles()).hasSize(3);
  }

  @Test
  void aBadBlockInsideALayersFile_costsOnlyItsRun_andTheFileIsRebuiltWithItsOtherRuns() throws IOException {
    SquashfsOptions plain = SquashfsOptions.defaults().withThreads(2);
    SquashfsOptions cached = plain.withBlockCacheRoot(tmp.resolve("cache"));
    byte[] reference = Files.readAllBytes(render(imageA(), "plain.sqfs", plain).file);
    Rendered cold = render(imageA(), "cold.sqfs", cached);
    BlockStore store = BlockStore.at(tmp.resolve("cache"));
    long corruptBefore = store.corruptFiles();
    // The largest file is BASE's; its first stored block is libbig's or another run's: one run.
    Path largest = storeFiles().stream().sorted((x, y) -> Long.compare(size(y), size(x))).findFirst().orElseThrow();
    flipByte(largest, 10);

    Rendered warm = render(imageA(), "warm.sqfs", cached);
    assertThat(Files.readAllBytes(warm.file)).isEqualTo(reference);
    assertThat(store.corruptFiles() - corruptBefore).isEqualTo(1);
    assertThat(warm.compressed).as("one run compressed again").isPositive().isLessThanOrEqualTo(5 * 131072L);
    assertThat(warm.reused).isEqualTo(cold.compressed - warm.compressed);

    Rendered again = render(imageA(), "again.sqfs", cached);
    assertThat(Files.readAllBytes(again.file)).isEqualTo(reference);
    assertThat(again.compressed).as("the file was rebuilt with the run, and kept the others").isZero();
    assertThat(store.corruptFiles() - corruptBefore).isEqualTo(1);
  }

  @Test
  void imagesAddingToTheSameLayersFiles_keepEachOthersRuns_partialHitsByteIdentical() throws IOException {
    SquashfsOptions plain = SquashfsOptions.defaults().withThreads(2);
    SquashfsOptions cached = plain.withBlockCacheRoot(tmp.resolve("cache"));
    byte[] refA = Files.readAllBytes(render(imageA(), "plain-a.sqfs", plain).file);
    byte[] refB = Files.readAllBytes(render(imageB(), "plain-b.sqfs", plain).file);

    Rendered a = render(imageA(), "a.sqfs", cached);
    Rendered b = render(imageB(), "b.sqfs", cached); // partial hit: BASE and RUNTIME, packed differently
    Rendered a2 = render(imageA(), "a2.sqfs", cached);
    Rendered b2 = render(imageB(), "b2.sqfs", cached);

    assertThat(Files.readAllBytes(a.file)).isEqualTo(refA);
    assertThat(Files.readAllBytes(b.file)).isEqualTo(refB);
    assertThat(Files.readAllBytes(a2.file)).isEqualTo(refA);
    assertThat(Files.readAllBytes(b2.file)).isEqualTo(refB);
    assertThat(b.reused).isPositive();
    assertThat(b.compressed).isPositive(); // B's fragment blocks start with BASE's tails: added to BASE's file
    // B rewrote BASE's file with its own fragment blocks; A's are still there, and B's too.
    assertThat(a2.compressed).isZero();
    assertThat(b2.compressed).isZero();
    assertThat(storeFiles()).hasSize(4); // BASE, RUNTIME, A's top, B's top
  }

  @Test
  void aTruncatedLayersFile_isDeleted_compressedAgain_andWrittenWhole() throws IOException {
    SquashfsOptions plain = SquashfsOptions.defaults().withThreads(2);
    SquashfsOptions cached = plain.withBlockCacheRoot(tmp.resolve("cache"));
    byte[] reference = Files.readAllBytes(render(imageA(), "plain.sqfs", plain).file);
    render(imageA(), "cold.sqfs", cached);
    BlockStore store = BlockStore.at(tmp.resolve("cache"));
    long corruptBefore = store.corruptFiles();
    for (Path f : storeFiles()) {
      try (FileChannel ch = FileChannel.open(f, StandardOpenOption.WRITE)) {
        ch.truncate(ch.size() - 1);
      }
    }

    Rendered warm = render(imageA(), "warm.sqfs", cached);
    assertThat(Files.readAllBytes(warm.file)).isEqualTo(reference);
    assertThat(store.corruptFiles() - corruptBefore).isEqualTo(3);
    assertThat(warm.reused).isZero();
    Rendered again = render(imageA(), "again.sqfs", cached);
    assertThat(again.compressed).isZero();
    assertThat(Files.readAllBytes(again.file)).isEqualTo(reference);
  }

  @Test
  void otherCompressionSettings_neverReuseStoredBlocks() throws IOException {
    Path root = tmp.resolve("cache");
    SquashfsOptions zstd3 = SquashfsOptions.defaults().withThreads(2).withCompression(SquashfsCompression.ZSTD, 3);
    render(imageA(), "zstd3.sqfs", zstd3.withBlockCacheRoot(root));

    for (SquashfsOptions other : List.of(zstd3.withCompression(SquashfsCompression.ZSTD, 19),
        zstd3.withBlockSize(65536), zstd3.withCompression(SquashfsCompression.GZIP, 9),
        zstd3.withCompression(SquashfsCompression.LZ4, 1))) {
      byte[] reference = Files.readAllBytes(render(imageA(), "plain.sqfs", other).file);
      Rendered r = render(imageA(), "other.sqfs", other.withBlockCacheRoot(root));
      assertThat(r.reused).as(other.toString()).isZero();
      assertThat(Files.readAllBytes(r.file)).as(other.toString()).isEqualTo(reference);
    }
  }

  @Test
  void aContentThatIsNotWhatItsOriginClaims_isCompressed_notReused() throws IOException {
    SquashfsOptions cached = SquashfsOptions.defaults().withThreads(1).withBlockCacheRoot(tmp.resolve("cache"));
    ContentOrigin origin = new ContentOrigin(Digest.sha256Of("some layer".getBytes(StandardCharsets.UTF_8)), 7, 300_000);
    byte[] first = text(60, 300_000);
    byte[] second = text(61, 300_000);
    writeOne(tmp.resolve("first.sqfs"), cached, first, origin);

    long reused = writeOne(tmp.resolve("second.sqfs"), cached, second, origin);
    writeOne(tmp.resolve("plain.sqfs"), cached.withBlockCacheRoot(null), second, null);

    assertThat(reused).isZero();
    assertThat(Files.readAllBytes(tmp.resolve("second.sqfs"))).isEqualTo(Files.readAllBytes(tmp.resolve("plain.sqfs")));
  }

  @Test
  void concurrentRenders_sharingAStore_areEachByteIdentical() throws Exception {
    SquashfsOptions plain = SquashfsOptions.defaults().withThreads(1);
    SquashfsOptions cached = plain.withBlockCacheRoot(tmp.resolve("cache"));
    byte[] refA = Files.readAllBytes(render(imageA(), "plain-a.sqfs", plain).file);
    byte[] refB = Files.readAllBytes(render(imageB(), "plain-b.sqfs", plain).file);
    ExecutorService pool = Executors.newFixedThreadPool(4);
    try {
      List<Future<Rendered>> runs = new ArrayList<>();
      for (int i = 0; i < 6; i++) {
        boolean a = i % 2 == 0;
        String name = "c" + i + ".sqfs";
        runs.add(pool.submit(() -> render(a ? imageA() : imageB(), name, cached)));
      }
      for (int i = 0; i < runs.size(); i++) {
        assertThat(Files.readAllBytes(runs.get(i).get().file)).as("render " + i).isEqualTo(i % 2 == 0 ? refA : refB);
      }
    } finally {
      pool.shutdownNow();
    }
  }

  // ---- helpers

  private record Rendered(Path file, long compressed, long reused) {}

  private Rendered render(ImageBuilder image, String name, SquashfsOptions options) throws IOException {
    Path out = tmp.resolve(name);
    SquashfsEntrySink[] last = new SquashfsEntrySink[1];
    OverlayMerge.run(image.inMemoryBlobs(), () -> last[0] = SquashfsEntrySink.create(out, options), MergeListener.NONE);
    return new Rendered(out, last[0].bytesCompressed(), last[0].bytesReused());
  }

  /** Writes an image of one file through the sink directly; returns the bytes reused. */
  private static long writeOne(Path out, SquashfsOptions options, byte[] content, ContentOrigin origin) throws IOException {
    try (SquashfsEntrySink sink = SquashfsEntrySink.create(out, options)) {
      sink.accept(EntryHeader.builder(EntryType.DIRECTORY, EntryPath.ROOT).mode(0755).build(), null);
      sink.accept(EntryHeader.builder(EntryType.FILE, EntryPath.of("f")).mode(0644).size(content.length).build(),
          new ByteArrayInputStream(content), origin);
      sink.finish();
      return sink.bytesReused();
    }
  }

  /** unsquashfs and sqfs2tar both read the image as the merged tar of the same image. */
  private void assertReadsBackAsMergedTar(ImageBuilder image, Path sqfs) throws IOException {
    ByteArrayOutputStream tar = new ByteArrayOutputStream();
    OverlayMerge.run(image.inMemoryBlobs(), () -> new TarEntrySink(tar), MergeListener.NONE);
    FsSnapshot merged;
    try (InputStream in = new ByteArrayInputStream(tar.toByteArray())) {
      merged = FsSnapshot.fromTarExact(in);
    }
    Path work = Files.createTempDirectory(tmp, "read");
    merged.assertMatches(SquashfsTools.extract(sqfs, work), SquashfsEntrySinkTest.squashfsCompare());
    merged.assertMatches(SquashfsTools.ngRead(sqfs, work), SquashfsEntrySinkTest.squashfsCompare());
  }

  private static LayerBlob rawLayer(int index, byte[] tar) {
    Descriptor d = new Descriptor("application/vnd.oci.image.layer.v1.tar", Digest.sha256Of(tar), tar.length);
    return new LayerBlob(index, d, null, () -> new ByteArrayInputStream(tar));
  }

  private List<Path> storeFiles() throws IOException {
    try (Stream<Path> s = Files.list(tmp.resolve("cache").resolve(BlockStore.DIRECTORY))) {
      return s.filter(p -> p.getFileName().toString().endsWith(".blk")).toList();
    }
  }

  private static long size(Path p) {
    try {
      return Files.size(p);
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  private static void flipByte(Path file, long at) throws IOException {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
      java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(1);
      ch.read(b, at);
      b.put(0, (byte) (b.get(0) ^ 0x5a));
      b.rewind();
      ch.write(b, at);
    }
  }

  /** Compressible bytes: words from a small vocabulary, seeded. */
  static byte[] text(long seed, int size) {
    String[] words = {"class ", "java ", "lang ", "Object ", "module ", "static ", "void ", "int ", "\n", "{}", "return "};
    SplittableRandom r = new SplittableRandom(seed);
    byte[] b = new byte[size];
    int i = 0;
    while (i < size) {
      byte[] w = words[r.nextInt(words.length)].getBytes(StandardCharsets.US_ASCII);
      for (int j = 0; j < w.length && i < size; j++) {
        b[i++] = w[j];
      }
      if (i < size && r.nextInt(8) == 0) {
        b[i++] = (byte) ('0' + r.nextInt(10));
      }
    }
    return b;
  }

  static byte[] random(long seed, int size) {
    byte[] b = new byte[size];
    new SplittableRandom(seed).nextBytes(b);
    return b;
  }

  static byte[] concat(byte[] a, byte[] b) {
    byte[] c = new byte[a.length + b.length];
    System.arraycopy(a, 0, c, 0, a.length);
    System.arraycopy(b, 0, c, a.length, b.length);
    return c;
  }
}
