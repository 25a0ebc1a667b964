package dev.ocirender.output.tar;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ocirender.image.Descriptor;
import dev.ocirender.image.Digest;
import dev.ocirender.layer.EntryHeader;
import dev.ocirender.layer.EntryPath;
import dev.ocirender.layer.EntryType;
import dev.ocirender.layer.LayerBlob;
import dev.ocirender.layer.LayerTarReader;
import dev.ocirender.layer.SparseContent;
import dev.ocirender.merge.MergeListener;
import dev.ocirender.merge.OverlayMerge;
import dev.ocirender.render.FileRenderTarget;
import dev.ocirender.render.OutputFormat;
import dev.ocirender.testing.ExternalTools;
import dev.ocirender.testing.SparseLayers;
import dev.ocirender.verify.FsReaders;
import dev.ocirender.verify.Verifier;
import dev.ocirender.verify.VerifyOptions;
import dev.ocirender.verify.VerifyReport;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The tar output keeps sparse files sparse (GNU sparse 1.0 PAX entries). The input layer is written
 * by GNU tar itself ({@code --sparse --format=posix}) from files made sparse with {@code truncate};
 * the output is extracted by GNU tar and by bsdtar, whose files' allocated blocks are read with
 * {@code stat}, and read back by our own reader.
 */
class TarSparseTest {

  private static final long BIG = 60L << 30; // 60 GiB: three short runs of data, the rest holes
  private static final long SMALL = 1L << 30; // small enough to hash in full

  @TempDir Path tmp;

  /** A GNU tar layer holding "big" (data at start, middle, end) and "dir/trailing" (data, then a hole to its end). */
  private LayerBlob layer(long size) throws Exception {
    byte[] layer = SparseLayers.gnuTar(tmp, size, true);
    Files.write(tmp.resolve("layer.tar"), layer); // the reference the verifier reads back
    assertThat(layer.length).as("the layer itself is small").isLessThan(64 * 1024);
    return new LayerBlob(0, new Descriptor("application/vnd.oci.image.layer.v1.tar", Digest.sha256Of(layer),
        layer.length), null, () -> new ByteArrayInputStream(layer));
  }

  private Path render(LayerBlob layer, String name) throws Exception {
    Path out = tmp.resolve(name);
    try (FileRenderTarget target = FileRenderTarget.of(out, OutputFormat.TAR)) {
      OverlayMerge.run(List.of(layer), target, MergeListener.NONE);
      target.publish();
    }
    return out;
  }

  @Test
  void sixtyGigabyteSparseFile_rendersToKilobytesAndGnuTarAndBsdtarRestoreItWithHoles() throws Exception {
    LayerBlob layer = layer(BIG);
    Path out = render(layer, "out.tar");
    assertThat(Files.size(out)).as("the tar output").isLessThan(64 * 1024);
    assertThat(Files.readAllBytes(render(layer, "again.tar"))).as("deterministic").isEqualTo(Files.readAllBytes(out));

    ExternalTools.assumeTools("tar", "bsdtar", "stat");
    Path gnu = Files.createDirectories(tmp.resolve("gnu"));
    ExternalTools.run(gnu, List.of("tar", "-xf", out.toString()));
    assertRestored(gnu);
    Path bsd = Files.createDirectories(tmp.resolve("bsd"));
    ExternalTools.run(bsd, List.of("bsdtar", "-xf", out.toString()));
    assertRestored(bsd);
    // Neither tool leaves the placeholder name behind.
    try (var files = Files.walk(gnu); var files2 = Files.walk(bsd)) {
      assertThat(files).noneMatch(p -> p.toString().contains("GNUSparseFile"));
      assertThat(files2).noneMatch(p -> p.toString().contains("GNUSparseFile"));
    }

    // Our reader: the same names, sizes and data segments as in GNU tar's layer (not hashed: 120 GB of zeros).
    assertThat(sparseEntries(Files.newInputStream(out))).isEqualTo(sparseEntries(layer.openTar()));
  }

  @Test
  void sparseOutput_readsBackEqualToTheLayer() throws Exception {
    LayerBlob layer = layer(SMALL);
    Path out = render(layer, "out.tar");
    VerifyReport report = Verifier.compare(FsReaders.readTar(out), FsReaders.readTar(tmp.resolve("layer.tar")),
        new VerifyOptions(true, true, false, List.of()));
    assertThat(report.differences()).isEmpty();
    assertThat(report.equal()).isTrue();
  }

  /**
   * A map that stops before the file's end (old GNU and PAX 0.x maps may) gets a zero-length last
   * segment at the end in the output, so GNU tar and bsdtar restore the full length.
   */
  @Test
  void mapEndingBeforeTheFileEnds_isWrittenWithItsTrailingHole() throws Exception {
    byte[] data = "start".getBytes(StandardCharsets.US_ASCII);
    Path out = tmp.resolve("trailing.tar");
    try (TarEntrySink sink = new TarEntrySink(Files.newOutputStream(out))) {
      sink.accept(EntryHeader.builder(EntryType.FILE, EntryPath.of("t")).mode(0644).size(SMALL).build(),
          new OneSegment(data, SMALL));
      sink.finish();
    }
    assertThat(Files.size(out)).isLessThan(8 * 1024);
    ExternalTools.assumeTools("tar", "bsdtar", "stat");
    for (String tool : List.of("tar", "bsdtar")) {
      Path dir = Files.createDirectories(tmp.resolve(tool));
      ExternalTools.run(dir, List.of(tool, "-xf", out.toString()));
      Path t = dir.resolve("t");
      assertThat(Files.size(t)).as(tool).isEqualTo(SMALL);
      assertThat(allocated(t)).as(tool).isLessThan(1024 * 1024);
      try (RandomAccessFile f = new RandomAccessFile(t.toFile(), "r")) {
        assertThat(read(f, 0, 5)).isEqualTo("start");
        assertThat(read(f, SMALL - 4, 4)).isEqualTo("\0\0\0\0");
      }
    }
  }

  /** A sparse content of one data segment at offset 0 and a hole to {@code realSize}, as a reader yields one. */
  private static final class OneSegment extends ByteArrayInputStream implements SparseContent {
    private final long realSize;

    OneSegment(byte[] data, long realSize) {
      super(data);
      this.realSize = realSize;
    }

    @Override
    public long realSize() {
      return realSize;
    }

    @Override
    public int segmentCount() {
      return 1;
    }

    @Override
    public long segmentOffset(int i) {
      return 0;
    }

    @Override
    public long segmentLength(int i) {
      return buf.length;
    }

    @Override
    public InputStream segmentData() {
      return this;
    }
  }

  private static void assertRestored(Path root) throws Exception {
    Path big = root.resolve("big");
    Path trailing = root.resolve("dir/trailing");
    assertThat(Files.size(big)).isEqualTo(BIG);
    assertThat(Files.size(trailing)).isEqualTo(BIG);
    assertThat(allocated(big)).as("allocated bytes of " + big).isLessThan(1024 * 1024);
    assertThat(allocated(trailing)).as("allocated bytes of " + trailing).isLessThan(1024 * 1024);
    try (RandomAccessFile f = new RandomAccessFile(big.toFile(), "r")) {
      assertThat(read(f, 0, 4)).isEqualTo("head");
      assertThat(read(f, BIG / 2, 6)).isEqualTo("middle");
      assertThat(read(f, BIG - 4, 4)).isEqualTo("tail");
      assertThat(read(f, BIG / 4, 4)).isEqualTo("\0\0\0\0");
    }
    try (RandomAccessFile f = new RandomAccessFile(trailing.toFile(), "r")) {
      assertThat(read(f, 0, 5)).isEqualTo("start");
      assertThat(read(f, BIG - 4, 4)).isEqualTo("\0\0\0\0");
    }
  }

  /** "name size [offset+length…] data-sha256" per sparse file, reading the stored segments only. */
  private static List<String> sparseEntries(InputStream tar) throws Exception {
    List<String> entries = new ArrayList<>();
    try (LayerTarReader reader = new LayerTarReader(tar)) {
      EntryHeader h;
      while ((h = reader.next()) != null) {
        if (reader.content() instanceof SparseContent s) {
          StringBuilder sb = new StringBuilder(h.path() + " " + h.size());
          for (int i = 0; i < s.segmentCount(); i++) {
            // A zero-length segment marks the end of a trailing hole; where it is written is a writer's choice.
            if (s.segmentLength(i) > 0) {
              sb.append(' ').append(s.segmentOffset(i)).append('+').append(s.segmentLength(i));
            }
          }
          sb.append(' ').append(Digest.sha256Of(s.segmentData().readAllBytes()));
          entries.add(sb.toString());
        }
      }
    }
    assertThat(entries).hasSize(2);
    return entries;
  }

  private static long allocated(Path file) {
    return 512 * Long.parseLong(new String(ExternalTools.run(file.getParent(), List.of("stat", "-c", "%b", file.toString())),
        StandardCharsets.UTF_8).strip());
  }

  private static String read(RandomAccessFile f, long at, int n) throws Exception {
    byte[] b = new byte[n];
    f.seek(at);
    f.readFully(b);
    return new String(b, StandardCharsets.ISO_8859_1);
  }
}
