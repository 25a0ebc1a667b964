package dev.ocirender.squashfs.writer;

import static dev.ocirender.testing.LayerBuilder.layer;
import static org.assertj.core.api.Assertions.assertThat;

import dev.ocirender.layer.EntryHeader;
import dev.ocirender.layer.EntryPath;
import dev.ocirender.layer.EntryType;
import dev.ocirender.merge.MergeListener;
import dev.ocirender.merge.OverlayMerge;
import dev.ocirender.output.tar.TarEntrySink;
import dev.ocirender.testing.ExternalTools;
import dev.ocirender.testing.FsSnapshot;
import dev.ocirender.testing.ImageBuilder;
import dev.ocirender.testing.OverlayModel;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.OptionalLong;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Round trips through real readers beyond the merge scenarios: every compressor and several block
 * sizes, with and without fragments; a file past 4 GiB; a directory of 100 000 entries; byte-exact
 * determinism; and a cross-check of our listing against mksquashfs's for the same tree.
 */
class SquashfsRoundTripTest {

  @TempDir Path tmp;

  @BeforeEach
  void tools() {
    SquashfsTools.assumeTools();
  }

  /** Incompressible, compressible, sparse, duplicate, tail-only and empty files, plus metadata. */
  static ImageBuilder mixedImage() {
    SplittableRandom r = new SplittableRandom(1);
    byte[] random = new byte[300_000];
    r.nextBytes(random);
    StringBuilder text = new StringBuilder();
    while (text.length() < 1_100_000) {
      text.append("line ").append(text.length()).append(" of some compressible text\n");
    }
    byte[] zeros = new byte[600_000];
    byte[] zerosWithTail = Arrays.copyOf(zeros, 600_123);
    zerosWithTail[600_100] = 7;
    byte[] cap = {0x01, 0x00, 0x00, 0x02, (byte) 0xc0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    return ImageBuilder.of(
        layer().dir("data", 0750, 1000, 1000, 1_700_000_000)
            .file("data/random.bin", random, 0644, 1000, 1000, 1_700_000_001)
            .file("data/text.txt", text.toString().getBytes(StandardCharsets.UTF_8), 0644, 0, 0, 1_700_000_002)
            .file("data/copy.txt", text.toString().getBytes(StandardCharsets.UTF_8), 0600, 5, 6, 1_700_000_003)
            .file("data/zeros", zeros, 0644, 0, 0, 1_700_000_004)
            .file("data/zeros-tail", zerosWithTail, 0644, 0, 0, 1_700_000_005)
            .file("data/small", "small", 0644).file("data/small-copy", "small", 0644)
            .file("data/empty", "", 0644)
            .file("usr/bin/ping", "ping", 0755).xattr("security.capability", cap)
            .hardlink("usr/bin/ping6", "usr/bin/ping")
            .symlink("usr/lib64", "lib").charDevice("dev/tty", 5, 0).blockDevice("dev/big", 259, 70000)
            .fifo("run/pipe", 0644));
  }

  static Stream<Arguments> configurations() {
    List<Arguments> out = new ArrayList<>();
    for (SquashfsCompression c : SquashfsCompression.values()) {
      for (int bs : new int[] {4096, 131072, 1 << 20}) {
        out.add(Arguments.of(c, c.defaultLevel(), bs, true));
      }
    }
    out.add(Arguments.of(SquashfsCompression.ZSTD, 19, 65536, false));
    out.add(Arguments.of(SquashfsCompression.GZIP, 1, 8192, false));
    out.add(Arguments.of(SquashfsCompression.LZ4, 1, 131072, true));
    return out.stream();
  }

  @ParameterizedTest(name = "{0} level {1}, block {2}, fragments {3}")
  @MethodSource("configurations")
  void everyCompressorAndBlockSize_roundTrips(SquashfsCompression c, int level, int blockSize, boolean fragments) throws IOException {
    ImageBuilder image = mixedImage();
    SquashfsOptions options = SquashfsOptions.defaults().withCompression(c, level).withBlockSize(blockSize).withFragments(fragments);
    Path sqfs = SquashfsTools.render(image, tmp.resolve("m.sqfs"), options);
    FsSnapshot expected = OverlayModel.apply(image.logicalLayers()).snapshot();
    expected.assertMatches(SquashfsTools.extract(sqfs, tmp), SquashfsEntrySinkTest.squashfsCompare());
    expected.assertMatches(SquashfsTools.ngRead(sqfs, tmp), SquashfsEntrySinkTest.squashfsCompare());
  }

  @Test
  void sameEntries_giveByteIdenticalImages_whateverTheThreadCount() throws IOException {
    ImageBuilder image = mixedImage();
    Path a = SquashfsTools.render(image, tmp.resolve("a.sqfs"), SquashfsOptions.defaults().withThreads(1).withMkfsTime(OptionalLong.empty()));
    Path b = SquashfsTools.render(image, tmp.resolve("b.sqfs"), SquashfsOptions.defaults().withThreads(5).withMkfsTime(OptionalLong.empty()));
    assertThat(Files.readAllBytes(a)).isEqualTo(Files.readAllBytes(b));
    // mkfs time is the newest mtime
    assertThat(SquashfsTools.listing(a)).isNotEmpty();
  }

  @Test
  void writingBackAsItGoes_givesTheSameImage_andItReadsBack() throws IOException {
    ImageBuilder image = mixedImage();
    // 4 KiB blocks: the data area passes the staging buffer's 1 MiB, so write-backs run mid-image.
    SquashfsOptions options = SquashfsOptions.defaults().withBlockSize(4096).withMkfsTime(OptionalLong.empty());
    Path plain = SquashfsTools.render(image, tmp.resolve("plain.sqfs"), options);
    Path writtenBack = tmp.resolve("written-back.sqfs");
    OverlayMerge.run(image.inMemoryBlobs(), () -> SquashfsEntrySink.create(writtenBack, options).writingBackEvery(1),
        MergeListener.NONE);
    assertThat(Files.readAllBytes(writtenBack)).isEqualTo(Files.readAllBytes(plain));
    FsSnapshot expected = OverlayModel.apply(image.logicalLayers()).snapshot();
    expected.assertMatches(SquashfsTools.extract(writtenBack, tmp), SquashfsEntrySinkTest.squashfsCompare());
    expected.assertMatches(SquashfsTools.ngRead(writtenBack, tmp), SquashfsEntrySinkTest.squashfsCompare());
  }

  /** Zeros, as many as asked for, without holding them. */
  private static InputStream zeros(long n) {
    return new InputStream() {
      long left = n;

      @Override
      public int read() {
        return left-- > 0 ? 0 : -1;
      }

      @Override
      public int read(byte[] b, int off, int len) {
        if (left <= 0) {
          return -1;
        }
        int k = (int) Math.min(len, left);
        Arrays.fill(b, off, off + k, (byte) 0);
        left -= k;
        return k;
      }
    };
  }

  private static EntryHeader.Builder entry(EntryType type, String path) {
    return EntryHeader.builder(type, EntryPath.of(path)).mode(type == EntryType.DIRECTORY ? 0755 : 0644).mtime(1_600_000_000, 0);
  }

  @Test
  void fileOver4GiB_roundTripsWithSizeAndContent() throws Exception {
    long size = (4L << 30) + 12345;
    Path sqfs = tmp.resolve("big.sqfs");
    try (SquashfsEntrySink sink = SquashfsEntrySink.create(sqfs, SquashfsOptions.defaults())) {
      sink.accept(entry(EntryType.FILE, "big").size(size).build(), zeros(size));
      sink.accept(entry(EntryType.DIRECTORY, "").build(), null);
      sink.finish();
    }
    assertThat(Files.size(sqfs)).as("sparse blocks cost nothing").isLessThan(1 << 20);
    FsSnapshot.Digested expected = FsSnapshot.digest(zeros(size));
    FsSnapshot got = SquashfsTools.extract(sqfs, tmp);
    assertThat(got.node("big").size()).isEqualTo(size);
    assertThat(got.node("big").sha256()).isEqualTo(expected.sha256());
  }

  @Test
  void directoryWith100000Entries_roundTrips() throws IOException {
    int n = 100_000;
    Path sqfs = tmp.resolve("wide.sqfs");
    try (SquashfsEntrySink sink = SquashfsEntrySink.create(sqfs, SquashfsOptions.defaults())) {
      for (int i = 0; i < n; i++) {
        byte[] content = ("file " + i + "\n").getBytes(StandardCharsets.UTF_8);
        sink.accept(entry(EntryType.FILE, "wide/f" + i).size(content.length).build(), new ByteArrayInputStream(content));
      }
      sink.accept(entry(EntryType.DIRECTORY, "wide").build(), null);
      sink.accept(entry(EntryType.DIRECTORY, "").build(), null);
      sink.finish();
    }
    FsSnapshot got = SquashfsTools.extract(sqfs, tmp);
    assertThat(got.paths()).hasSize(n + 2);
    assertThat(got.node("wide/f99999").hasContent("file 99999\n")).isTrue();
    assertThat(got.node("wide/f0").hasContent("file 0\n")).isTrue();
    // Path lookups go through the directory index in squashfs-tools-ng.
    for (String name : List.of("f0", "f1", "f50000", "f77777", "f99999", "f9")) {
      String cat = new String(ExternalTools.run(tmp, List.of("rdsquashfs", "-c", "/wide/" + name, sqfs.toString())), StandardCharsets.UTF_8);
      assertThat(cat).isEqualTo("file " + name.substring(1) + "\n");
    }
    ExternalTools.bash(tmp, "sqfs2tar '" + sqfs + "' | tar -t | wc -l > count");
    assertThat(Files.readString(tmp.resolve("count")).strip()).isEqualTo(Integer.toString(n + 1));
  }

  @Test
  void mksquashfsOfTheSameTree_listsIdentically() throws IOException {
    ExternalTools.assumeTools("mksquashfs", "tar");
    ImageBuilder image = mixedImage();
    Path tar = tmp.resolve("tree.tar");
    try (OutputStream out = Files.newOutputStream(tar)) {
      OverlayMerge.run(image.inMemoryBlobs(), () -> new TarEntrySink(out), MergeListener.NONE);
    }
    Path tree = Files.createDirectories(tmp.resolve("tree"));
    ExternalTools.run(tmp, List.of("tar", "--xattrs", "--xattrs-include=*", "--same-owner", "--numeric-owner", "-xpf", tar.toString(), "-C", tree.toString()));
    // GNU tar does not restore the mtime of a directory that a later hard-link entry writes into
    // (the merged tar sends directories before hard links); give the tree the image's times.
    for (var e : OverlayModel.apply(image.logicalLayers()).snapshot().nodes().entrySet()) {
      if (e.getValue().type() == EntryType.DIRECTORY) {
        Files.setLastModifiedTime(tree.resolve(e.getKey().toString()),
            java.nio.file.attribute.FileTime.fromMillis(e.getValue().mtimeSeconds() * 1000));
      }
    }
    Path theirs = tmp.resolve("theirs.sqfs");
    ExternalTools.run(tmp, List.of("mksquashfs", tree.toString(), theirs.toString(), "-quiet", "-no-progress", "-comp", "zstd"));
    Path ours = SquashfsTools.render(image, tmp.resolve("ours.sqfs"), SquashfsOptions.defaults());
    // Directory sizes depend on how a writer splits directory headers, which the format leaves free.
    assertThat(normalise(SquashfsTools.listing(ours))).isEqualTo(normalise(SquashfsTools.listing(theirs)));
  }

  private static List<String> normalise(String listing) {
    return Arrays.stream(listing.split("\n"))
        .filter(l -> l.length() > 10 && "-dlcbps".indexOf(l.charAt(0)) >= 0)
        .map(l -> l.charAt(0) == 'd' ? l.replaceFirst("^(\\S+\\s+\\S+\\s+)\\d+", "$1<dirsize>") : l)
        .toList();
  }
}
