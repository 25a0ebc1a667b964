package dev.ocirender.output.tar;

import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ocirender.layer.EntryHeader;
import dev.ocirender.layer.EntryPath;
import dev.ocirender.layer.EntryType;
import dev.ocirender.layer.PathEscapeException;
import dev.ocirender.layer.TarEntries;
import dev.ocirender.testing.ExternalTools;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Writes a filesystem with every kind of awkward entry and reads it back with GNU tar (listing and
 * a real extraction, checked with stat/getfattr), Commons Compress and our own reader.
 */
class TarEntrySinkTest {

  private static final byte[] CAPABILITY = HexFormat.of().parseHex("0100000200200000000000000000000000000000");
  private static final byte[] BINARY = {0, '\n', '=', (byte) 0xff, 0x7f, 0};
  private static final byte[] BIG = new byte[700_000];

  static {
    new Random(3).nextBytes(BIG);
  }

  @TempDir
  Path work;

  private record Entry(EntryHeader header, byte[] content) {}

  private static EntryHeader.Builder b(EntryType type, byte[] path) {
    try {
      return EntryHeader.builder(type, EntryPath.normalize(path)).mtime(1_600_000_000L, 0);
    } catch (PathEscapeException e) {
      throw new AssertionError(e);
    }
  }

  private static EntryHeader.Builder b(EntryType type, String path) {
    return b(type, path.getBytes(UTF_8));
  }

  private static byte[] bytes(Object... parts) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (Object p : parts) {
      out.writeBytes(p instanceof String s ? s.getBytes(UTF_8) : (byte[]) p);
    }
    return out.toByteArray();
  }

  /** Longer than ustar can hold, with components short enough for a real filesystem. */
  static final String LONG_UTF8 = "donn\u00e9es/" + "x".repeat(200) + "/" + "w".repeat(120);
  static final String SPLITTABLE = "p".repeat(140) + "/" + "q".repeat(90);
  static final byte[] ODD = {'o', 'd', 'd', (byte) 0xff, (byte) 0xfe};
  static final byte[] ODD_LONG = bytes("dir/", "y".repeat(250), new byte[] {(byte) 0xff}, "/", "z".repeat(50));

  private static List<Entry> entries() {
    List<Entry> e = new ArrayList<>();
    e.add(new Entry(b(EntryType.DIRECTORY, "").mode(0755).build(), null));
    e.add(new Entry(b(EntryType.DIRECTORY, "etc").mode(0755).userName("root").groupName("root").build(), null));
    e.add(new Entry(b(EntryType.FILE, "etc/hosts").mode(0644).mtime(1_600_000_000L, 123_456_789).size(10)
        .xattr("user.greeting", "hi".getBytes(UTF_8)).xattr("user.binary", BINARY).build(),
        "127.0.0.1\n".getBytes(UTF_8)));
    e.add(new Entry(b(EntryType.FILE, "usr/bin/ping").mode(04755).size(4).xattr("security.capability", CAPABILITY)
        .build(), "ELF!".getBytes(UTF_8)));
    e.add(new Entry(b(EntryType.FILE, "big").mode(0600).uid(3_000_000).gid(4_000_000).userName("j\u00fcrgen")
        .groupName("a-group-name-that-is-longer-than-31-bytes").size(BIG.length).build(), BIG));
    e.add(new Entry(b(EntryType.FILE, "empty").mode(0444).mtime(-5, 7).build(), new byte[0]));
    e.add(new Entry(b(EntryType.DIRECTORY, "donn\u00e9es").mode(0755).build(), null));
    e.add(new Entry(b(EntryType.FILE, LONG_UTF8).mode(0640).size(1).build(), new byte[] {'L'}));
    e.add(new Entry(b(EntryType.DIRECTORY, "p".repeat(140)).mode(0755).build(), null));
    e.add(new Entry(b(EntryType.FILE, SPLITTABLE).mode(0644).size(1).build(), new byte[] {'S'}));
    e.add(new Entry(b(EntryType.FILE, ODD).mode(0644).size(3).build(), "odd".getBytes(UTF_8)));
    e.add(new Entry(b(EntryType.DIRECTORY, "dir").mode(0755).build(), null));
    e.add(new Entry(b(EntryType.DIRECTORY, bytes("dir/", "y".repeat(250), new byte[] {(byte) 0xff})).mode(0755)
        .build(), null));
    // Needs a GNU 'L' record (long, not UTF-8) and a PAX header (xattr, nanoseconds) together.
    e.add(new Entry(b(EntryType.FILE, ODD_LONG).mode(0644).size(4).mtime(1_600_000_000L, 5)
        .xattr("user.k", "v".getBytes(UTF_8)).build(), "long".getBytes(UTF_8)));
    e.add(new Entry(b(EntryType.SYMLINK, "link").mode(0777).symlinkTarget("etc/hosts".getBytes(UTF_8)).build(), null));
    e.add(new Entry(b(EntryType.SYMLINK, "longlink").mode(0777).symlinkTarget(("t/".repeat(100)).getBytes(UTF_8)).build(), null));
    e.add(new Entry(b(EntryType.SYMLINK, "oddlink").mode(0777).symlinkTarget(bytes("u".repeat(120), ODD)).build(), null));
    e.add(new Entry(b(EntryType.HARDLINK, "hosts-again").mode(0644).linkTarget(EntryPath.of("etc/hosts"))
        .mtime(1_600_000_000L, 123_456_789).xattr("user.greeting", "hi".getBytes(UTF_8))
        .xattr("user.binary", BINARY).build(), null));
    e.add(new Entry(b(EntryType.HARDLINK, "long-again").mode(0640).linkTarget(EntryPath.of(LONG_UTF8)).build(), null));
    e.add(new Entry(b(EntryType.CHAR_DEVICE, "dev/null").mode(0666).device(1, 3).build(), null));
    e.add(new Entry(b(EntryType.BLOCK_DEVICE, "dev/sda1").mode(0660).device(8, 1).build(), null));
    e.add(new Entry(b(EntryType.CHAR_DEVICE, "dev/bigminor").mode(0600).device(4095, 1_048_575).build(), null));
    e.add(new Entry(b(EntryType.FIFO, "run/fifo").mode(0600).build(), null));
    e.add(new Entry(b(EntryType.DIRECTORY, "tmp").mode(01777).build(), null));
    e.add(new Entry(b(EntryType.DIRECTORY, "dev").mode(0755).build(), null));
    e.add(new Entry(b(EntryType.DIRECTORY, "run").mode(0755).build(), null));
    e.add(new Entry(b(EntryType.DIRECTORY, "usr").mode(0755).build(), null));
    e.add(new Entry(b(EntryType.DIRECTORY, "usr/bin").mode(0755).build(), null));
    return e;
  }

  private static byte[] write(List<Entry> entries) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (TarEntrySink sink = new TarEntrySink(out)) {
      for (Entry e : entries) {
        sink.accept(e.header(), e.content() == null ? null : new ByteArrayInputStream(e.content()));
      }
      sink.finish();
    }
    return out.toByteArray();
  }

  @Test
  void sameEntries_byteIdenticalOutput() throws IOException {
    assertThat(write(entries())).isEqualTo(write(entries()));
  }

  @Test
  void ourReader_roundTripsEveryField() throws IOException {
    List<Entry> in = entries();
    List<TarEntries.Read> out = TarEntries.readAll(write(in));
    assertThat(out).hasSize(in.size());
    for (int i = 0; i < in.size(); i++) {
      EntryHeader expected = in.get(i).header();
      EntryHeader actual = out.get(i).header();
      assertThat(actual.sameMetadata(expected)).as("%s vs %s", actual, expected).isTrue();
      byte[] content = in.get(i).content() == null ? new byte[0] : in.get(i).content();
      assertThat(out.get(i).content()).as(expected.toString()).isEqualTo(content);
    }
    assertThat(out.get(3).header().xattrs().get("security.capability")).isEqualTo(CAPABILITY);
    assertThat(out.get(2).header().xattrs().get("user.binary")).isEqualTo(BINARY);
  }

  @Test
  void paxHeaderOnlyWhenNeeded_plainEntriesArePureUstar() throws IOException {
    List<Entry> plain = List.of(
        new Entry(b(EntryType.DIRECTORY, "").mode(0755).build(), null),
        new Entry(b(EntryType.FILE, "a").mode(0644).size(1).build(), new byte[] {1}));
    byte[] tar = write(plain);
    assertThat(tar).hasSize(512 + 512 + 512 + 1024);
    assertThat(new String(tar, 0, 2, ISO_8859_1)).isEqualTo("./");
    assertThat(tar[156]).isEqualTo((byte) '5');
    assertThat(new String(tar, 257, 8, ISO_8859_1)).isEqualTo("ustar\u000000");
  }

  @Test
  void gnuTar_listsWithoutComplaint() throws IOException {
    ExternalTools.assumeTools("tar");
    Path tar = work.resolve("out.tar");
    Files.write(tar, write(entries()));
    ExternalTools.Result r = ExternalTools.runAllowingFailure(work,
        List.of("tar", "--format=posix", "-tvv", "--numeric-owner", "-f", tar.toString()));
    assertThat(r.exitCode()).as(r.stderrText()).isZero();
    assertThat(r.stderrText()).isEmpty();
    String listing = r.stdoutText().replaceAll(" +", " ");
    assertThat(listing).contains("-rwsr-xr-x 0/0 4 2020-09-13 12:26 usr/bin/ping\n");
    assertThat(listing).contains("-rw------- 3000000/4000000 " + BIG.length + " 2020-09-13 12:26 big\n");
    assertThat(listing).contains("-r--r--r-- 0/0 0 1969-12-31 23:59 empty\n");
    assertThat(listing).contains("crw------- 0/0 4095,1048575 2020-09-13 12:26 dev/bigminor\n");
    assertThat(listing).contains("odd\\377\\376\n");
    assertThat(listing).contains("hosts-again link to etc/hosts");
    assertThat(listing).contains("donn\\303\\251es/" + "x".repeat(200) + "/" + "w".repeat(120) + "\n");
    assertThat(listing).contains("longlink -> " + "t/".repeat(100));
    assertThat(listing).contains("./\n");
  }

  /** Extracts with GNU tar as root and checks every entry on disk with stat, getfattr, sha256sum. */
  @Test
  void gnuTar_extractsEveryFieldExactly() throws IOException {
    ExternalTools.assumeTools("tar", "bash", "getfattr", "stat", "sha256sum", "od");
    ExternalTools.assumeRoot();
    List<Entry> entries = entries();
    Path tar = work.resolve("out.tar");
    Files.write(tar, write(entries));
    Path dest = Files.createDirectories(work.resolve("x"));
    ExternalTools.run(dest, List.of("tar", "--xattrs", "--xattrs-include=*", "--numeric-owner", "-xpf",
        tar.toString()));

    StringBuilder script = new StringBuilder();
    Map<String, String> expected = new LinkedHashMap<>();
    for (Entry e : entries) {
      EntryHeader h = e.header();
      String q = h.path().isRoot() ? "." : shellQuote(h.path().bytes());
      String key = h.path().toString();
      script.append("printf '%s\\n' '== ").append(key.replace("'", "")).append("'\n");
      StringBuilder want = new StringBuilder();
      if (h.type() == EntryType.SYMLINK) {
        script.append("stat -c '%F' -- ").append(q).append('\n');
        script.append("readlink -- ").append(q).append(" | head -c -1 | od -An -v -tx1 | tr -d ' \\n'; echo\n");
        want.append("symbolic link\n").append(HexFormat.of().formatHex(h.symlinkTarget())).append('\n');
      } else if (h.type() == EntryType.HARDLINK) {
        script.append("[ $(stat -c %i -- ").append(q).append(") = $(stat -c %i -- ")
            .append(shellQuote(h.linkTarget().bytes())).append(") ] && echo same-inode\n");
        want.append("same-inode\n");
      } else {
        script.append("stat -c '%F %a %u %g %.9Y' -- ").append(q).append('\n');
        // Negative times included (written as PAX): GNU tar restores them exactly.
        String mtime = java.math.BigDecimal.valueOf(h.mtimeSeconds()).add(java.math.BigDecimal.valueOf(h.mtimeNanos(), 9))
            .setScale(9).toPlainString();
        boolean empty = h.type() == EntryType.FILE && h.size() == 0;
        want.append(empty ? "regular empty file" : fileType(h.type())).append(' ').append(Integer.toOctalString(h.mode())).append(' ')
            .append(h.uid()).append(' ').append(h.gid()).append(' ')
            .append(mtime).append('\n');
        if (h.type() == EntryType.FILE) {
          script.append("sha256sum < ").append(q).append(" | cut -c1-64\n");
          want.append(sha256(e.content())).append('\n');
        }
        if (h.type() == EntryType.CHAR_DEVICE || h.type() == EntryType.BLOCK_DEVICE) {
          // stat's %t/%T are hex; let bash print them in decimal.
          script.append("printf '%d,%d\\n' 0x$(stat -c %t -- ").append(q).append(") 0x$(stat -c %T -- ")
              .append(q).append(")\n");
          want.append(h.devMajor()).append(',').append(h.devMinor()).append('\n');
        }
        if (!h.path().isRoot()) {
          script.append("getfattr -h -d -m - -e hex -- ").append(q)
              .append(" 2>/dev/null | grep -v '^#' | grep . | sort || true\n");
          h.xattrs().entrySet().stream()
              .map(x -> x.getKey() + "=0x" + HexFormat.of().formatHex(x.getValue()))
              .sorted()
              .forEach(line -> want.append(line).append('\n'));
        }
      }
      expected.put(key, want.toString());
    }
    String actual = new String(ExternalTools.bash(dest, script.toString()), UTF_8);
    StringBuilder wantAll = new StringBuilder();
    expected.forEach((k, v) -> wantAll.append("== ").append(k.replace("'", "")).append('\n').append(v));
    assertThat(actual).isEqualTo(wantAll.toString());
  }

  @Test
  void commonsCompress_readsNamesLinksNumbersAndXattrs() throws IOException {
    List<Entry> entries = entries();
    byte[] tar = write(entries);
    // ISO-8859-1 maps bytes 1:1 to chars, so ustar and GNU long names come back byte-exact.
    try (TarArchiveInputStream in = new TarArchiveInputStream(new ByteArrayInputStream(tar), "ISO-8859-1")) {
      for (Entry e : entries) {
        TarArchiveEntry t = in.getNextEntry();
        EntryHeader h = e.header();
        assertThat(t).as(h.toString()).isNotNull();
        byte[] name = h.path().isRoot() ? "./".getBytes(UTF_8)
            : h.type().isDirectory() ? bytes(h.path().bytes(), "/") : h.path().bytes();
        boolean viaPax = TarEntrySink.ustarSplit(name) < 0 && TarEntrySink.isUtf8(name);
        assertThat(t.getName().getBytes(viaPax ? UTF_8 : ISO_8859_1)).as(h.toString()).isEqualTo(name);
        assertThat(t.getMode() & 07777).as(h.toString()).isEqualTo(h.mode());
        assertThat(t.getLongUserId()).as(h.toString()).isEqualTo(h.uid());
        assertThat(t.getLongGroupId()).as(h.toString()).isEqualTo(h.gid());
        assertThat(t.getLastModifiedTime().toInstant().getEpochSecond())
            .isEqualTo(h.mtimeSeconds()); // negative ones too, via PAX
        switch (h.type()) {
          case FILE -> {
            assertThat(t.isFile()).isTrue();
            assertThat(in.readAllBytes()).as(h.toString()).isEqualTo(e.content());
          }
          case DIRECTORY -> assertThat(t.isDirectory()).as(h.toString()).isTrue();
          case SYMLINK -> {
            assertThat(t.isSymbolicLink()).isTrue();
            byte[] target = h.symlinkTarget();
            boolean targetViaPax = target.length > 100 && TarEntrySink.isUtf8(target);
            assertThat(t.getLinkName().getBytes(targetViaPax ? UTF_8 : ISO_8859_1)).isEqualTo(target);
          }
          case HARDLINK -> {
            assertThat(t.isLink()).isTrue();
            assertThat(t.getLinkName()).isEqualTo(h.linkTarget().toString());
          }
          case CHAR_DEVICE, BLOCK_DEVICE -> {
            assertThat(t.getDevMajor()).isEqualTo(h.devMajor());
            assertThat(t.getDevMinor()).isEqualTo(h.devMinor());
          }
          case FIFO -> assertThat(t.isFIFO()).isTrue();
          default -> throw new AssertionError(h);
        }
        if (h.path().equals(EntryPath.of("etc/hosts"))) {
          assertThat(t.getExtraPaxHeaders()).containsEntry("SCHILY.xattr.user.greeting", "hi");
          assertThat(t.getLastModifiedTime().toInstant().getNano()).isEqualTo(123_456_789);
        }
        if (h.path().equals(EntryPath.of("big"))) {
          assertThat(t.getUserName()).isEqualTo("j\u00fcrgen");
          assertThat(t.getGroupName()).isEqualTo("a-group-name-that-is-longer-than-31-bytes");
        }
      }
      assertThat(in.getNextEntry()).isNull();
    }
  }

  /**
   * Device numbers beyond the octal fields (not possible on Linux, whose minors have 20 bits) go
   * in base-256 fields, which GNU tar reads, plus SCHILY.dev* records for PAX readers (GNU tar
   * 1.34 ignores those with a warning).
   */
  @Test
  void hugeDeviceNumbers_readByGnuTarCommonsAndUs() throws IOException {
    EntryHeader h = b(EntryType.CHAR_DEVICE, "dev/huge").mode(0600).device(3_000_000, 3_000_001).build();
    byte[] tar = write(List.of(new Entry(h, null)));
    assertThat(TarEntries.readAll(tar).get(0).header().sameMetadata(h)).isTrue();
    try (TarArchiveInputStream in = new TarArchiveInputStream(new ByteArrayInputStream(tar))) {
      TarArchiveEntry t = in.getNextEntry();
      assertThat(t.getDevMajor()).isEqualTo(3_000_000);
      assertThat(t.getDevMinor()).isEqualTo(3_000_001);
    }
    ExternalTools.assumeTools("tar");
    Files.write(work.resolve("dev.tar"), tar);
    ExternalTools.Result r = ExternalTools.runAllowingFailure(work, List.of("tar", "-tvf", "dev.tar"));
    assertThat(r.stdoutText()).contains("3000000,3000001");
  }

  @Test
  void xattrNameWithEquals_writtenInLibarchiveForm_roundTrips() throws IOException {
    EntryHeader h = b(EntryType.FILE, "f").size(0).xattr("user.a=b", BINARY).build();
    List<TarEntries.Read> read = TarEntries.readAll(write(List.of(new Entry(h, new byte[0]))));
    assertThat(read.get(0).header().xattrs().get("user.a=b")).isEqualTo(BINARY);
  }

  @Test
  void contentShorterThanSize_failsNamingEntry() {
    EntryHeader h = b(EntryType.FILE, "usr/lib/x.so").size(10).build();
    assertThatThrownBy(() -> write(List.of(new Entry(h, new byte[4]))))
        .isInstanceOf(IOException.class)
        .hasMessage("entry 'usr/lib/x.so': content ended after 4 of 10 bytes");
  }

  @Test
  void contentLongerThanSize_failsNamingEntry() {
    EntryHeader h = b(EntryType.FILE, "usr/lib/x.so").size(3).build();
    assertThatThrownBy(() -> write(List.of(new Entry(h, new byte[4]))))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("entry 'usr/lib/x.so'")
        .hasMessageContaining("longer than its declared 3 bytes");
  }

  @Test
  void finishFlushesWithoutClosing_closeCloses() throws IOException {
    boolean[] closed = {false};
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    OutputStream out = new OutputStream() {
      @Override
      public void write(int b) {
        bytes.write(b);
      }

      @Override
      public void write(byte[] b, int off, int len) {
        bytes.write(b, off, len);
      }

      @Override
      public void close() {
        closed[0] = true;
      }
    };
    TarEntrySink sink = new TarEntrySink(out);
    sink.accept(b(EntryType.FILE, "a").size(1).build(), new ByteArrayInputStream(new byte[] {1}));
    sink.finish();
    assertThat(closed[0]).isFalse();
    assertThat(bytes.size()).isEqualTo(3 * 512 + 512);
    sink.close();
    assertThat(closed[0]).isTrue();
  }

  private static String fileType(EntryType t) {
    return switch (t) {
      case FILE -> "regular file";
      case DIRECTORY -> "directory";
      case CHAR_DEVICE -> "character special file";
      case BLOCK_DEVICE -> "block special file";
      case FIFO -> "fifo";
      default -> throw new AssertionError(t);
    };
  }

  /** Every byte as a $'\xNN' escape, so any name survives the shell. */
  private static String shellQuote(byte[] raw) {
    StringBuilder sb = new StringBuilder("$'");
    for (byte b : raw) {
      sb.append(String.format("\\x%02x", b & 0xff));
    }
    return sb.append('\'').toString();
  }

  private static String sha256(byte[] data) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
    } catch (NoSuchAlgorithmException e) {
      throw new AssertionError(e);
    }
  }
}
