package dev.ocirender.layer;

import static dev.ocirender.layer.TarBuilder.concat;
import static dev.ocirender.layer.TarBuilder.record;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ocirender.image.Platform;
import dev.ocirender.render.DirectoryRenderTarget;
import dev.ocirender.render.OutputFormat;
import dev.ocirender.render.RenderException;
import dev.ocirender.render.Renderer;
import dev.ocirender.source.ImageSource;
import dev.ocirender.source.ImageSources;
import dev.ocirender.testing.ExternalTools;
import dev.ocirender.testing.FsSnapshot;
import dev.ocirender.testing.FsSnapshot.Compare;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Layer shapes that other projects' tar readers are tested with (header shapes as in Go's
 * {@code archive/tar} testdata, CPython's {@code testtar}, libarchive's {@code test_read_format_*tar*}
 * archives; every archive here is built in code), each wrapped as a one-layer image and rendered to
 * tar, dir and squashfs, then compared with what GNU tar and bsdtar extract from the same layer.
 *
 * <p>Where GNU tar and bsdtar agree, all three of our outputs hold their tree. Where they differ,
 * {@link Follow} records which one we follow, and the test checks that they really differ (so the
 * record stays true when a tool changes). Shapes we refuse are refused by every format alike, with
 * a one-line message naming the image, layer and entry, and nothing at the output path. Our tar
 * output is read back by GNU tar, our squashfs by {@code unsquashfs} (and {@code -lls},
 * {@code sqfs2tar}), so each format is judged by an independent reader.
 */
class LayerShapesOracleTest {

  private static final long T = 1_600_000_000L;
  private static final String OCI_TAR = "application/vnd.oci.image.layer.v1.tar";
  private static final String OCI_ZSTD = OCI_TAR + "+zstd";
  /** Our outputs against the tools' extractions: directories whose root the tools made themselves. */
  private static final Compare SAME_TREE = Compare.EXACT.ignoringSymlinkModes().ignoringRootMetadata();

  /** Whose extraction our outputs must equal. */
  enum Follow {
    /** GNU tar and bsdtar extract the same tree, and so do we. */
    BOTH,
    /** They differ; we follow GNU tar (the rule where they differ). */
    GNU_TAR,
    /** They differ; we follow bsdtar (xattr spellings GNU tar does not restore). */
    BSDTAR,
    /** We refuse the layer in every format; {@code refusal} says what the message holds. */
    REFUSED
  }

  /** One archive shape: a layer blob (with its media type) and what we do with it. */
  record Shape(String name, byte[] tar, byte[] blob, String mediaType, Follow follow, String refusal,
      boolean outOfSquashfsTimeRange, boolean toolsRefuse) {
    Shape(String name, byte[] tar, byte[] blob, String mediaType, Follow follow, String refusal,
        boolean outOfSquashfsTimeRange) {
      this(name, tar, blob, mediaType, follow, refusal, outOfSquashfsTimeRange, false);
    }

    /** We refuse it with {@code message}; {@code toolsRefuse}: GNU tar and bsdtar exit non-zero too. */
    Shape withRefusal(String message, boolean toolsRefuse) {
      return new Shape(name, tar, blob, mediaType, follow, message, outOfSquashfsTimeRange, toolsRefuse);
    }

    @Override
    public String toString() {
      return name;
    }
  }

  @TempDir
  static Path work;

  @BeforeAll
  static void tools() {
    ExternalTools.assumeTools("tar", "bsdtar", "unsquashfs", "sqfs2tar", "zstd", "getfattr");
    ExternalTools.assumeRoot();
  }

  private static TarBuilder.Header h(String name, char type) {
    TarBuilder.Header h = new TarBuilder.Header().name(name).type(type);
    h.mtime = T;
    h.mode = type == '5' ? 0755 : 0644;
    return h;
  }

  private static TarBuilder.Header file(String name, int size) {
    TarBuilder.Header h = h(name, '0');
    h.size = size;
    return h;
  }

  private static TarBuilder.Header link(String name, char type, String target, long size) {
    TarBuilder.Header h = h(name, type);
    h.linkname = target.getBytes(UTF_8);
    h.size = size;
    return h;
  }

  private static Shape plain(String name, Follow follow, Consumer<TarBuilder> body) {
    TarBuilder b = new TarBuilder();
    body.accept(b);
    byte[] tar = b.end().bytes();
    return new Shape(name, tar, tar, OCI_TAR, follow, null, false);
  }

  static Stream<Shape> shapes() {
    List<Shape> s = new ArrayList<>();
    // Issue 13.1: header-only types whose size field is not 0 (CPython's testtar lnktype, libarchive's
    // compat_tar_directory_1 and compat_tar_hardlink_1 have these shapes). No data follows them.
    s.add(plain("header-only types with sizes", Follow.BOTH, b -> {
      TarBuilder.Header dir = h("d/", '5');
      dir.size = 600;
      b.entry(dir).entry(file("d/a", 5), "hello".getBytes(UTF_8));
      b.entry(link("d/s", '2', "a", 600));
      b.entry(link("d/l", '1', "d/a", 5)); // the size of the file it links to, as some writers put it
      TarBuilder.Header fifo = h("d/p", '6');
      fifo.size = 700;
      TarBuilder.Header chr = h("d/c", '3');
      chr.devmajor = 1;
      chr.devminor = 3;
      chr.size = 512;
      b.entry(fifo).entry(chr).entry(h("d2/", '5')).entry(file("d2/z", 3), "zzz".getBytes(UTF_8));
    }));
    // 13.2: PAX numbers longer than 19 characters with leading zeros (Go's testdata has such a size).
    s.add(plain("PAX numbers with leading zeros", Follow.BOTH, b -> {
      byte[] content = "x".repeat(999).getBytes(UTF_8);
      b.pax('x', concat(record("size", "000000000000000000000999"), record("uid", "00000000000000000000001000"),
          record("mtime", "000000000000000000001600000007.5")));
      b.entry(file("big", 0), content);
    }));
    // 13.3: GNU long name and long link end at their first NUL.
    s.add(plain("GNU long name and link end at the first NUL", Follow.BOTH, b -> {
      String dir = "long-" + "n".repeat(80);
      b.entry(h(dir + "/", '5'));
      TarBuilder.Header longName = h("././@LongLink", 'L');
      byte[] name = concat((dir + "/" + "f".repeat(40)).getBytes(UTF_8), new byte[] {0}, "junk-after-nul".getBytes(UTF_8),
          new byte[] {0});
      longName.size = name.length;
      longName.magic = "ustar  \0";
      b.entry(longName, name).entry(file("name-field-the-long-name-replaces", 2), "hi".getBytes(UTF_8));
      TarBuilder.Header longLink = h("././@LongLink", 'K');
      byte[] target = concat(("t".repeat(120)).getBytes(UTF_8), new byte[] {0}, "junk".getBytes(UTF_8));
      longLink.size = target.length;
      longLink.magic = "ustar  \0";
      b.entry(longLink, target).entry(link("sym", '2', "t", 0));
    }));
    // 13.4: times before 1970, as a PAX record and as a GNU base-256 field; whole seconds read alike.
    s.add(new Shape("negative whole-second mtimes", tarOf(b -> {
      b.pax('x', record("mtime", "-1000"));
      b.entry(file("pre-epoch", 1), "p".getBytes(UTF_8));
      TarBuilder.Header base256 = file("pre-epoch-gnu", 1);
      base256.magic = "ustar  \0";
      base256.tweak = blk -> {
        long v = -86_400L;
        for (int i = 147; i >= 137; i--) {
          blk[i] = (byte) v;
          v >>= 8;
        }
        blk[136] = (byte) 0xff;
      };
      b.entry(base256, "q".getBytes(UTF_8));
    }), null, OCI_TAR, Follow.BOTH, null, true));
    // A negative time with a fraction: GNU tar (like Go and us) reads -1.25 as 1.25 s before the
    // epoch, bsdtar 3.6 as -1 s plus 0.25 s.
    s.add(new Shape("negative fractional mtime", tarOf(b -> {
      b.pax('x', record("mtime", "-1.25"));
      b.entry(file("fraction", 1), "f".getBytes(UTF_8));
    }), null, OCI_TAR, Follow.GNU_TAR, null, true));
    // 13.5: several PAX extended headers in a row: only the last applies, as in GNU tar and Go
    // (bsdtar 3.6 reports "malformed pax extended attribute" and exits 1).
    s.add(plain("several PAX headers in a row", Follow.GNU_TAR, b -> {
      b.entry(h("PAX2/", '5'));
      b.pax('x', concat(record("path", "PAX1/first-long-path-name"), record("uid", "7")));
      b.pax('x', record("path", "PAX2/long-path-name"));
      b.entry(file("short", 4), "last".getBytes(UTF_8));
    }));
    // Xattr spellings: SCHILY (both restore), LIBARCHIVE (bsdtar's own; GNU tar 1.34 ignores it).
    s.add(plain("LIBARCHIVE.xattr and SCHILY.xattr records", Follow.BSDTAR, b -> {
      b.pax('x', concat(record("SCHILY.xattr.user.schily", "s-value"),
          record("LIBARCHIVE.xattr.user.libarchive", "bGEtdmFsdWU=")));
      b.entry(file("with-xattrs", 1), "x".getBytes(UTF_8));
    }));
    // 13.7: zstd with skippable frames before the first data frame.
    byte[] skippableTar = tarOf(b -> b.entry(h("z/", '5')).entry(file("z/data", 4), "zstd".getBytes(UTF_8)));
    s.add(new Shape("zstd layer starting with skippable frames", skippableTar, null, OCI_ZSTD, Follow.BOTH, null,
        false));
    // 13.6: a PAX keyword holding a NUL: GNU tar, bsdtar and Go refuse the archive.
    s.add(plain("PAX keyword with a NUL", Follow.REFUSED, b -> {
      b.pax('x', record("SCHILY.xattr.user.null\0", "v"));
      b.entry(file("nul-key", 1), "n".getBytes(UTF_8));
    }).withRefusal("keyword 'SCHILY.xattr.user.null", true));
    // 13.3: a NUL that survives the long-name rule (here in a PAX path): no filesystem can hold it.
    // GNU tar and bsdtar silently cut the name there (exit 0); Go refuses it, and so do we.
    s.add(plain("PAX path with a NUL", Follow.REFUSED, b -> {
      b.pax('x', record("path", "before\0after"));
      b.entry(file("x", 1), "n".getBytes(UTF_8));
    }).withRefusal("name contains a NUL byte", false));
    return s.stream();
  }

  private static byte[] tarOf(Consumer<TarBuilder> body) {
    TarBuilder b = new TarBuilder();
    body.accept(b);
    return b.end().bytes();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("shapes")
  void shape_ourThreeFormatsHoldWhatTheToolsExtract(Shape shape) throws Exception {
    Path dir = Files.createDirectories(work.resolve(shape.name().replaceAll("[^a-zA-Z0-9]+", "-")));
    byte[] blob = shape.blob();
    String toolTar = "layer.tar";
    String gnuFilter = "";
    if (blob == null) {
      // zstd: the real tool compresses; a hand-made skippable frame goes in front of it.
      Files.write(dir.resolve("layer.tar"), shape.tar());
      ExternalTools.bash(dir, "zstd -q -f -o data.zst layer.tar");
      blob = concat(skippableFrame(0x0, 12), skippableFrame(0xf, 3), Files.readAllBytes(dir.resolve("data.zst")));
      toolTar = "layer.tar.zst";
      gnuFilter = "--zstd ";
    }
    Files.write(dir.resolve(toolTar), blob);

    ExternalTools.Result gnu = extract(dir, "gnu", "tar " + gnuFilter
        + "--numeric-owner --xattrs --xattrs-include='*' -xpf ../" + toolTar);
    ExternalTools.Result bsd = extract(dir, "bsd", "bsdtar --numeric-owner --xattrs -xpf ../" + toolTar);
    String ref = RawLayerImage.write(dir.resolve("image"), blob, shape.mediaType(), shape.tar());

    if (shape.follow() == Follow.REFUSED) {
      // We refuse these before writing anything, in every format; record what the tools do.
      assertThat(gnu.exitCode() != 0).as("GNU tar refuses: " + gnu.stderrText()).isEqualTo(shape.toolsRefuse());
      assertThat(bsd.exitCode() != 0).as("bsdtar refuses: " + bsd.stderrText()).isEqualTo(shape.toolsRefuse());
      for (OutputFormat format : OutputFormat.values()) {
        Path out = dir.resolve("out-" + format);
        assertThatThrownBy(() -> render(ref, format, out)).as(format.toString())
            .isInstanceOf(RenderException.class)
            .hasMessageContaining(shape.refusal())
            .hasMessageContaining("layer 0 (")
            .hasMessageStartingWith(ref + ": ")
            .satisfies(e -> assertThat(e.getMessage()).doesNotContain("\n"));
        assertThat(out).doesNotExist();
      }
      return;
    }

    assertThat(gnu.exitCode()).as("GNU tar: " + gnu.stderrText()).isZero();
    FsSnapshot gnuTree = FsSnapshot.fromDirectory(dir.resolve("gnu"), true);
    FsSnapshot bsdTree = bsd.exitCode() == 0 ? FsSnapshot.fromDirectory(dir.resolve("bsd"), true) : null;
    FsSnapshot reference = switch (shape.follow()) {
      case BOTH, GNU_TAR -> gnuTree;
      case BSDTAR -> bsdTree;
      case REFUSED -> throw new AssertionError();
    };
    if (shape.follow() == Follow.BOTH) {
      assertThat(bsd.exitCode()).as("bsdtar: " + bsd.stderrText()).isZero();
      assertThat(gnuTree.diff(bsdTree, SAME_TREE)).as("GNU tar and bsdtar agree").isEmpty();
    } else {
      // The record of who we follow is only true while the tools really differ here.
      assertThat(bsdTree == null ? List.of("bsdtar failed") : gnuTree.diff(bsdTree, SAME_TREE))
          .as("GNU tar and bsdtar differ on this shape").isNotEmpty();
    }
    assertThat(reference).as("reference extraction").isNotNull();

    // tar: read by Commons Compress (extracting it would let the hard links, which come last,
    // touch their directories' restored mtimes); GNU tar must list it without a complaint.
    Path tarOut = dir.resolve("out.tar");
    render(ref, OutputFormat.TAR, tarOut);
    ExternalTools.Result listed = ExternalTools.runAllowingFailure(dir, List.of("tar", "-tvf", tarOut.toString()));
    assertThat(listed.exitCode()).as(listed.stderrText()).isZero();
    assertThat(listed.stderrText().replaceAll("tar: [^\\n]*implausibly old time stamp[^\\n]*\\n", "")).isEmpty();
    try (var in = Files.newInputStream(tarOut)) {
      reference.assertMatches(FsSnapshot.fromTar(in), SAME_TREE);
    }

    // dir: our own writer.
    Path dirOut = dir.resolve("our-dir");
    render(ref, OutputFormat.DIR, dirOut);
    reference.assertMatches(FsSnapshot.fromDirectory(dirOut, true), SAME_TREE);

    // squashfs: read by unsquashfs; listed by -lls and converted by sqfs2tar without complaint.
    Path sqfs = dir.resolve("out.sqfs");
    render(ref, OutputFormat.SQUASHFS, sqfs);
    Path fromSqfs = dir.resolve("our-sqfs");
    ExternalTools.run(dir, List.of("unsquashfs", "-no-progress", "-d", fromSqfs.toString(), sqfs.toString()));
    ExternalTools.run(dir, List.of("unsquashfs", "-no-progress", "-lls", sqfs.toString()));
    ExternalTools.bash(dir, "sqfs2tar '" + sqfs + "' > /dev/null");
    FsSnapshot squashed = FsSnapshot.fromDirectory(fromSqfs, true);
    Compare squashfsCompare = SAME_TREE.ignoringMtimeNanos();
    if (shape.outOfSquashfsTimeRange()) {
      // Squashfs keeps unsigned 32-bit seconds: times before 1970 are clamped to 0.
      squashfsCompare = SAME_TREE.ignoringMtimes();
      for (var e : squashed.nodes().entrySet()) {
        if (!e.getKey().isRoot() && reference.nodes().get(e.getKey()).mtimeSeconds() < 0) {
          assertThat(e.getValue().mtimeSeconds()).as(e.getKey().toString()).isZero();
        }
      }
    }
    reference.assertMatches(squashed, squashfsCompare);
  }

  /** 13.4: the render summary counts the entries whose times squashfs had to clamp. */
  @org.junit.jupiter.api.Test
  void squashfsRender_summaryCountsClampedMtimes() throws IOException {
    byte[] tar = tarOf(b -> {
      b.pax('x', record("mtime", "-1000"));
      b.entry(file("before-1970", 1), "a".getBytes(UTF_8));
      b.pax('x', record("mtime", "-0.5"));
      b.entry(file("just-before-1970", 1), "b".getBytes(UTF_8));
      b.pax('x', record("mtime", Long.toString(1L << 33)));
      b.entry(file("after-2106", 1), "c".getBytes(UTF_8));
      b.entry(file("in-range", 1), "d".getBytes(UTF_8));
    });
    Path dir = Files.createDirectories(work.resolve("clamp-summary"));
    String ref = RawLayerImage.write(dir.resolve("image"), tar, OCI_TAR, tar);
    Path sqfs = dir.resolve("out.sqfs");
    dev.ocirender.cli.MainAccess.Result r = dev.ocirender.cli.MainAccess.run("render", ref, "--format", "squashfs",
        "-o", sqfs.toString());
    assertThat(r.exit()).as(r.err()).isZero();
    assertThat(r.err()).contains("; 3 mtimes clamped to squashfs's range (1970 to 2106)");
    // unsquashfs confirms what was stored: 0 before 1970, 2^32 - 1 after 2106.
    Path x = dir.resolve("x");
    ExternalTools.run(dir, List.of("unsquashfs", "-no-progress", "-d", x.toString(), sqfs.toString()));
    FsSnapshot got = FsSnapshot.fromDirectory(x, false);
    assertThat(got.node("before-1970").mtimeSeconds()).isZero();
    assertThat(got.node("just-before-1970").mtimeSeconds()).isZero();
    assertThat(got.node("after-2106").mtimeSeconds()).isEqualTo(0xffffffffL);
    assertThat(got.node("in-range").mtimeSeconds()).isEqualTo(T);
  }

  private static ExternalTools.Result extract(Path dir, String into, String command) throws IOException {
    Files.createDirectories(dir.resolve(into));
    return ExternalTools.runAllowingFailure(dir.resolve(into), List.of("bash", "-c", command));
  }

  static void render(String ref, OutputFormat format, Path out) throws IOException {
    Renderer renderer = new Renderer();
    try (ImageSource source = ImageSources.open(ref)) {
      if (format == OutputFormat.DIR) {
        try (DirectoryRenderTarget target = new DirectoryRenderTarget(out, false)) {
          renderer.renderTo(source, Platform.LINUX_AMD64, target);
        }
      } else {
        renderer.renderToFile(source, Platform.LINUX_AMD64, format, out);
      }
    }
  }

  /** A zstd skippable frame: magic 0x184D2A5N (little-endian), a 32-bit length, then that many bytes. */
  static byte[] skippableFrame(int nibble, int length) {
    byte[] f = new byte[8 + length];
    f[0] = (byte) (0x50 | nibble);
    f[1] = 0x2a;
    f[2] = 0x4d;
    f[3] = 0x18;
    f[4] = (byte) length;
    return f;
  }
}
