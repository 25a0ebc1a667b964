package dev.ocirender.layer.decoded;

import static dev.ocirender.testing.LayerBuilder.layer;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ocirender.image.Descriptor;
import dev.ocirender.image.Platform;
import dev.ocirender.io.TemporaryFiles;
import dev.ocirender.io.WorkTally;
import dev.ocirender.layer.LayerBlob;
import dev.ocirender.render.FileRenderTarget;
import dev.ocirender.render.OutputFormat;
import dev.ocirender.render.RenderListener;
import dev.ocirender.render.RenderResult;
import dev.ocirender.render.Renderer;
import dev.ocirender.source.ImageSource;
import dev.ocirender.source.ImageSources;
import dev.ocirender.testing.Compression;
import dev.ocirender.testing.ImageBuilder;
import dev.ocirender.testing.LayerBuilder;
import dev.ocirender.testing.LayerCacheIdentity;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The layer work cache against real renders: the reference for every output is the same image
 * rendered without a cache. (Every merge scenario is also run through {@link LayerCacheIdentity}
 * by {@code OverlayMergeScenarioTest}; here are the cases those small images cannot show.)
 */
class LayerCacheTest {

  @TempDir Path tmp;

  /** About {@code bytes} of text that LZ4 compresses somewhat, different for each seed. */
  private static byte[] text(long seed, int bytes) {
    String[] words = {"layer", "cache", "frame", "tar", "gzip", "squashfs", "inode", "block", "merge", "digest"};
    Random random = new Random(seed);
    StringBuilder sb = new StringBuilder(bytes + 16);
    while (sb.length() < bytes) {
      sb.append(words[random.nextInt(words.length)]).append(random.nextInt(1000)).append(' ');
    }
    return sb.substring(0, bytes).getBytes(StandardCharsets.US_ASCII);
  }

  /** A base of several 256 KiB frames, a middle layer and a top with whiteouts. */
  private static ImageBuilder image(long seed) {
    return ImageBuilder.of(
        layer().dir("usr", 0755).file("usr/big", text(seed, 1_200_000), 0644).file("usr/keep", "kept", 0644)
            .file("usr/gone", text(seed + 1, 300_000), 0644),
        layer().file("etc/conf-" + seed, "v=" + seed, 0644).hardlink("usr/link", "usr/big"),
        layer().whiteout("usr/gone").file("top", text(seed + 2, 50_000), 0600));
  }

  /** The file offsets of an entry's frames, read from their headers. */
  private static List<Long> framePositions(Path entry) throws IOException {
    List<Long> positions = new ArrayList<>();
    try (FileChannel ch = FileChannel.open(entry)) {
      long end = ch.size() - LayerCache.TRAILER_SIZE;
      ByteBuffer header = ByteBuffer.allocate(FrameFile.HEADER_SIZE).order(ByteOrder.LITTLE_ENDIAN);
      for (long at = 0; at < end; ) {
        header.clear();
        ch.read(header, at);
        positions.add(at);
        at += FrameFile.HEADER_SIZE + header.getInt(4);
      }
    }
    return positions;
  }

  @Test
  void damagedFrameInTheMiddle_streamGoesOnFromTheBlob_outputIdentical_entryRebuilt() throws Exception {
    List<LayerBlob> layers = image(1).inMemoryBlobs();
    byte[] reference = LayerCacheIdentity.tar(LayerCache.attach(null, layers, new WorkTally()));
    LayerCache cache = LayerCache.open(tmp.resolve("cache"), 1L << 30);
    assertThat(LayerCacheIdentity.tar(LayerCache.attach(cache, layers, new WorkTally()))).isEqualTo(reference);

    Path base = cache.entryFor(layers.get(0));
    List<Long> frames = framePositions(base);
    assertThat(frames).as("frames of the base entry").hasSizeGreaterThanOrEqualTo(5);
    LayerCacheIdentity.flipByte(base, frames.get(3) + FrameFile.HEADER_SIZE + 100);

    WorkTally damaged = new WorkTally();
    assertThat(LayerCacheIdentity.tar(LayerCache.attach(cache, layers, damaged))).isEqualTo(reference);
    // Three good frames of the base were used before the damage showed, then the blob took over.
    assertThat(damaged.bytesReused()).as("%s", damaged).isGreaterThanOrEqualTo(3L * DecodedLayerStore.CHUNK_SIZE);
    assertThat(damaged.bytesDecoded()).as("%s", damaged).isGreaterThan(1_000_000L);

    WorkTally after = new WorkTally();
    assertThat(LayerCacheIdentity.tar(LayerCache.attach(cache, layers, after))).isEqualTo(reference);
    assertThat(after.bytesDecoded()).as("rebuilt entry: %s", after).isZero();
    assertThat(framePositions(base)).isEqualTo(frames);
  }

  @Test
  void layersTheKeepPolicyRejects_areDecodedNotKept_outputIdentical_andAnEntryAlreadyThereIsStillRead() throws Exception {
    List<LayerBlob> layers = image(11).inMemoryBlobs();
    byte[] reference = LayerCacheIdentity.tar(LayerCache.attach(null, layers, new WorkTally()));
    LayerCache cache = LayerCache.open(tmp.resolve("cache"), 1L << 30);
    LayerBlob top = layers.get(2);
    java.util.function.Predicate<LayerBlob> allButTop = l -> l.index() != top.index();

    WorkTally cold = new WorkTally();
    assertThat(LayerCacheIdentity.tar(LayerCache.attach(cache, layers, cold, allButTop))).isEqualTo(reference);
    assertThat(cold.layerCacheMisses()).as("%s", cold).isEqualTo(3);
    assertThat(Files.exists(cache.entryFor(top))).as("the rejected top has no entry").isFalse();
    assertThat(Files.exists(cache.entryFor(layers.get(0)))).isTrue();
    assertThat(Files.exists(cache.entryFor(layers.get(1)))).isTrue();
    try (Stream<Path> files = Files.list(cache.root().resolve(LayerCache.LAYERS))) {
      assertThat(files).as("two entries, no temporary left").hasSize(2);
    }

    WorkTally warm = new WorkTally();
    assertThat(LayerCacheIdentity.tar(LayerCache.attach(cache, layers, warm, allButTop))).isEqualTo(reference);
    assertThat(warm.layerCacheHits()).as("%s", warm).isEqualTo(2);
    assertThat(warm.layerCacheMisses()).as("%s", warm).isEqualTo(1);
    assertThat(warm.bytesDecoded() + warm.bytesReused()).isEqualTo(cold.bytesDecoded() + cold.bytesReused());

    // An entry that a render keeping everything wrote is read as a hit by one that would not keep it.
    LayerCacheIdentity.tar(LayerCache.attach(cache, layers, new WorkTally()));
    WorkTally rejectingAll = new WorkTally();
    assertThat(LayerCacheIdentity.tar(LayerCache.attach(cache, layers, rejectingAll, l -> false))).isEqualTo(reference);
    assertThat(rejectingAll.layerCacheHits()).as("%s", rejectingAll).isEqualTo(3);
    assertThat(rejectingAll.bytesDecoded()).isZero();
  }

  @Test
  void layerHiddenEntirelyByWhiteouts_isStillCached_andServedWarm() throws Exception {
    List<LayerBlob> layers = ImageBuilder.of(
        layer().dir("opt", 0755).file("opt/a", text(6, 100_000), 0644).file("opt/b", "b", 0644),
        layer().whiteout("opt").file("etc/x", "x", 0644)).inMemoryBlobs();
    byte[] reference = LayerCacheIdentity.tar(LayerCache.attach(null, layers, new WorkTally()));
    LayerCache cache = LayerCache.open(tmp.resolve("cache"), 1L << 30);
    assertThat(LayerCacheIdentity.tar(LayerCache.attach(cache, layers, new WorkTally()))).isEqualTo(reference);
    assertThat(cache.entryFor(layers.get(0))).as("the hidden base").isRegularFile();
    WorkTally warm = new WorkTally();
    assertThat(LayerCacheIdentity.tar(LayerCache.attach(cache, layers, warm))).isEqualTo(reference);
    assertThat(warm.bytesDecoded()).as("%s", warm).isZero();
    assertThat(warm.layerCacheHits()).as("%s", warm).isEqualTo(2);
  }

  @Test
  void entryEndingInAnotherEntrysTrailer_isNotUsed_andIsRebuilt() throws Exception {
    List<LayerBlob> layers = image(2).inMemoryBlobs();
    byte[] reference = LayerCacheIdentity.tar(LayerCache.attach(null, layers, new WorkTally()));
    LayerCache cache = LayerCache.open(tmp.resolve("cache"), 1L << 30);
    LayerCacheIdentity.tar(LayerCache.attach(cache, layers, new WorkTally()));
    // Swap the entries of two layers: each file is whole and checks out frame by frame, but it is
    // not the layer its name says; only the trailer's counts and lengths can tell.
    Path a = cache.entryFor(layers.get(1));
    Path b = cache.entryFor(layers.get(2));
    byte[] aBytes = Files.readAllBytes(a);
    byte[] bBytes = Files.readAllBytes(b);
    // a's frames followed by b's trailer: frames valid, trailer valid, but not for these frames.
    byte[] spliced = new byte[aBytes.length - LayerCache.TRAILER_SIZE + LayerCache.TRAILER_SIZE];
    System.arraycopy(aBytes, 0, spliced, 0, aBytes.length - LayerCache.TRAILER_SIZE);
    System.arraycopy(bBytes, bBytes.length - LayerCache.TRAILER_SIZE, spliced, aBytes.length - LayerCache.TRAILER_SIZE,
        LayerCache.TRAILER_SIZE);
    Files.write(a, spliced);

    WorkTally tally = new WorkTally();
    assertThat(LayerCacheIdentity.tar(LayerCache.attach(cache, layers, tally))).isEqualTo(reference);
    assertThat(tally.layerCacheMisses()).as("%s", tally).isGreaterThanOrEqualTo(1);
    assertThat(Files.readAllBytes(a)).as("rebuilt").isEqualTo(aBytes);
  }

  @Test
  void failedDecoding_leavesNoEntryAndNoTemporary() throws Exception {
    byte[] blob = LayerBuilder.layer().file("a", text(3, 400_000), 0644).blob(Compression.GZIP);
    byte[] cut = java.util.Arrays.copyOf(blob, blob.length - 20);
    Descriptor d = new Descriptor(Compression.GZIP.mediaType(), dev.ocirender.image.Digest.sha256Of(blob), blob.length);
    LayerBlob layer = new LayerBlob(0, d, null, () -> new ByteArrayInputStream(cut));
    LayerCache cache = LayerCache.open(tmp.resolve("cache"), 1L << 30);
    assertThatThrownBy(() -> LayerCacheIdentity.tar(LayerCache.attach(cache, List.of(layer), new WorkTally())))
        .isInstanceOf(IOException.class);
    assertThat(cache.entryFor(layer)).doesNotExist();
    try (Stream<Path> files = Files.list(cache.root().resolve(LayerCache.LAYERS))) {
      assertThat(files).as("nothing left in the cache").isEmpty();
    }
  }

  @Test
  void sameBlobUnderAMediaTypeItContradicts_stillFails_despiteACachedDecoding() throws Exception {
    byte[] blob = LayerBuilder.layer().file("a", "x", 0644).blob(Compression.GZIP);
    dev.ocirender.image.Digest digest = dev.ocirender.image.Digest.sha256Of(blob);
    LayerBlob asGzip = new LayerBlob(0, new Descriptor(Compression.GZIP.mediaType(), digest, blob.length), null,
        () -> new ByteArrayInputStream(blob));
    LayerBlob asZstd = new LayerBlob(0, new Descriptor(Compression.ZSTD.mediaType(), digest, blob.length), null,
        () -> new ByteArrayInputStream(blob));
    LayerCache cache = LayerCache.open(tmp.resolve("cache"), 1L << 30);
    LayerCacheIdentity.tar(LayerCache.attach(cache, List.of(asGzip), new WorkTally()));
    assertThat(cache.entryFor(asGzip)).isRegularFile();
    assertThat(cache.entryFor(asZstd)).isNotEqualTo(cache.entryFor(asGzip));
    assertThatThrownBy(() -> LayerCacheIdentity.tar(LayerCache.attach(cache, List.of(asZstd), new WorkTally())))
        .isInstanceOf(IOException.class).hasMessageContaining("declares zstd data, but the blob's first bytes are those of gzip");
  }

  @Test
  void concurrentRendersOfTheSameUncachedLayers_allIdentical_oneValidEntryEach() throws Exception {
    ImageBuilder.Layout layout = image(4).writeLayout(tmp.resolve("img"));
    String spec = "oci:" + layout.dir() + ":" + layout.tag();
    Path reference = tmp.resolve("reference.tar");
    try (ImageSource source = ImageSources.open(spec)) {
      new Renderer(RenderListener.NONE, 1).renderToFile(source, Platform.LINUX_AMD64, OutputFormat.TAR, reference);
    }
    LayerCache cache = LayerCache.open(tmp.resolve("cache"), 1L << 30);
    int renders = 4;
    CyclicBarrier start = new CyclicBarrier(renders);
    ExecutorService pool = Executors.newFixedThreadPool(renders);
    try {
      List<Future<RenderResult>> results = new ArrayList<>();
      for (int i = 0; i < renders; i++) {
        Path out = tmp.resolve("out-" + i + (i % 2 == 0 ? ".tar" : ".sqfs"));
        OutputFormat format = i % 2 == 0 ? OutputFormat.TAR : OutputFormat.SQUASHFS;
        int threads = 1 + i % 2;
        results.add(pool.submit((Callable<RenderResult>) () -> {
          start.await();
          try (ImageSource source = ImageSources.open(spec)) {
            return new Renderer(RenderListener.NONE, threads).withLayerCache(cache)
                .renderToFile(source, Platform.LINUX_AMD64, format, out);
          }
        }));
      }
      for (Future<RenderResult> r : results) {
        r.get();
      }
    } finally {
      pool.shutdownNow();
    }
    assertThat(Files.readAllBytes(tmp.resolve("out-0.tar"))).isEqualTo(Files.readAllBytes(reference));
    assertThat(Files.readAllBytes(tmp.resolve("out-2.tar"))).isEqualTo(Files.readAllBytes(reference));
    assertThat(Files.readAllBytes(tmp.resolve("out-3.sqfs"))).isEqualTo(Files.readAllBytes(tmp.resolve("out-1.sqfs")));

    // Whoever won each rename left a whole, valid entry: a warm render decodes nothing.
    try (Stream<Path> files = Files.list(cache.root().resolve(LayerCache.LAYERS))) {
      assertThat(files.map(p -> p.getFileName().toString()))
          .noneMatch(n -> TemporaryFiles.OUTPUT_TEMPORARY.matcher(n).matches()).hasSize(3);
    }
    Path warm = tmp.resolve("warm.tar");
    RenderResult result;
    try (ImageSource source = ImageSources.open(spec)) {
      result = new Renderer(RenderListener.NONE, 2).withLayerCache(cache)
          .renderToFile(source, Platform.LINUX_AMD64, OutputFormat.TAR, warm);
    }
    assertThat(Files.readAllBytes(warm)).isEqualTo(Files.readAllBytes(reference));
    assertThat(result.work().bytesDecoded()).as("%s", result.work()).isZero();
    assertThat(result.work().layerCacheHits()).as("%s", result.work()).isGreaterThanOrEqualTo(3);
    assertThat(result.bytesRead()).as("no blob read on a warm render").isZero();
  }

  /** Two images on the same base (same blob), with different tops. */
  private static List<List<LayerBlob>> twoImagesOnOneBase() {
    LayerBuilder base = layer().dir("usr", 0755).file("usr/big", text(20, 1_500_000), 0644).file("usr/gone", "x", 0644);
    List<List<LayerBlob>> images = new ArrayList<>();
    for (int i = 0; i < 2; i++) {
      images.add(ImageBuilder.of(base, layer().whiteout("usr/gone").file("top-" + i, text(21 + i, 40_000), 0644)).inMemoryBlobs());
    }
    assertThat(images.get(0).get(0).descriptor()).isEqualTo(images.get(1).get(0).descriptor());
    return images;
  }

  /** {@code layer} whose blob, each time it is opened, counts the opening and first waits for {@code gate}. */
  private static LayerBlob gated(LayerBlob layer, java.util.concurrent.atomic.AtomicInteger opens,
      java.util.concurrent.CountDownLatch gate) {
    return new LayerBlob(layer.index(), layer.descriptor(), layer.verifyUncompressed(), () -> {
      opens.incrementAndGet();
      try {
        gate.await();
      } catch (InterruptedException e) {
        throw new java.io.InterruptedIOException();
      }
      return layer.openRaw();
    });
  }

  /** Waits until {@code cache} has {@code n} renders waiting for another's decoding. */
  private static void awaitWaiters(LayerCache cache, int n) throws InterruptedException {
    long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(60);
    while (cache.waitingForDecodings() < n) {
      assertThat(System.nanoTime()).as("a render waiting for the other's decoding").isLessThan(deadline);
      Thread.sleep(5);
    }
  }

  @Test
  void twoRendersMissingTheSameLayerAtOnce_decodeItOnce_outputsIdentical() throws Exception {
    List<List<LayerBlob>> images = twoImagesOnOneBase();
    List<byte[]> references = new ArrayList<>();
    for (List<LayerBlob> layers : images) {
      references.add(LayerCacheIdentity.tar(LayerCache.attach(null, layers, new WorkTally())));
    }
    LayerCache cache = LayerCache.open(tmp.resolve("cache"), 1L << 30);
    java.util.concurrent.atomic.AtomicInteger baseOpens = new java.util.concurrent.atomic.AtomicInteger();
    java.util.concurrent.CountDownLatch gate = new java.util.concurrent.CountDownLatch(1);
    List<WorkTally> tallies = List.of(new WorkTally(), new WorkTally());
    ExecutorService pool = Executors.newFixedThreadPool(2);
    try {
      List<Future<byte[]>> outputs = new ArrayList<>();
      for (int i = 0; i < 2; i++) {
        List<LayerBlob> layers = new ArrayList<>(images.get(i));
        layers.set(0, gated(layers.get(0), baseOpens, gate));
        WorkTally tally = tallies.get(i);
        outputs.add(pool.submit(() -> LayerCacheIdentity.tar(LayerCache.attach(cache, layers, tally))));
        if (i == 0) {
          // The first render has claimed the base and is held opening its blob: the second must wait for it.
          while (baseOpens.get() == 0) {
            Thread.sleep(5);
          }
        }
      }
      awaitWaiters(cache, 1);
      assertThat(baseOpens).as("the base blob, while the second render waits").hasValue(1);
      gate.countDown();
      for (int i = 0; i < 2; i++) {
        assertThat(outputs.get(i).get()).as("image %d", i).isEqualTo(references.get(i));
      }
    } finally {
      gate.countDown();
      pool.shutdownNow();
    }
    assertThat(baseOpens).as("the base blob was decoded once").hasValue(1);
    long misses = tallies.get(0).layerCacheMisses() + tallies.get(1).layerCacheMisses();
    long hits = tallies.get(0).layerCacheHits() + tallies.get(1).layerCacheHits();
    assertThat(misses).as("%s", tallies).isEqualTo(3); // the base once, each top once
    assertThat(hits).as("%s", tallies).isEqualTo(1); // the waiting render read the base from the cache
    assertThat(cache.waitingForDecodings()).isZero();
  }

  /**
   * The second render of a layer that another is decoding reads the copy right behind the writer:
   * bytes of the layer reach it while the writer is still held in the middle of the blob, so it
   * does not idle until the whole layer is in place. The blob is opened once; both outputs are those
   * of the renders without a cache.
   */
  @Test
  void aRenderMissingALayerAnotherIsDecoding_readsItsCopyBehindTheWriter_beforeTheWriterEnds() throws Exception {
    followBehindTheWriter(false);
  }

  /**
   * The writer followed drops its copy half-way (its blob's connection breaks): the follower has
   * read the first frames, and goes on from its own decoding of the blob at the same offset; its
   * layer is the decoded base all the same, and its decoding leaves the entry.
   */
  @Test
  void theWriterFollowedFailingHalfWay_theFollowerGoesOnFromItsOwnDecoding() throws Exception {
    followBehindTheWriter(true);
  }

  private void followBehindTheWriter(boolean writerFails) throws Exception {
    // An uncompressed base, so that the part of the blob let through holds several frames' worth.
    LayerBuilder baseLayer = layer().dir("usr", 0755).file("usr/big", text(30, 1_500_000), 0644).file("usr/gone", "x", 0644);
    List<List<LayerBlob>> images = new ArrayList<>();
    for (int i = 0; i < 2; i++) {
      images.add(ImageBuilder.image().layer(baseLayer, Compression.NONE)
          .layer(layer().whiteout("usr/gone").file("top-" + i, text(31 + i, 40_000), 0644)).inMemoryBlobs());
    }
    List<byte[]> references = new ArrayList<>();
    for (List<LayerBlob> layers : images) {
      references.add(LayerCacheIdentity.tar(LayerCache.attach(null, layers, new WorkTally())));
    }
    byte[] baseDecoded;
    try (java.io.InputStream in = LayerCache.attach(null, images.get(1).subList(0, 1), new WorkTally()).get(0).openTar()) {
      baseDecoded = in.readAllBytes();
    }
    LayerCache cache = LayerCache.open(tmp.resolve("cache"), 1L << 30);
    LayerBlob base = images.get(0).get(0);
    byte[] blob = base.openRaw().readAllBytes();
    java.util.concurrent.CountDownLatch gate = new java.util.concurrent.CountDownLatch(1);
    java.util.concurrent.atomic.AtomicInteger opens = new java.util.concurrent.atomic.AtomicInteger();
    // The writer's blob: its first 60% at once, the rest only after the gate.
    LayerBlob heldInTheMiddle = new LayerBlob(0, base.descriptor(), base.verifyUncompressed(), () -> {
      opens.incrementAndGet();
      int half = blob.length * 6 / 10;
      return new java.io.SequenceInputStream(new ByteArrayInputStream(blob, 0, half), new java.io.InputStream() {
        private java.io.InputStream rest;

        @Override
        public int read() throws IOException {
          byte[] one = new byte[1];
          return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
          if (rest == null) {
            try {
              gate.await();
            } catch (InterruptedException e) {
              throw new java.io.InterruptedIOException();
            }
            if (writerFails) {
              throw new IOException("connection reset while reading the blob");
            }
            rest = new ByteArrayInputStream(blob, half, blob.length - half);
          }
          return rest.read(b, off, len);
        }
      });
    });
    List<LayerBlob> first = new ArrayList<>(images.get(0));
    first.set(0, heldInTheMiddle);
    WorkTally firstTally = new WorkTally();
    WorkTally secondTally = new WorkTally();
    int prefix = 300_000;
    ExecutorService pool = Executors.newFixedThreadPool(2);
    try {
      Future<byte[]> firstOutput = pool.submit(() -> LayerCacheIdentity.tar(LayerCache.attach(cache, first, firstTally)));
      while (opens.get() == 0) {
        Thread.sleep(5);
      }
      List<LayerBlob> second = LayerCache.attach(cache, images.get(1), secondTally);
      java.io.InputStream following = pool.submit(() -> second.get(0).openTar()).get(60, java.util.concurrent.TimeUnit.SECONDS);
      byte[] head = pool.submit(() -> following.readNBytes(prefix)).get(60, java.util.concurrent.TimeUnit.SECONDS);
      assertThat(head).as("the first bytes, read while the writer is held").isEqualTo(java.util.Arrays.copyOf(baseDecoded, prefix));
      assertThat(firstOutput).as("the writer is still held").isNotDone();
      gate.countDown();
      byte[] rest = following.readAllBytes();
      following.close();
      byte[] all = java.util.Arrays.copyOf(head, head.length + rest.length);
      System.arraycopy(rest, 0, all, head.length, rest.length);
      assertThat(all).as("the whole decoded base, read behind the writer").isEqualTo(baseDecoded);
      if (writerFails) {
        assertThatThrownBy(firstOutput::get).hasStackTraceContaining("connection reset");
      } else {
        assertThat(firstOutput.get()).isEqualTo(references.get(0));
      }
    } finally {
      gate.countDown();
      pool.shutdownNow();
    }
    assertThat(opens).as("the writer's base blob was opened once").hasValue(1);
    assertThat(secondTally.layerCacheHits()).as("%s", secondTally).isEqualTo(1);
    if (writerFails) {
      // Frames up to the break came from the copy, the rest (after skipping them) from its own decoding.
      assertThat(secondTally.bytesReused()).as("%s", secondTally).isGreaterThanOrEqualTo(prefix).isLessThan(baseDecoded.length);
      assertThat(secondTally.bytesDecoded()).as("%s", secondTally).isEqualTo(baseDecoded.length);
      assertThat(secondTally.layerCacheMisses()).as("%s", secondTally).isEqualTo(1);
    } else {
      assertThat(secondTally.bytesDecoded()).as("%s", secondTally).isZero();
      assertThat(secondTally.bytesReused()).isEqualTo(baseDecoded.length);
    }
    WorkTally warm = new WorkTally();
    assertThat(LayerCacheIdentity.tar(LayerCache.attach(cache, images.get(1), warm))).isEqualTo(references.get(1));
    assertThat(warm.layerCacheHits()).as("the writer's entry is in place: %s", warm).isGreaterThanOrEqualTo(1);
  }

  /**
   * A blob that fails to open (a registry error) after its miss claimed the layer's decoding: the
   * claim is let go at once, so another render may claim it now instead of waiting for the stall time.
   */
  @Test
  void aBlobFailingToOpen_releasesItsClaimAtOnce() throws Exception {
    List<List<LayerBlob>> images = twoImagesOnOneBase();
    LayerCache cache = LayerCache.open(tmp.resolve("cache"), 1L << 30);
    LayerBlob good = images.get(0).get(0);
    LayerBlob unreachable = new LayerBlob(0, good.descriptor(), null, () -> {
      throw new IOException("registry answered 500");
    });
    List<LayerBlob> first = new ArrayList<>(images.get(0));
    first.set(0, unreachable);
    assertThatThrownBy(() -> LayerCacheIdentity.tar(LayerCache.attach(cache, first, new WorkTally())))
        .hasStackTraceContaining("registry answered 500");
    ExecutorService other = Executors.newSingleThreadExecutor();
    try {
      assertThat(other.submit(() -> cache.tryClaim(cache.entryFor(good))).get())
          .as("the failed render still holds the base layer's claim").isNotNull();
    } finally {
      other.shutdownNow();
    }
  }

  @Test
  void theFirstRenderFailing_theWaitingRenderDecodesTheLayerItself() throws Exception {
    List<List<LayerBlob>> images = twoImagesOnOneBase();
    byte[] reference = LayerCacheIdentity.tar(LayerCache.attach(null, images.get(1), new WorkTally()));
    LayerCache cache = LayerCache.open(tmp.resolve("cache"), 1L << 30);
    java.util.concurrent.CountDownLatch gate = new java.util.concurrent.CountDownLatch(1);
    java.util.concurrent.atomic.AtomicInteger opens = new java.util.concurrent.atomic.AtomicInteger();
    LayerBlob good = images.get(0).get(0);
    // The first render's base blob is cut short after the gate: its decoding fails, no entry.
    LayerBlob failing = new LayerBlob(0, good.descriptor(), null, () -> {
      opens.incrementAndGet();
      try {
        gate.await();
      } catch (InterruptedException e) {
        throw new java.io.InterruptedIOException();
      }
      byte[] blob = good.openRaw().readAllBytes();
      return new ByteArrayInputStream(java.util.Arrays.copyOf(blob, blob.length / 2));
    });
    List<LayerBlob> first = new ArrayList<>(images.get(0));
    first.set(0, failing);
    ExecutorService pool = Executors.newFixedThreadPool(2);
    try {
      Future<byte[]> failed = pool.submit(() -> LayerCacheIdentity.tar(LayerCache.attach(cache, first, new WorkTally())));
      while (opens.get() == 0) {
        Thread.sleep(5);
      }
      WorkTally second = new WorkTally();
      Future<byte[]> output = pool.submit(() -> LayerCacheIdentity.tar(LayerCache.attach(cache, images.get(1), second)));
      awaitWaiters(cache, 1);
      gate.countDown();
      assertThatThrownBy(failed::get).hasCauseInstanceOf(IOException.class);
      assertThat(output.get()).isEqualTo(reference);
      assertThat(second.layerCacheMisses()).as("%s", second).isEqualTo(2);
      assertThat(second.bytesDecoded()).as("%s", second).isGreaterThan(1_500_000L);
    } finally {
      gate.countDown();
      pool.shutdownNow();
    }
    WorkTally warm = new WorkTally();
    assertThat(LayerCacheIdentity.tar(LayerCache.attach(cache, images.get(1), warm))).isEqualTo(reference);
    assertThat(warm.bytesDecoded()).as("the second render left the base's entry: %s", warm).isZero();
  }

  @Test
  void aDecodingThatMakesNoProgress_theWaiterGivesUpAndDecodesItself() throws Exception {
    List<List<LayerBlob>> images = twoImagesOnOneBase();
    byte[] reference = LayerCacheIdentity.tar(LayerCache.attach(null, images.get(1), new WorkTally()));
    LayerCache cache = LayerCache.open(tmp.resolve("cache"), 1L << 30);
    cache.stallAfter(java.time.Duration.ofMillis(300));
    java.util.concurrent.CountDownLatch gate = new java.util.concurrent.CountDownLatch(1);
    java.util.concurrent.atomic.AtomicInteger opens = new java.util.concurrent.atomic.AtomicInteger();
    List<LayerBlob> stuck = new ArrayList<>(images.get(0));
    stuck.set(0, gated(stuck.get(0), opens, gate)); // held until the end of the test
    ExecutorService pool = Executors.newFixedThreadPool(2);
    try {
      pool.submit(() -> LayerCacheIdentity.tar(LayerCache.attach(cache, stuck, new WorkTally())));
      while (opens.get() == 0) {
        Thread.sleep(5);
      }
      WorkTally second = new WorkTally();
      assertThat(pool.submit(() -> LayerCacheIdentity.tar(LayerCache.attach(cache, images.get(1), second))).get(60,
          java.util.concurrent.TimeUnit.SECONDS)).isEqualTo(reference);
      assertThat(second.bytesDecoded()).as("decoded the base itself: %s", second).isGreaterThan(1_500_000L);
      assertThat(cache.entryFor(images.get(1).get(0))).as("and cached it").isRegularFile();
    } finally {
      gate.countDown();
      pool.shutdownNow();
    }
  }

  @Test
  void eviction_dropsLeastRecentlyUsedFilesOfBothSubtrees_downToTheLimit() throws Exception {
    LayerCache cache = LayerCache.open(tmp.resolve("cache"), 1L << 30);
    List<LayerBlob> layers = image(5).inMemoryBlobs();
    LayerCacheIdentity.tar(LayerCache.attach(cache, layers, new WorkTally()));
    Path blocks = Files.createDirectories(cache.root().resolve(LayerCache.BLOCKS).resolve("zstd-3-131072"));
    Path oldBlock = Files.write(blocks.resolve("old.blocks"), new byte[50_000]);
    Path newBlock = Files.write(blocks.resolve("new.blocks"), new byte[50_000]);
    long now = System.currentTimeMillis();
    Files.setLastModifiedTime(oldBlock, FileTime.fromMillis(now - 50_000));
    Files.setLastModifiedTime(cache.entryFor(layers.get(0)), FileTime.fromMillis(now - 40_000));
    Files.setLastModifiedTime(cache.entryFor(layers.get(1)), FileTime.fromMillis(now - 30_000));
    Files.setLastModifiedTime(cache.entryFor(layers.get(2)), FileTime.fromMillis(now - 20_000));
    Files.setLastModifiedTime(newBlock, FileTime.fromMillis(now - 10_000));
    long top = Files.size(cache.entryFor(layers.get(2)));
    long middle = Files.size(cache.entryFor(layers.get(1)));
    // Eviction goes down to nine tenths of the limit: this one leaves exactly the three newest files.
    long limit = (top + middle + 50_000) * 10 / 9 + 100;

    long left = LayerCache.open(cache.root(), limit).sizeOnDisk();
    assertThat(left).isLessThanOrEqualTo(limit);
    assertThat(oldBlock).doesNotExist();
    assertThat(cache.entryFor(layers.get(0))).doesNotExist();
    assertThat(newBlock).exists();
    assertThat(cache.entryFor(layers.get(1))).exists();
    assertThat(cache.entryFor(layers.get(2))).exists();

    // A hit makes an entry the most recently used.
    WorkTally tally = new WorkTally();
    LayerCacheIdentity.tar(LayerCache.attach(cache, layers.subList(2, 3), tally));
    assertThat(tally.layerCacheHits()).isEqualTo(1);
    assertThat(Files.getLastModifiedTime(cache.entryFor(layers.get(2))).toMillis()).isGreaterThanOrEqualTo(now - 1000);
  }

  @Test
  void rendersUnderASmallLimit_stayIdentical_andTheCacheStaysWithinIt() throws Exception {
    int images = 4;
    List<List<LayerBlob>> stacks = new ArrayList<>();
    List<byte[]> references = new ArrayList<>();
    long largest = 0;
    LayerCache probe = LayerCache.open(tmp.resolve("probe"), 1L << 30);
    for (int i = 0; i < images; i++) {
      List<LayerBlob> layers = image(10 + i).inMemoryBlobs();
      stacks.add(layers);
      references.add(LayerCacheIdentity.tar(LayerCache.attach(probe, layers, new WorkTally())));
      for (LayerBlob l : layers) {
        largest = Math.max(largest, Files.size(probe.entryFor(l)));
      }
    }
    // Room for about two images' layers: every round evicts while other renders read.
    long limit = 2 * largest + 200_000;
    LayerCache cache = LayerCache.open(tmp.resolve("cache"), limit);
    int threads = 3;
    int rounds = 4;
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      List<Future<?>> futures = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        int first = t;
        futures.add(pool.submit((Callable<Void>) () -> {
          for (int r = 0; r < rounds; r++) {
            int i = (first + r) % images;
            assertThat(LayerCacheIdentity.tar(LayerCache.attach(cache, stacks.get(i), new WorkTally())))
                .as("image %d, round %d", i, r).isEqualTo(references.get(i));
          }
          return null;
        }));
      }
      for (Future<?> f : futures) {
        f.get();
      }
    } finally {
      pool.shutdownNow();
    }
    assertThat(cache.sizeOnDisk()).isLessThanOrEqualTo(limit);
    assertThat(cache.evict()).isLessThanOrEqualTo(limit);
  }
}
