package dev.ocirender.layer;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ocirender.testing.ExternalTools;
import dev.ocirender.testing.Requires;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Reads archives written by GNU tar in each of its formats from a real tree (long names, links,
 * devices, special mode bits, xattrs, a non-UTF-8 name, sparse files) and checks every field
 * against what was put in.
 */
@Requires(tools = {"tar", "bash", "setfattr", "setcap", "mknod"}, root = true)
class LayerTarReaderGnuTarTest {

  private static final String L1 = "l".repeat(90) + "/" + "m".repeat(90);
  private static final String L2 = "n".repeat(120) + "/" + "o".repeat(120);
  private static final String L2_FILE = L2 + "/" + "p".repeat(40);
  private static final String LONG_TARGET = "t".repeat(200);
  private static final byte[] ODD_NAME = concat(new byte[] {(byte) 0xff, (byte) 0xfe},
      "-name-".getBytes(StandardCharsets.US_ASCII), new byte[] {(byte) 0xe9});
  private static final long MTIME = 1_600_000_000L;
  private static final byte[] CAPABILITY = HexFormat.of().parseHex("0100000200200000000000000000000000000000");

  @TempDir
  static Path work;

  @BeforeAll
  static void makeTree() {
    ExternalTools.bash(work, """
        umask 022
        mkdir root && cd root && chmod 0755 .
        printf 'hello\\n' > hello.txt
        mkdir dir && chmod 0750 dir
        printf '#!/bin/sh\\n' > dir/suid && chmod 4755 dir/suid
        mkdir sgid && chmod 2775 sgid
        mkdir tmp && chmod 1777 tmp
        ln -s hello.txt link
        ln hello.txt xhard
        mkdir -p "$L1" && printf 'mid' > "$L1/f"
        mkdir -p "$L2" && printf 'deep' > "$L2_FILE"
        ln -s "$LONG_TARGET" longsym
        ln "$L2_FILE" zz-hard-long
        printf 'odd' > $'\\xff\\xfe-name-\\xe9'
        mknod cdev c 1 3 && mknod bdev b 7 0 && mkfifo fifo
        setfattr -n user.greeting -v hi hello.txt
        setfattr -n user.bin -v 0x00ff10 hello.txt
        setcap cap_net_raw+ep dir/suid
        find . -exec touch -h -d '@1600000000.123456789' {} +
        """.replace("$L1", L1).replace("$L2_FILE", L2_FILE).replace("$L2", L2).replace("$LONG_TARGET", LONG_TARGET));
  }

  /** What each path in the tree is, in a form comparable with the reader's output. */
  private record Expect(EntryType type, int mode, String content, String symlink, String hardlink, int major,
      int minor) {}

  private static Map<EntryPath, Expect> tree() {
    Map<EntryPath, Expect> m = new TreeMap<>();
    m.put(EntryPath.ROOT, new Expect(EntryType.DIRECTORY, 0755, null, null, null, 0, 0));
    m.put(EntryPath.of("hello.txt"), new Expect(EntryType.FILE, 0644, "hello\n", null, null, 0, 0));
    m.put(EntryPath.of("dir"), new Expect(EntryType.DIRECTORY, 0750, null, null, null, 0, 0));
    m.put(EntryPath.of("dir/suid"), new Expect(EntryType.FILE, 04755, "#!/bin/sh\n", null, null, 0, 0));
    m.put(EntryPath.of("sgid"), new Expect(EntryType.DIRECTORY, 02775, null, null, null, 0, 0));
    m.put(EntryPath.of("tmp"), new Expect(EntryType.DIRECTORY, 01777, null, null, null, 0, 0));
    m.put(EntryPath.of("link"), new Expect(EntryType.SYMLINK, 0777, null, "hello.txt", null, 0, 0));
    m.put(EntryPath.of("xhard"), new Expect(EntryType.HARDLINK, 0644, null, null, "hello.txt", 0, 0));
    m.put(EntryPath.of(L1.substring(0, 90)), new Expect(EntryType.DIRECTORY, 0755, null, null, null, 0, 0));
    m.put(EntryPath.of(L1), new Expect(EntryType.DIRECTORY, 0755, null, null, null, 0, 0));
    m.put(EntryPath.of(L1 + "/f"), new Expect(EntryType.FILE, 0644, "mid", null, null, 0, 0));
    m.put(EntryPath.of(L2.substring(0, 120)), new Expect(EntryType.DIRECTORY, 0755, null, null, null, 0, 0));
    m.put(EntryPath.of(L2), new Expect(EntryType.DIRECTORY, 0755, null, null, null, 0, 0));
    m.put(EntryPath.of(L2_FILE), new Expect(EntryType.FILE, 0644, "deep", null, null, 0, 0));
    m.put(EntryPath.of("longsym"), new Expect(EntryType.SYMLINK, 0777, null, LONG_TARGET, null, 0, 0));
    m.put(EntryPath.of("zz-hard-long"), new Expect(EntryType.HARDLINK, 0644, null, null, L2_FILE, 0, 0));
    m.put(normalize(ODD_NAME), new Expect(EntryType.FILE, 0644, "odd", null, null, 0, 0));
    m.put(EntryPath.of("cdev"), new Expect(EntryType.CHAR_DEVICE, 0644, null, null, null, 1, 3));
    m.put(EntryPath.of("bdev"), new Expect(EntryType.BLOCK_DEVICE, 0644, null, null, null, 7, 0));
    m.put(EntryPath.of("fifo"), new Expect(EntryType.FIFO, 0644, null, null, null, 0, 0));
    return m;
  }

  @ParameterizedTest(name = "--format={0}")
  @ValueSource(strings = {"gnu", "posix", "ustar", "v7"})
  void gnuTarArchive_everyFieldAsPutIn(String format) throws IOException {
    Map<EntryPath, Expect> expected = tree();
    boolean bigIds = format.equals("gnu") || format.equals("posix");
    if (!bigIds) {
      // ustar cannot split these names or hold long link targets; v7 also has no devices and
      // only 99-byte names.
      expected.keySet().removeIf(p -> p.toString().startsWith("n") || p.equals(EntryPath.of("longsym"))
          || p.equals(EntryPath.of("zz-hard-long")));
    }
    if (format.equals("v7")) {
      expected.keySet().removeIf(p -> p.toString().startsWith("l") && !p.equals(EntryPath.of("link"))
          || Set.of("cdev", "bdev", "fifo").contains(p.toString()));
    }
    List<String> members = new ArrayList<>();
    for (EntryPath p : expected.keySet()) {
      members.add(p.isRoot() ? "." : "./" + p);
    }
    Path list = work.resolve("members-" + format);
    // The non-UTF-8 name cannot travel through a Java String, so the list gets its raw bytes.
    byte[] listBytes = concat(members.stream().filter(s -> !s.contains("name-"))
        .collect(Collectors.joining("\n", "", "\n")).getBytes(StandardCharsets.UTF_8),
        "./".getBytes(StandardCharsets.US_ASCII), ODD_NAME, new byte[] {'\n'});
    Files.write(list, listBytes);
    String owner = bigIds ? "--owner=alice:3000000 --group=staff:3000001" : "--owner=bob:70000 --group=grp:70001";
    String xattrOptions = format.equals("posix") ? "--xattrs --xattrs-include='*'" : "";
    ExternalTools.bash(work, "tar --format=" + format + " " + owner + " " + xattrOptions
        + " --no-recursion -C root -T " + list + " -cf " + format + ".tar");

    List<TarEntries.Read> read;
    try (InputStream in = Files.newInputStream(work.resolve(format + ".tar"))) {
      read = TarEntries.readAll(in);
    }
    assertThat(read).extracting(r -> r.header().path()).containsExactlyInAnyOrderElementsOf(expected.keySet());
    for (int i = 0; i < read.size(); i++) {
      TarEntries.Read r = read.get(i);
      EntryHeader h = r.header();
      Expect e = expected.get(h.path());
      String what = format + " " + h.path();
      assertThat(r.ordinal()).as(what).isEqualTo(i);
      assertThat(h.type()).as(what).isEqualTo(e.type());
      assertThat(h.mode()).as(what).isEqualTo(e.mode());
      assertThat(h.uid()).as(what).isEqualTo(bigIds ? 3_000_000 : 70_000);
      assertThat(h.gid()).as(what).isEqualTo(bigIds ? 3_000_001 : 70_001);
      assertThat(h.userName()).as(what).isEqualTo(format.equals("v7") ? "" : bigIds ? "alice" : "bob");
      assertThat(h.groupName()).as(what).isEqualTo(format.equals("v7") ? "" : bigIds ? "staff" : "grp");
      assertThat(h.mtimeSeconds()).as(what).isEqualTo(MTIME);
      assertThat(h.mtimeNanos()).as(what).isEqualTo(format.equals("posix") ? 123456789 : 0);
      byte[] content = e.content() == null ? new byte[0] : e.content().getBytes(StandardCharsets.UTF_8);
      assertThat(h.size()).as(what).isEqualTo(content.length);
      assertThat(r.content()).as(what).isEqualTo(content);
      assertThat(h.symlinkTarget()).as(what)
          .isEqualTo(e.symlink() == null ? null : e.symlink().getBytes(StandardCharsets.UTF_8));
      assertThat(h.linkTarget()).as(what).isEqualTo(e.hardlink() == null ? null : EntryPath.of(e.hardlink()));
      assertThat(h.devMajor()).as(what).isEqualTo(e.major());
      assertThat(h.devMinor()).as(what).isEqualTo(e.minor());
      Map<String, String> xattrs = new TreeMap<>();
      h.xattrs().forEach((k, v) -> xattrs.put(k, HexFormat.of().formatHex(v)));
      if (format.equals("posix") && h.path().equals(EntryPath.of("hello.txt"))) {
        assertThat(xattrs).as(what).isEqualTo(Map.of("user.greeting", "6869", "user.bin", "00ff10"));
      } else if (format.equals("posix") && h.path().equals(EntryPath.of("dir/suid"))) {
        assertThat(xattrs).as(what).isEqualTo(Map.of("security.capability", HexFormat.of().formatHex(CAPABILITY)));
      } else {
        assertThat(xattrs).as(what).isEmpty();
      }
    }
    TarEntries.Read odd = read.stream().filter(r -> r.header().path().equals(normalize(ODD_NAME))).findFirst()
        .orElseThrow();
    assertThat(odd.rawName()).isEqualTo(concat("./".getBytes(StandardCharsets.US_ASCII), ODD_NAME));
  }

  /** Sparse files: old GNU 'S' headers (with extension blocks) and PAX sparse 0.0, 0.1, 1.0. */
  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"--format=gnu", "--format=posix --sparse-version=0.0",
      "--format=posix --sparse-version=0.1", "--format=posix --sparse-version=1.0"})
  void sparseFiles_expandedExactly(String options) throws IOException {
    Path dir = Files.createDirectories(work.resolve("sparse"));
    if (!Files.exists(dir.resolve("many"))) {
      ExternalTools.bash(dir, """
          truncate -s 5M holes-at-both-ends
          printf 'hello' | dd of=holes-at-both-ends bs=1 seek=1048676 conv=notrunc status=none
          head -c 8192 /dev/urandom > data-at-both-ends
          truncate -s 3M data-at-both-ends
          head -c 4096 /dev/urandom | dd of=data-at-both-ends bs=4096 seek=767 conv=notrunc status=none
          truncate -s 2M only-hole
          truncate -s 4M many
          for i in $(seq 0 29); do head -c 4096 /dev/urandom | dd of=many bs=65536 seek=$i conv=notrunc status=none; done
          truncate -s 0 empty
          """);
    }
    String archive = "sparse" + options.replaceAll("[^a-z0-9.]", "") + ".tar";
    ExternalTools.bash(dir, "tar " + options + " --sparse -cf " + archive
        + " holes-at-both-ends data-at-both-ends only-hole many empty");
    assertThat(Files.size(dir.resolve(archive))).as("archive is really sparse").isLessThan(1_000_000);

    List<TarEntries.Read> read;
    try (InputStream in = Files.newInputStream(dir.resolve(archive))) {
      read = TarEntries.readAll(in);
    }
    assertThat(read).extracting(r -> r.header().path().toString())
        .containsExactly("holes-at-both-ends", "data-at-both-ends", "only-hole", "many", "empty");
    for (TarEntries.Read r : read) {
      byte[] real = Files.readAllBytes(dir.resolve(r.header().path().toString()));
      assertThat(r.header().type()).isEqualTo(EntryType.FILE);
      assertThat(r.header().size()).as(r.header().path().toString()).isEqualTo(real.length);
      assertThat(r.content()).as(r.header().path().toString()).isEqualTo(real);
    }
  }

  @Test
  void sparseFile_partlyReadThenSkipped_nextEntryIntact() throws IOException {
    Path dir = Files.createDirectories(work.resolve("sparse-skip"));
    ExternalTools.bash(dir, """
        truncate -s 1M s
        printf 'xyz' | dd of=s bs=1 seek=700000 conv=notrunc status=none
        printf 'after' > t
        tar --format=posix --sparse --sparse-version=1.0 -cf a.tar s t
        """);
    try (LayerTarReader reader = new LayerTarReader(Files.newInputStream(dir.resolve("a.tar")))) {
      assertThat(reader.next().path()).isEqualTo(EntryPath.of("s"));
      byte[] some = new byte[1000];
      assertThat(reader.content().read(some)).isPositive();
      assertThat(reader.next().path()).isEqualTo(EntryPath.of("t"));
      assertThat(reader.content().readAllBytes()).isEqualTo("after".getBytes(StandardCharsets.US_ASCII));
      assertThat(reader.next()).isNull();
    }
  }

  @Test
  void largeRandomFile_contentMatchesThroughSmallAndLargeReads() throws IOException {
    Path dir = Files.createDirectories(work.resolve("big"));
    byte[] data = new byte[3 * 1024 * 1024 + 123];
    new Random(7).nextBytes(data);
    Files.write(dir.resolve("big"), data);
    Files.write(dir.resolve("small"), new byte[] {1, 2, 3});
    ExternalTools.bash(dir, "tar --format=posix -cf a.tar small big small");
    try (LayerTarReader reader = new LayerTarReader(Files.newInputStream(dir.resolve("a.tar")))) {
      reader.next();
      assertThat(reader.content().readAllBytes()).containsExactly(1, 2, 3);
      reader.next();
      InputStream content = reader.content();
      byte[] got = new byte[data.length];
      int off = 0;
      int[] sizes = {1, 7, 100_000, 3, 512, 70_000, 1 << 20};
      for (int i = 0; off < got.length; i++) {
        int want = Math.min(sizes[i % sizes.length], got.length - off);
        if (want == 1) {
          got[off++] = (byte) content.read();
          continue;
        }
        int n = content.read(got, off, want);
        assertThat(n).isPositive();
        off += n;
      }
      assertThat(content.read()).isEqualTo(-1);
      assertThat(got).isEqualTo(data);
      assertThat(reader.next().path()).isEqualTo(EntryPath.of("small"));
      assertThat(reader.next()).isNull();
    }
  }

  private static EntryPath normalize(byte[] raw) {
    try {
      return EntryPath.normalize(raw);
    } catch (PathEscapeException e) {
      throw new AssertionError(e);
    }
  }

  private static byte[] concat(byte[]... parts) {
    return TarBuilder.concat(parts);
  }
}
