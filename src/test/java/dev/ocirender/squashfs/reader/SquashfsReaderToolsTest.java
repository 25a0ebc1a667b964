package dev.ocirender.squashfs.reader;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ocirender.layer.EntryPath;
import dev.ocirender.layer.EntryType;
import dev.ocirender.testing.ExternalTools;
import dev.ocirender.testing.Requires;
import dev.ocirender.verify.FsModel;
import dev.ocirender.verify.FsNode;
import dev.ocirender.verify.FsReaders;
import dev.ocirender.verify.Verifier;
import dev.ocirender.verify.VerifyOptions;
import dev.ocirender.verify.VerifyReport;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The squashfs reader against the real tools: images made by {@code mksquashfs} (gzip, xz, zstd,
 * lz4; with and without fragments) and by {@code tar2sqfs} from one tree holding every kind of
 * entry must read as exactly what {@code sqfs2tar} extracts (read back by our tar reader, every
 * field including mtimes and xattrs), what {@code unsquashfs -lln} lists (types, modes, owners,
 * sizes, devices, symlink targets), and the source tree itself.
 *
 * <p>Runs as root (CI does): devices, ownership and {@code trusted.}/{@code security.} xattrs.
 */
@Requires(tools = {"mksquashfs", "unsquashfs", "sqfs2tar", "tar2sqfs", "setfattr", "tar"}, root = true)
class SquashfsReaderToolsTest {

  @TempDir static Path tmp;
  static Path tree;

  static final String LONG_VALUE = "v".repeat(3000);

  @BeforeAll
  static void makeTree() {
    tree = tmp.resolve("tree");
    ExternalTools.bash(tmp, String.join("\n",
        "mkdir -p tree && cd tree",
        "mkdir -p sub/deeper big empty-dir",
        "printf hello > a && ln a a2 && ln a sub/a3",
        "ln -s a sym && ln -s /no/such/target dangling && ln -s ../a sub/up",
        "mkfifo fifo && mknod cdev c 1 3 && mknod bdev b 8 1 && mknod wide c 259 70000",
        "seq 1 100000 > sub/multi",             // ~590 KB of text: several compressed blocks and a fragment tail
        "head -c 300000 /dev/urandom > sub/random", // incompressible: blocks stored uncompressed
        "head -c 262144 /dev/urandom > sub/exact",  // exactly two blocks, no tail
        ": > empty && : > sub/empty2",
        "truncate -s 1M sparse && printf x | dd of=sparse bs=1 seek=500000 conv=notrunc 2>/dev/null",
        // > 8 KiB of directory listing: extended directory inode with directory indexes
        "for i in $(seq 1 1200); do printf \"$i\" > \"big/a-rather-long-file-name-to-fill-metadata-blocks-$i\"; done",
        "setfattr -n user.comment -v 'a comment' a",
        "setfattr -n user.shared -v '" + LONG_VALUE + "' empty",
        "setfattr -n user.shared -v '" + LONG_VALUE + "' sub/empty2", // a duplicated value: stored out of line
        "setfattr -n security.capability -v 0x0100000200200000000000000000000000000000 sub/multi",
        "setfattr -n trusted.bin -v 0x00ff10 sub",
        "chown 1234:5678 sub && chown 70000:3 sub/random && chown -h 42:43 sym",
        "chmod 4755 sub/multi && chmod 1777 big && chmod 2750 empty-dir && chmod 0600 sub/exact",
        "touch -d '2001-02-03 04:05:06' a && touch -h -d '2002-03-04 05:06:07' sym"));
  }

  @ParameterizedTest(name = "mksquashfs -comp {0} {1}")
  @CsvSource({"gzip,", "xz,", "zstd,", "lz4,", "gzip,-no-fragments", "zstd,-no-fragments", "xz,-no-fragments", "lz4,-no-fragments"})
  void mksquashfsImage_readsLikeTheToolsSayAndLikeTheSource(String comp, String extra) throws Exception {
    Path img = tmp.resolve("mk-" + comp + (extra == null ? "" : extra) + ".sqfs");
    List<String> cmd = new ArrayList<>(List.of("mksquashfs", tree.toString(), img.toString(), "-comp", comp, "-xattrs",
        "-noappend", "-quiet", "-no-progress"));
    if (extra != null) {
      cmd.add(extra);
    }
    ExternalTools.run(tmp, cmd);
    FsModel ours = FsReaders.readSquashfs(img);

    assertEqual(ours, sqfs2tar(img), VerifyOptions.DEFAULT.withMtimes());
    assertEqual(ours, FsReaders.readDirectory(tree), VerifyOptions.DEFAULT.withMtimes());
    assertMatchesListing(ours, img);
    assertThat(ours.nodes()).hasSizeGreaterThan(1200);
    try (SquashfsReader r = SquashfsReader.open(img)) {
      assertThat(r.compressor()).isEqualTo(comp);
      r.walk((h, c) -> {});
      assertThat(r.directoryIndexes).as("directory indexes read").isPositive();
    }
    // Spot checks that the comparisons above cannot pass vacuously.
    FsNode wide = ours.nodes().get(EntryPath.of("wide"));
    assertThat(wide.devMajor()).isEqualTo(259);
    assertThat(wide.devMinor()).isEqualTo(70000);
    assertThat(ours.linkedTo(EntryPath.of("sub/a3"))).isEqualTo(EntryPath.of("a"));
    assertThat(ours.nodes().get(EntryPath.of("empty")).xattrs().get("user.shared"))
        .isEqualTo(LONG_VALUE.getBytes(StandardCharsets.US_ASCII));
    assertThat(ours.nodes().get(EntryPath.of("sub/multi")).xattrs()).containsKey("security.capability");
    assertThat(ours.nodes().get(EntryPath.of("sub")).xattrs().get("trusted.bin")).isEqualTo(HexFormat.of().parseHex("00ff10"));
    assertThat(ours.nodes().get(EntryPath.of("sparse")).size()).isEqualTo(1 << 20);
  }

  @Test
  void tar2sqfsImage_readsLikeItsTar() throws Exception {
    Path tar = tmp.resolve("tree.tar");
    ExternalTools.run(tmp, List.of("tar", "--xattrs", "--xattrs-include=*", "--numeric-owner", "-C", tree.toString(),
        "-cf", tar.toString(), "."));
    for (String comp : List.of("gzip", "xz", "zstd", "lz4")) {
      Path img = tmp.resolve("t2s-" + comp + ".sqfs");
      ExternalTools.bash(tmp, "tar2sqfs -q -f -c " + comp + " " + img + " < " + tar);
      FsModel ours = FsReaders.readSquashfs(img);
      assertEqual(ours, FsReaders.readTar(tar), VerifyOptions.DEFAULT.withMtimes());
      assertEqual(ours, sqfs2tar(img), VerifyOptions.DEFAULT.withMtimes());
      if (!comp.equals("lz4")) {
        // unsquashfs 4.5.1 cannot read tar2sqfs's lz4 images ("failed to read id table block");
        // sqfs2tar, from the same project as tar2sqfs, checks those.
        assertMatchesListing(ours, img);
      }
    }
  }

  private static FsModel sqfs2tar(Path img) throws Exception {
    Path out = tmp.resolve(img.getFileName() + ".sqfs2tar.tar");
    ExternalTools.bash(tmp, "sqfs2tar -r . " + img + " > " + out);
    return FsReaders.readTar(out);
  }

  private static void assertEqual(FsModel ours, FsModel reference, VerifyOptions options) {
    VerifyReport report = Verifier.compare(ours, reference, options);
    assertThat(report.equal()).as("%s vs %s:\n%s", ours.description(), reference.description(), report.text()).isTrue();
    assertThat(report.compared()).isEqualTo(reference.size());
  }

  private static final Pattern LISTING = Pattern.compile(
      "^(\\S)(\\S{9}) (\\d+)/(\\d+)\\s+(\\d+|\\d+,\\s*\\d+) \\S+ \\S+ squashfs-root(.*)$");

  /** {@code unsquashfs -lln}: type, permission bits, uid/gid, size (files), devices, symlink targets. */
  private static void assertMatchesListing(FsModel ours, Path img) {
    String listing = new String(ExternalTools.run(tmp, List.of("unsquashfs", "-lln", img.toString())), StandardCharsets.UTF_8);
    int lines = 0;
    for (String line : listing.split("\n")) {
      Matcher m = LISTING.matcher(line);
      if (!m.matches()) {
        continue;
      }
      lines++;
      String name = m.group(6);
      String target = null;
      if (m.group(1).equals("l")) {
        int arrow = name.indexOf(" -> ");
        target = name.substring(arrow + 4);
        name = name.substring(0, arrow);
      }
      EntryPath path = name.isEmpty() ? EntryPath.ROOT : EntryPath.of(name.substring(1));
      FsNode n = ours.nodes().get(path);
      assertThat(n).as("listed path %s", path).isNotNull();
      EntryType type = switch (m.group(1)) {
        case "d" -> EntryType.DIRECTORY;
        case "-" -> EntryType.FILE;
        case "l" -> EntryType.SYMLINK;
        case "c" -> EntryType.CHAR_DEVICE;
        case "b" -> EntryType.BLOCK_DEVICE;
        case "p" -> EntryType.FIFO;
        default -> throw new AssertionError(line);
      };
      assertThat(n.type()).as(line).isEqualTo(type);
      if (type != EntryType.SYMLINK) {
        assertThat(String.format("%04o", n.mode())).as(line).isEqualTo(String.format("%04o", mode(m.group(2))));
      }
      assertThat(n.uid() + "/" + n.gid()).as(line).isEqualTo(m.group(3) + "/" + m.group(4));
      if (type == EntryType.FILE) {
        assertThat(Long.toString(n.size())).as(line).isEqualTo(m.group(5));
      } else if (type == EntryType.SYMLINK) {
        assertThat(new String(n.symlinkTarget(), StandardCharsets.UTF_8)).as(line).isEqualTo(target);
      } else if ((type == EntryType.CHAR_DEVICE || type == EntryType.BLOCK_DEVICE) && n.devMinor() < 256) {
        // unsquashfs 4.5 lists minors above 255 wrongly (major = rdev >> 8); sqfs2tar checks those.
        assertThat(n.devMajor() + "," + n.devMinor()).as(line).isEqualTo(m.group(5).replace(" ", ""));
      }
    }
    assertThat(lines).isEqualTo(ours.size());
  }

  private static int mode(String rwx) {
    int mode = 0;
    for (int i = 0; i < 9; i++) {
      char c = rwx.charAt(i);
      boolean set = c != '-' && c != 'S' && c != 'T';
      if (set) {
        mode |= 1 << (8 - i);
      }
    }
    char u = rwx.charAt(2);
    char g = rwx.charAt(5);
    char o = rwx.charAt(8);
    if (u == 's' || u == 'S') {
      mode |= 04000;
    }
    if (g == 's' || g == 'S') {
      mode |= 02000;
    }
    if (o == 't' || o == 'T') {
      mode |= 01000;
    }
    return mode;
  }

  static Path treeForOtherTests() {
    return tree;
  }

  static boolean exists(Path p) {
    return Files.exists(p);
  }
}
