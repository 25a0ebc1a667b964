package dev.ocirender.layer;

import static dev.ocirender.layer.TarBuilder.concat;
import static dev.ocirender.layer.TarBuilder.record;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import dev.ocirender.image.Platform;
import dev.ocirender.render.OutputFormat;
import dev.ocirender.testing.ExternalTools;
import dev.ocirender.verify.FsModel;
import dev.ocirender.verify.FsReaders;
import dev.ocirender.verify.Verifier;
import dev.ocirender.verify.VerifyOptions;
import dev.ocirender.verify.VerifyReport;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * A property over generated layers made of the shapes of issue 13: header-only types with sizes,
 * PAX numbers with leading zeros, GNU long names and links with a NUL inside, negative and huge
 * times, runs of PAX headers, and zstd blobs that start with skippable frames. For every layer our
 * reader accepts, the tar, dir and squashfs outputs hold the same tree (compared with our
 * {@code verify} package), and {@code unsquashfs -lls} and {@code sqfs2tar} accept every squashfs
 * we write. Plain JUnit with a fixed seed: each case is reproducible from its number.
 */
class LayerShapesPropertyTest {

  private static final long SEED = 0x13_13_13L;
  private static final int CASES = 24;

  @TempDir
  static Path work;

  @BeforeAll
  static void tools() {
    ExternalTools.assumeTools("unsquashfs", "sqfs2tar", "zstd", "bash");
    ExternalTools.assumeRoot(); // the dir output writes devices and ownership
  }

  @TestFactory
  Stream<DynamicTest> generatedLayers_threeFormatsHoldTheSameTree() {
    return IntStream.range(0, CASES).mapToObj(i -> DynamicTest.dynamicTest("case " + i + " (seed " + SEED + ")",
        () -> checkCase(i)));
  }

  private static void checkCase(int index) throws IOException {
    Random r = new Random(SEED * 31 + index);
    byte[] tar = generate(r);
    Path dir = Files.createDirectories(work.resolve("case-" + index));
    byte[] blob = tar;
    String mediaType = "application/vnd.oci.image.layer.v1.tar";
    if (r.nextInt(3) == 0) {
      Files.write(dir.resolve("layer.tar"), tar);
      ExternalTools.bash(dir, "zstd -q -f -o layer.zst layer.tar");
      blob = concat(LayerShapesOracleTest.skippableFrame(r.nextInt(16), r.nextInt(40)),
          Files.readAllBytes(dir.resolve("layer.zst")));
      mediaType = r.nextBoolean() ? mediaType + "+zstd" : mediaType; // by type or by sniffing
    }
    String ref = RawLayerImage.write(dir.resolve("image"), blob, mediaType, tar);

    Path tarOut = dir.resolve("out.tar");
    Path dirOut = dir.resolve("out-dir");
    Path sqfsOut = dir.resolve("out.sqfs");
    LayerShapesOracleTest.render(ref, OutputFormat.TAR, tarOut);
    LayerShapesOracleTest.render(ref, OutputFormat.DIR, dirOut);
    LayerShapesOracleTest.render(ref, OutputFormat.SQUASHFS, sqfsOut);

    FsModel fromTar = FsReaders.read(tarOut.toString(), null, Platform.LINUX_AMD64);
    FsModel fromDir = FsReaders.read(dirOut.toString(), null, Platform.LINUX_AMD64);
    FsModel fromSqfs = FsReaders.read(sqfsOut.toString(), null, Platform.LINUX_AMD64);
    // Tar and dir keep every mtime (negative, huge, fractional: whole seconds are compared);
    // squashfs clamps to 32-bit unsigned seconds, so its times are left out.
    VerifyOptions withTimes = VerifyOptions.DEFAULT.withMtimes().ignoringRootMetadata();
    assertEqual(Verifier.compare(fromDir, fromTar, withTimes), "dir vs tar");
    assertEqual(Verifier.compare(fromSqfs, fromTar, VerifyOptions.DEFAULT.ignoringRootMetadata()), "squashfs vs tar");

    ExternalTools.run(dir, List.of("unsquashfs", "-no-progress", "-lls", sqfsOut.toString()));
    ExternalTools.bash(dir, "sqfs2tar '" + sqfsOut + "' > /dev/null");
  }

  private static void assertEqual(VerifyReport report, String what) {
    assertThat(report.equal()).as(what + ":\n" + report.text()).isTrue();
    assertThat(report.compared()).as(what).isPositive();
  }

  /** One layer: a directory of entries in random shapes (names unique, so no entry replaces another). */
  static byte[] generate(Random r) {
    TarBuilder b = new TarBuilder();
    b.entry(header("d/", '5', 0755));
    List<String> files = new ArrayList<>();
    int n = 3 + r.nextInt(10);
    for (int i = 0; i < n; i++) {
      String name = "d/e" + i;
      switch (r.nextInt(7)) {
        case 0 -> { // a file, its size in a PAX record with leading zeros, or in the header
          byte[] content = new byte[r.nextInt(3000)];
          r.nextBytes(content);
          TarBuilder.Header h = header(name, '0', 0644);
          if (r.nextBoolean()) {
            b.pax('x', record("size", "0".repeat(r.nextInt(30)) + content.length));
          } else {
            h.size = content.length;
          }
          b.entry(h, content);
          files.add(name);
        }
        case 1 -> { // a header-only type with a size field no data follows
          char type = "2356".charAt(r.nextInt(4));
          TarBuilder.Header h = header(type == '5' ? name + "/" : name, type, type == '5' ? 0755 : 0644);
          h.size = 1 + r.nextInt(5000);
          h.linkname = "target".getBytes(UTF_8);
          h.devmajor = 1;
          h.devminor = 7;
          b.entry(h);
          if (!files.isEmpty() && r.nextBoolean()) {
            TarBuilder.Header link = header(name + "-hard", '1', 0644);
            link.linkname = files.get(r.nextInt(files.size())).getBytes(UTF_8);
            link.size = 1 + r.nextInt(5000);
            b.entry(link);
          }
        }
        case 2 -> { // GNU long name and long link with a NUL and junk inside
          String longName = name + "-" + "l".repeat(100 + r.nextInt(100));
          gnuLong(b, 'L', concat(longName.getBytes(UTF_8), new byte[] {0}, "junk".getBytes(UTF_8)));
          b.entry(fileHeader("ignored-name", 1), "L".getBytes(UTF_8));
          files.add(longName);
          gnuLong(b, 'K', concat("t".repeat(120).getBytes(UTF_8), new byte[] {0, 'j'}));
          b.entry(header(name + "-sym", '2', 0777));
        }
        case 3 -> { // a time before 1970, far after 2106, or with leading zeros and a fraction
          String time = switch (r.nextInt(4)) {
            case 0 -> "-" + (1 + r.nextInt(1_000_000_000));
            case 1 -> "-" + r.nextInt(100_000) + "." + (1 + r.nextInt(999));
            case 2 -> Long.toString((1L << 32) + r.nextInt(1 << 30));
            default -> "000000000000000000000" + (1_600_000_000 + r.nextInt(1000)) + ".5";
          };
          b.pax('x', record("mtime", time));
          b.entry(fileHeader(name, 2), "mt".getBytes(UTF_8));
          files.add(name);
        }
        case 4 -> { // a run of PAX headers: only the last one's path applies
          for (int k = r.nextInt(3); k > 0; k--) {
            b.pax('x', concat(record("path", "d/not-this-" + i + "-" + k), record("uid", "99")));
          }
          b.pax('x', concat(record("path", name + "-pax"), record("gid", "0000000000000000000000" + r.nextInt(70000))));
          b.entry(fileHeader("header-name", 3), "pax".getBytes(UTF_8));
          files.add(name + "-pax");
        }
        case 5 -> { // xattrs in each spelling
          b.pax('x', concat(record("SCHILY.xattr.user.s" + i, "v" + i),
              record("LIBARCHIVE.xattr.user.l" + i, java.util.Base64.getEncoder().encode(("w" + i).getBytes(UTF_8)))));
          b.entry(fileHeader(name, 1), "x".getBytes(UTF_8));
          files.add(name);
        }
        default -> { // a symlink to an earlier file
          TarBuilder.Header h = header(name, '2', 0777);
          h.linkname = (files.isEmpty() ? "missing" : files.get(r.nextInt(files.size()))).getBytes(UTF_8);
          b.entry(h);
        }
      }
    }
    return b.end().bytes();
  }

  private static TarBuilder.Header header(String name, char type, int mode) {
    TarBuilder.Header h = new TarBuilder.Header().name(name).type(type);
    h.mode = mode;
    h.mtime = 1_600_000_000L;
    return h;
  }

  private static TarBuilder.Header fileHeader(String name, int size) {
    TarBuilder.Header h = header(name, '0', 0644);
    h.size = size;
    return h;
  }

  private static void gnuLong(TarBuilder b, char type, byte[] value) {
    TarBuilder.Header h = header("././@LongLink", type, 0644);
    h.magic = "ustar  \0";
    h.size = value.length;
    b.entry(h, value);
  }
}
