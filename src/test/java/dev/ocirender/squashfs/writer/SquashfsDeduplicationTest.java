package dev.ocirender.squashfs.writer;

import static dev.ocirender.testing.LayerBuilder.layer;
import static org.assertj.core.api.Assertions.assertThat;

import dev.ocirender.testing.ExternalTools;
import dev.ocirender.testing.FsSnapshot;
import dev.ocirender.testing.ImageBuilder;
import dev.ocirender.testing.OverlayModel;
import dev.ocirender.image.Platform;
import dev.ocirender.source.ImageSource;
import dev.ocirender.source.ImageSources;
import dev.ocirender.verify.FsReaders;
import dev.ocirender.verify.Verifier;
import dev.ocirender.verify.VerifyOptions;
import dev.ocirender.verify.VerifyReport;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.BitSet;
import java.util.SplittableRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.CRC32;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * De-duplication: copies share storage, and content that merely has the same checksums does not.
 * Where each file's data lives (blocks start, fragment index and offset) is read with {@code
 * rdsquashfs -s} (squashfs-tools-ng), and every image is extracted with {@code unsquashfs} and
 * compared with the overlay model, so a wrong share shows up as wrong content.
 */
class SquashfsDeduplicationTest {

  private static final int BLOCK = SquashfsOptions.DEFAULT_BLOCK_SIZE;

  @TempDir Path tmp;

  @BeforeEach
  void tools() {
    SquashfsTools.assumeTools();
  }

  @Test
  void identicalFiles_shareBlocksAndTail() throws IOException {
    byte[] content = random(1, 3 * BLOCK + 777);
    Path sqfs = render(layer().file("a", content, 0644).file("dir/b", content, 0600).file("c", random(2, 3 * BLOCK + 777), 0644));

    Location a = locate(sqfs, "/a");
    Location b = locate(sqfs, "/dir/b");
    Location c = locate(sqfs, "/c");
    assertThat(b).isEqualTo(a);
    assertThat(c.blocksStart()).isNotEqualTo(a.blocksStart());
    assertThat(c.fragmentAndOffset()).isNotEqualTo(a.fragmentAndOffset());
  }

  @Test
  void aRepeatedTail_isStoredOnce_evenUnderDifferentBlocks() throws IOException {
    byte[] tail = random(3, 1000);
    byte[] x = concat(random(4, BLOCK), tail);
    byte[] y = concat(random(5, BLOCK), tail);
    Path sqfs = render(layer().file("x", x, 0644).file("other", random(6, 500), 0644).file("y", y, 0644).file("z", tail, 0644));

    Location lx = locate(sqfs, "/x");
    Location ly = locate(sqfs, "/y");
    Location lz = locate(sqfs, "/z");
    assertThat(ly.blocksStart()).isNotEqualTo(lx.blocksStart());
    assertThat(ly.fragmentAndOffset()).isEqualTo(lx.fragmentAndOffset());
    assertThat(lz.fragmentAndOffset()).isEqualTo(lx.fragmentAndOffset());
  }

  @Test
  void tailsWithEqualChecksums_butOtherBytes_areKeptApart_whereverTheFirstCopyIs() throws IOException {
    byte[] a = letters(7, 1000);
    byte[] d = letters(10, 2000);
    Path sqfs = render(layer()
        .file("a", a, 0644)
        .file("fill", letters(8, BLOCK - 500), 0644) // closes a's fragment block
        .file("big", random(9, 40 * BLOCK), 0644) // more blocks than are ever in flight: a's is written
        .file("b", collide(a), 0644).file("a2", a.clone(), 0644) // compared with a, read back
        .file("d", d, 0644).file("e", collide(d), 0644).file("d2", d.clone(), 0644)); // d is in the open block

    Location la = locate(sqfs, "/a");
    Location ld = locate(sqfs, "/d");
    assertThat(locate(sqfs, "/b").fragmentAndOffset()).isNotEqualTo(la.fragmentAndOffset());
    assertThat(locate(sqfs, "/a2").fragmentAndOffset()).isEqualTo(la.fragmentAndOffset());
    assertThat(locate(sqfs, "/e").fragmentAndOffset()).isNotEqualTo(ld.fragmentAndOffset());
    assertThat(locate(sqfs, "/d2").fragmentAndOffset()).isEqualTo(ld.fragmentAndOffset());
    assertThat(ld.fragment()).isNotEqualTo(la.fragment());
  }

  @Test
  void blockRunsWithEqualChecksums_butOtherBytes_areKeptApart() throws IOException {
    byte[] a = random(10, 2 * BLOCK);
    byte[] b = collide(a);
    byte[] copy = a.clone();
    Path sqfs = render(layer().file("a", a, 0644).file("b", b, 0644).file("copy", copy, 0644).file("after", random(11, BLOCK), 0644));

    Location la = locate(sqfs, "/a");
    Location lb = locate(sqfs, "/b");
    assertThat(lb.blocksStart()).isNotEqualTo(la.blocksStart());
    assertThat(locate(sqfs, "/copy").blocksStart()).isEqualTo(la.blocksStart());
    // Random blocks are stored raw, a block each; the dropped copy's space goes to the next file.
    assertThat(locate(sqfs, "/after").blocksStart()).isEqualTo(lb.blocksStart() + 2L * BLOCK);
  }

  @Test
  void copiesOfFilesWithSparseAndRawBlocks_shareToo() throws IOException {
    byte[] mixed = concat(new byte[2 * BLOCK], random(12, BLOCK), text(BLOCK + 3));
    Path sqfs = render(layer().file("m1", mixed, 0644).file("m2", mixed, 0644));
    assertThat(locate(sqfs, "/m2")).isEqualTo(locate(sqfs, "/m1"));
  }

  @Test
  void withoutDeduplication_copiesAreStoredTwice() throws IOException {
    byte[] content = random(13, BLOCK + 10);
    ImageBuilder image = ImageBuilder.of(layer().file("a", content, 0644).file("b", content, 0644));
    Path sqfs = SquashfsTools.render(image, tmp.resolve("nodedup.sqfs"), SquashfsOptions.defaults().withDeduplicate(false));
    check(image, sqfs);
    assertThat(locate(sqfs, "/b").blocksStart()).isNotEqualTo(locate(sqfs, "/a").blocksStart());
    assertThat(locate(sqfs, "/b").fragmentAndOffset()).isNotEqualTo(locate(sqfs, "/a").fragmentAndOffset());
  }

  // ---- helpers

  private Path render(dev.ocirender.testing.LayerBuilder layer) throws IOException {
    ImageBuilder image = ImageBuilder.of(layer);
    Path sqfs = SquashfsTools.render(image, tmp.resolve("dedup.sqfs"), SquashfsOptions.defaults());
    check(image, sqfs);
    return sqfs;
  }

  /**
   * unsquashfs's extraction matches the overlay model, and our own reader (what {@code verify}
   * uses) finds the image equal to its source, shared tails and blocks included.
   */
  private void check(ImageBuilder image, Path sqfs) throws IOException {
    FsSnapshot expected = OverlayModel.apply(image.logicalLayers()).snapshot();
    expected.assertMatches(SquashfsTools.extract(sqfs, tmp), SquashfsEntrySinkTest.squashfsCompare());
    ImageBuilder.Layout layout = image.writeLayout(Files.createTempDirectory(tmp, "layout"));
    try (ImageSource source = ImageSources.open("oci:" + layout.dir() + ":" + layout.tag())) {
      VerifyReport report = Verifier.compare(FsReaders.readSquashfs(sqfs), FsReaders.readImage(source, Platform.LINUX_AMD64),
          VerifyOptions.DEFAULT);
      assertThat(report.equal()).as(report.text()).isTrue();
    }
  }

  /** Where rdsquashfs says a file's data is. */
  record Location(long blocksStart, long fragment, long fragmentOffset) {
    String fragmentAndOffset() {
      return fragment + "@" + fragmentOffset;
    }
  }

  private Location locate(Path sqfs, String path) {
    String stat = ExternalTools.output("rdsquashfs", "-s", path, sqfs.toString());
    return new Location(field(stat, "Blocks start"), field(stat, "Fragment index"), field(stat, "Fragment offset"));
  }

  private static long field(String stat, String name) {
    Matcher m = Pattern.compile("(?m)^" + Pattern.quote(name) + ": (0x[0-9A-Fa-f]+|\\d+)").matcher(stat);
    assertThat(m.find()).as("%s in rdsquashfs -s output:%n%s", name, stat).isTrue();
    String v = m.group(1);
    return v.startsWith("0x") ? Long.parseLong(v.substring(2), 16) : Long.parseLong(v);
  }

  private static byte[] random(long seed, int n) {
    byte[] b = new byte[n];
    new SplittableRandom(seed).nextBytes(b);
    return b;
  }

  /** Random lower-case letters: compressible, and different for each seed. */
  private static byte[] letters(long seed, int n) {
    SplittableRandom r = new SplittableRandom(seed);
    byte[] b = new byte[n];
    for (int i = 0; i < n; i++) {
      b[i] = (byte) ('a' + r.nextInt(26));
    }
    return b;
  }

  private static byte[] text(int n) {
    byte[] b = new byte[n];
    for (int i = 0; i < n; i++) {
      b[i] = (byte) ('a' + (i / 7) % 26);
    }
    return b;
  }

  private static byte[] concat(byte[]... parts) {
    int n = Arrays.stream(parts).mapToInt(p -> p.length).sum();
    byte[] out = new byte[n];
    int at = 0;
    for (byte[] p : parts) {
      System.arraycopy(p, 0, out, at, p.length);
      at += p.length;
    }
    return out;
  }

  /**
   * A different byte array of the same length with the same CRC32C and CRC32 as {@code a}: both
   * CRCs are affine over GF(2), so flipping any set of bits whose 64-bit CRC differences XOR to
   * zero keeps both. 96 single-bit flips among the first bytes give such a set by elimination.
   */
  static byte[] collide(byte[] a) {
    int candidates = 96;
    long base = crcs(new byte[a.length]);
    long[] rows = new long[candidates];
    BitSet[] combos = new BitSet[candidates];
    for (int i = 0; i < candidates; i++) {
      byte[] unit = new byte[a.length];
      unit[i / 8] = (byte) (1 << (i % 8));
      rows[i] = crcs(unit) ^ base;
      combos[i] = new BitSet();
      combos[i].set(i);
    }
    // Gaussian elimination: the first row reduced to zero is a non-empty set of flips with no effect.
    for (int bit = 63, pivotRow = 0; bit >= 0 && pivotRow < candidates; bit--) {
      int pivot = -1;
      for (int r = pivotRow; r < candidates; r++) {
        if ((rows[r] >>> bit & 1) != 0) {
          pivot = r;
          break;
        }
      }
      if (pivot < 0) {
        continue;
      }
      swap(rows, combos, pivot, pivotRow);
      for (int r = 0; r < candidates; r++) {
        if (r != pivotRow && (rows[r] >>> bit & 1) != 0) {
          rows[r] ^= rows[pivotRow];
          combos[r].xor(combos[pivotRow]);
        }
      }
      pivotRow++;
    }
    for (int r = 0; r < candidates; r++) {
      if (rows[r] == 0) {
        byte[] b = a.clone();
        combos[r].stream().forEach(i -> b[i / 8] ^= (byte) (1 << (i % 8)));
        assertThat(b).isNotEqualTo(a);
        assertThat(crcs(b)).isEqualTo(crcs(a));
        return b;
      }
    }
    throw new AssertionError("no collision among " + candidates + " bit flips");
  }

  private static void swap(long[] rows, BitSet[] combos, int i, int j) {
    long r = rows[i];
    rows[i] = rows[j];
    rows[j] = r;
    BitSet c = combos[i];
    combos[i] = combos[j];
    combos[j] = c;
  }

  private static long crcs(byte[] b) {
    CRC32C c = new CRC32C();
    c.update(b);
    CRC32 d = new CRC32();
    d.update(b);
    return c.getValue() << 32 | d.getValue();
  }
}
