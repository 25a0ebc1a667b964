package dev.ocirender.layer;

import static dev.ocirender.layer.TarBuilder.concat;
import static dev.ocirender.layer.TarBuilder.file;
import static dev.ocirender.layer.TarBuilder.record;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Hand-built archives for what tools rarely write: binary PAX values, global headers, base-256
 * numbers, odd typeflags, and damage of every kind (each malformed fixture says so in its name).
 */
class LayerTarReaderTest {

  private static final byte[] CAPABILITY_WITH_AWKWARD_BYTES =
      {1, 0, 0, 2, '\n', '=', (byte) 0xff, 0, ' ', (byte) 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};

  @Test
  void binaryCapabilityXattr_keptByteExact() throws IOException {
    byte[] tar = new TarBuilder()
        .pax('x', concat(record("SCHILY.xattr.security.capability", CAPABILITY_WITH_AWKWARD_BYTES),
            record("SCHILY.xattr.user.empty", new byte[0])))
        .entry(file("usr/bin/ping", 3), "abc".getBytes(UTF_8))
        .end().bytes();
    EntryHeader h = TarEntries.readAll(tar).get(0).header();
    assertThat(h.xattrs()).containsOnlyKeys("security.capability", "user.empty");
    assertThat(h.xattrs().get("security.capability")).isEqualTo(CAPABILITY_WITH_AWKWARD_BYTES);
    assertThat(h.xattrs().get("user.empty")).isEmpty();
  }

  @Test
  void libarchiveXattr_urlEncodedNameAndBase64Value_decoded() throws IOException {
    byte[] tar = new TarBuilder()
        .pax('x', record("LIBARCHIVE.xattr.user.a%3Db%25", Base64.getEncoder().withoutPadding()
            .encode(CAPABILITY_WITH_AWKWARD_BYTES)))
        .entry(file("f", 0))
        .end().bytes();
    EntryHeader h = TarEntries.readAll(tar).get(0).header();
    assertThat(h.xattrs()).containsOnlyKeys("user.a=b%");
    assertThat(h.xattrs().get("user.a=b%")).isEqualTo(CAPABILITY_WITH_AWKWARD_BYTES);
  }

  @Test
  void globalHeader_appliesToLaterEntries_localWins_emptyLocalValueUnsets() throws IOException {
    TarBuilder.Header plain = file("a", 0);
    plain.uname = "hdr";
    plain.uid = 7;
    TarBuilder.Header overridden = file("b", 0);
    TarBuilder.Header unset = file("c", 0);
    unset.uname = "hdr";
    byte[] tar = new TarBuilder()
        .pax('g', concat(record("uid", "1234"), record("uname", "glob"), record("SCHILY.xattr.user.g", "1")))
        .entry(plain)
        .pax('x', concat(record("uid", "5"), record("SCHILY.xattr.user.g", "2")))
        .entry(overridden)
        .pax('x', record("uname", ""))
        .entry(unset)
        .end().bytes();
    List<TarEntries.Read> read = TarEntries.readAll(tar);
    assertThat(read).hasSize(3);
    assertThat(read.get(0).header().uid()).isEqualTo(1234);
    assertThat(read.get(0).header().userName()).isEqualTo("glob");
    assertThat(read.get(0).header().xattrs().get("user.g")).isEqualTo("1".getBytes(UTF_8));
    assertThat(read.get(1).header().uid()).isEqualTo(5);
    assertThat(read.get(1).header().xattrs().get("user.g")).isEqualTo("2".getBytes(UTF_8));
    assertThat(read.get(2).header().userName()).isEqualTo("hdr");
    assertThat(read.get(2).header().uid()).isEqualTo(1234);
  }

  @Test
  void paxTimes_fractionsAndNegativeTimes() throws IOException {
    byte[] tar = new TarBuilder()
        .pax('x', record("mtime", "1.5")).entry(file("a", 0))
        .pax('x', record("mtime", "-1.25")).entry(file("b", 0))
        .pax('x', record("mtime", "7.0000000019")).entry(file("c", 0))
        .pax('x', record("mtime", "1600000000")).entry(file("d", 0))
        .end().bytes();
    List<TarEntries.Read> read = TarEntries.readAll(tar);
    assertThat(read).extracting(r -> r.header().mtimeSeconds()).containsExactly(1L, -2L, 7L, 1600000000L);
    assertThat(read).extracting(r -> r.header().mtimeNanos()).containsExactly(500_000_000, 750_000_000, 1, 0);
  }

  @Test
  void paxPathLinkpathAndSize_overrideHeaderFields() throws IOException {
    byte[] longName = ("dir/" + "x".repeat(300)).getBytes(UTF_8);
    byte[] nonUtf8Target = {'t', (byte) 0xff, 'g'};
    TarBuilder.Header link = new TarBuilder.Header().name("short").type('2');
    link.linkname = "ignored".getBytes(UTF_8);
    byte[] tar = new TarBuilder()
        .pax('x', concat(record("path", longName), record("size", "5"), record("hdrcharset", "BINARY")))
        .entry(file("truncated-name", 0), "12345".getBytes(UTF_8))
        .pax('x', record("linkpath", nonUtf8Target))
        .entry(link)
        .end().bytes();
    List<TarEntries.Read> read = TarEntries.readAll(tar);
    assertThat(read.get(0).rawName()).isEqualTo(longName);
    assertThat(read.get(0).header().size()).isEqualTo(5);
    assertThat(read.get(0).content()).isEqualTo("12345".getBytes(UTF_8));
    assertThat(read.get(1).header().symlinkTarget()).isEqualTo(nonUtf8Target);
  }

  @Test
  void base256Numbers_positiveAndNegative() throws IOException {
    TarBuilder.Header h = file("big", 0);
    h.tweak = b -> {
      // uid 3000000 in base-256 (8 bytes), size 3, mtime -1
      byte[] uid = {(byte) 0x80, 0, 0, 0, 0, 0x2d, (byte) 0xc6, (byte) 0xc0};
      System.arraycopy(uid, 0, b, 108, 8);
      Arrays.fill(b, 124, 136, (byte) 0);
      b[124] = (byte) 0x80;
      b[135] = 3;
      Arrays.fill(b, 136, 148, (byte) 0xff);
    };
    byte[] tar = new TarBuilder().entry(h, "xyz".getBytes(UTF_8)).end().bytes();
    EntryHeader e = TarEntries.readAll(tar).get(0).header();
    assertThat(e.uid()).isEqualTo(3_000_000);
    assertThat(e.size()).isEqualTo(3);
    assertThat(e.mtimeSeconds()).isEqualTo(-1);
  }

  @Test
  void v7_trailingSlashOnRegularType_isDirectory_andHasNoOwnerNames() throws IOException {
    TarBuilder.Header dir = new TarBuilder.Header().name("olddir/").type('\0');
    dir.magic = "";
    dir.mode = 0755;
    TarBuilder.Header f = file("olddir/f", 2).type('\0');
    f.magic = "";
    f.tweak = b -> b[265] = 'x'; // garbage where ustar keeps uname: v7 has no such field
    byte[] tar = new TarBuilder().entry(dir).entry(f, "hi".getBytes(UTF_8)).end().bytes();
    List<TarEntries.Read> read = TarEntries.readAll(tar);
    assertThat(read.get(0).header().type()).isEqualTo(EntryType.DIRECTORY);
    assertThat(read.get(0).header().path()).isEqualTo(EntryPath.of("olddir"));
    assertThat(read.get(1).header().type()).isEqualTo(EntryType.FILE);
    assertThat(read.get(1).header().userName()).isEmpty();
    assertThat(read.get(1).content()).isEqualTo("hi".getBytes(UTF_8));
  }

  @Test
  void typeflags_contiguousAndUnknownAreFiles_dumpdirIsDirectory_volumeLabelSkipped() throws IOException {
    byte[] tar = new TarBuilder()
        .entry(new TarBuilder.Header().name("LABEL").type('V'))
        .entry(file("contig", 1).type('7'), new byte[] {1})
        .entry(file("unknown", 2).type('Z'), new byte[] {2, 3})
        .entry(file("dumpdir", 4).type('D'), "Yab\0".getBytes(UTF_8))
        .end().bytes();
    List<TarEntries.Read> read = TarEntries.readAll(tar);
    assertThat(read).extracting(r -> r.header().path().toString()).containsExactly("contig", "unknown", "dumpdir");
    assertThat(read).extracting(r -> r.header().type())
        .containsExactly(EntryType.FILE, EntryType.FILE, EntryType.DIRECTORY);
    assertThat(read.get(1).content()).containsExactly(2, 3);
    assertThat(read.get(2).content()).isEmpty();
    assertThat(read.get(2).header().size()).isZero();
  }

  @Test
  void ustarPrefix_joinedWithName_andModeKeepsTwelveBits() throws IOException {
    TarBuilder.Header h = file("name.txt", 0);
    h.prefix = "some/long/prefix".getBytes(UTF_8);
    h.mode = 0107755;
    byte[] tar = new TarBuilder().entry(h).end().bytes();
    TarEntries.Read r = TarEntries.readAll(tar).get(0);
    assertThat(r.rawName()).isEqualTo("some/long/prefix/name.txt".getBytes(UTF_8));
    assertThat(r.header().mode()).isEqualTo(07755);
  }

  @Test
  void signedChecksum_accepted() throws IOException {
    TarBuilder.Header h = file("caf\u00e9", 0);
    h.signedChecksum = true;
    assertThat(TarEntries.readAll(new TarBuilder().entry(h).end().bytes())).hasSize(1);
  }

  @Test
  void malformed_badChecksum_namesEntry() {
    TarBuilder.Header h = file("etc/passwd", 0);
    h.corruptChecksum = true;
    byte[] tar = new TarBuilder().entry(file("ok", 0)).entry(h).end().bytes();
    assertThatThrownBy(() -> TarEntries.readAll(tar))
        .isInstanceOf(LayerFormatException.class)
        .hasMessageContaining("entry 'etc/passwd'")
        .hasMessageContaining("bad header checksum");
  }

  @Test
  void malformed_garbageInSizeField_namesEntry() {
    TarBuilder.Header h = file("bin/sh", 0);
    h.tweak = b -> System.arraycopy("12x4".getBytes(UTF_8), 0, b, 124, 4);
    byte[] tar = new TarBuilder().entry(h).end().bytes();
    assertThatThrownBy(() -> TarEntries.readAll(tar))
        .isInstanceOf(LayerFormatException.class)
        .hasMessageContaining("entry 'bin/sh'").hasMessageContaining("bad size field");
  }

  @Test
  void malformed_truncatedContent_namesEntryAndCounts() {
    byte[] whole = new TarBuilder().entry(file("usr/bin/x", 5000), new byte[5000]).end().bytes();
    byte[] cut = Arrays.copyOf(whole, 512 + 1234);
    assertThatThrownBy(() -> TarEntries.readAll(cut))
        .isInstanceOf(LayerFormatException.class)
        .hasMessage("entry 'usr/bin/x': truncated content, 1234 of 5000 bytes");
  }

  @Test
  void malformed_truncatedContent_detectedWhenSkipped() throws IOException {
    byte[] whole = new TarBuilder().entry(file("usr/bin/x", 5000), new byte[5000]).end().bytes();
    byte[] cut = Arrays.copyOf(whole, 512 + 1234);
    try (LayerTarReader reader = new LayerTarReader(new ByteArrayInputStream(cut))) {
      reader.next();
      assertThatThrownBy(reader::next)
          .isInstanceOf(LayerFormatException.class)
          .hasMessage("entry 'usr/bin/x': truncated content, 1234 of 5000 bytes");
    }
  }

  @Test
  void malformed_truncatedHeader_rejected() {
    byte[] whole = new TarBuilder().entry(file("a", 0)).entry(file("b", 0)).bytes();
    byte[] cut = Arrays.copyOf(whole, 512 + 100);
    assertThatThrownBy(() -> TarEntries.readAll(cut))
        .isInstanceOf(LayerFormatException.class)
        .hasMessageContaining("(header at byte 512): truncated tar header");
  }

  @Test
  void noEndMarker_eofAtHeaderBoundary_accepted() throws IOException {
    byte[] tar = new TarBuilder().entry(file("a", 3), new byte[] {1, 2, 3}).bytes();
    assertThat(TarEntries.readAll(tar)).hasSize(1);
  }

  @Test
  void trailingBytesAfterEndMarker_readToEof() throws IOException {
    byte[] tar = new TarBuilder().entry(file("a", 0)).end().raw(new byte[10_000]).raw("junk".getBytes(UTF_8)).bytes();
    CountingStream counting = new CountingStream(tar);
    assertThat(TarEntries.readAll(counting)).hasSize(1);
    assertThat(counting.count).isEqualTo(tar.length);
  }

  @Test
  void closeEarly_stillReadsStreamToEof() throws IOException {
    byte[] tar = new TarBuilder().entry(file("a", 100_000), new byte[100_000]).entry(file("b", 0)).end().bytes();
    CountingStream counting = new CountingStream(tar);
    try (LayerTarReader reader = new LayerTarReader(counting)) {
      reader.next();
    }
    assertThat(counting.count).isEqualTo(tar.length);
    assertThat(counting.closed).isTrue();
  }

  @Test
  void malformed_paxRecordLength_namesHeader() {
    byte[] bad = "99 path=x\n".getBytes(UTF_8);
    byte[] tar = new TarBuilder().pax('x', bad).entry(file("a", 0)).end().bytes();
    assertThatThrownBy(() -> TarEntries.readAll(tar))
        .isInstanceOf(LayerFormatException.class)
        .hasMessageContaining("PaxHeaders/x")
        .hasMessageContaining("malformed PAX record");
  }

  @Test
  void malformed_paxNumber_namesEntry() {
    byte[] tar = new TarBuilder().pax('x', record("uid", "12a")).entry(file("etc/x", 0)).end().bytes();
    assertThatThrownBy(() -> TarEntries.readAll(tar))
        .isInstanceOf(LayerFormatException.class)
        .hasMessageContaining("entry 'etc/x'")
        .hasMessageContaining("uid");
  }

  @Test
  void malformed_hugeExtendedHeader_refusedWithoutAllocating() {
    TarBuilder.Header h = new TarBuilder.Header().name("PaxHeaders/huge").type('x');
    h.size = 1L << 32;
    byte[] tar = new TarBuilder().entry(h).bytes();
    assertThatThrownBy(() -> TarEntries.readAll(tar))
        .isInstanceOf(LayerFormatException.class)
        .hasMessageContaining("exceeds the limit");
  }

  @Test
  void malformed_extendedHeaderAtEnd_withoutEntry() {
    byte[] tar = new TarBuilder().pax('x', record("path", "x")).end().bytes();
    assertThatThrownBy(() -> TarEntries.readAll(tar))
        .isInstanceOf(LayerFormatException.class)
        .hasMessageContaining("archive ends after its extended header");
  }

  @Test
  void malformed_overlappingSparseMap_rejected() {
    byte[] tar = new TarBuilder()
        .pax('x', concat(record("GNU.sparse.size", "100"), record("GNU.sparse.map", "0,10,5,10")))
        .entry(file("s", 20), new byte[20])
        .end().bytes();
    assertThatThrownBy(() -> TarEntries.readAll(tar))
        .isInstanceOf(LayerFormatException.class)
        .hasMessageContaining("entry 's'")
        .hasMessageContaining("bad sparse map segment");
  }

  @Test
  void pathEscape_inNameOrHardLinkTarget_propagates() {
    byte[] name = new TarBuilder().entry(file("a/../../etc/passwd", 0)).end().bytes();
    assertThatThrownBy(() -> TarEntries.readAll(name))
        .isInstanceOf(PathEscapeException.class).hasMessageContaining("a/../../etc/passwd");
    TarBuilder.Header link = new TarBuilder.Header().name("l").type('1');
    link.linkname = "../outside".getBytes(UTF_8);
    byte[] hard = new TarBuilder().entry(link).end().bytes();
    assertThatThrownBy(() -> TarEntries.readAll(hard))
        .isInstanceOf(PathEscapeException.class).hasMessageContaining("../outside");
  }

  @Test
  void contentOfEarlierEntry_afterNext_refused() throws IOException {
    byte[] tar = new TarBuilder().entry(file("a", 3), new byte[] {1, 2, 3}).entry(file("b", 1), new byte[] {9})
        .end().bytes();
    try (LayerTarReader reader = new LayerTarReader(new ByteArrayInputStream(tar))) {
      reader.next();
      InputStream first = reader.content();
      reader.next();
      assertThatThrownBy(first::read).isInstanceOf(IOException.class);
      assertThat(reader.content().readAllBytes()).containsExactly(9);
      assertThat(reader.ordinal()).isEqualTo(1);
    }
  }

  @Test
  void headerOnlyTypesWithSizes_noDataRead_nextHeadersIntact() throws IOException {
    // POSIX: these types carry no data; GNU tar, bsdtar, Go and Python ignore their size field.
    TarBuilder b = new TarBuilder().entry(file("a", 4), "data".getBytes(UTF_8));
    String types = "123456";
    for (char t : types.toCharArray()) {
      TarBuilder.Header h = new TarBuilder.Header().name("t" + t).type(t);
      h.linkname = "a".getBytes(UTF_8);
      h.size = 600;
      b.entry(h);
    }
    b.entry(file("z", 1), new byte[] {7});
    List<TarEntries.Read> read = TarEntries.readAll(b.end().bytes());
    assertThat(read).extracting(r -> r.header().path().toString())
        .containsExactly("a", "t1", "t2", "t3", "t4", "t5", "t6", "z");
    assertThat(read.get(1).header().linkTarget()).isEqualTo(EntryPath.of("a"));
    assertThat(read).allSatisfy(r -> assertThat(r.content()).hasSize(r.header().path().toString().equals("a") ? 4
        : r.header().path().toString().equals("z") ? 1 : 0));
    assertThat(read.get(7).content()).containsExactly(7);
  }

  @Test
  void paxNumbersWithLeadingZeros_read_overflowRefused() throws IOException {
    byte[] tar = new TarBuilder()
        .pax('x', concat(record("size", "000000000000000000000999"), record("uid", "0000000000000000000000001000"),
            record("mtime", "-0000000000000000000001.25")))
        .entry(file("f", 0), new byte[999]).entry(file("g", 1), new byte[] {5}).end().bytes();
    List<TarEntries.Read> read = TarEntries.readAll(tar);
    assertThat(read.get(0).header().size()).isEqualTo(999);
    assertThat(read.get(0).header().uid()).isEqualTo(1000);
    assertThat(read.get(0).header().mtimeSeconds()).isEqualTo(-2);
    assertThat(read.get(0).header().mtimeNanos()).isEqualTo(750_000_000);
    assertThat(read.get(1).content()).containsExactly(5);
    byte[] overflow = new TarBuilder().pax('x', record("size", "0009223372036854775808"))
        .entry(file("f", 0)).end().bytes();
    assertThatThrownBy(() -> TarEntries.readAll(overflow)).isInstanceOf(LayerFormatException.class)
        .hasMessageContaining("PAX size value out of range");
  }

  @Test
  void severalPaxHeadersInARow_onlyTheLastApplies() throws IOException {
    byte[] tar = new TarBuilder()
        .pax('x', concat(record("path", "PAX1/first"), record("uid", "7"), record("SCHILY.xattr.user.a", "1")))
        .pax('x', record("path", "PAX2/long-path-name"))
        .entry(file("short", 0)).end().bytes();
    EntryHeader h = TarEntries.readAll(tar).get(0).header();
    assertThat(h.path()).isEqualTo(EntryPath.of("PAX2/long-path-name"));
    assertThat(h.uid()).isZero();
    assertThat(h.xattrs()).isEmpty();
  }

  @Test
  void gnuLongNameAndLink_endAtFirstNul() throws IOException {
    TarBuilder.Header longName = new TarBuilder.Header().name("././@LongLink").type('L');
    byte[] name = concat("dir/long-name".getBytes(UTF_8), new byte[] {0}, "junk".getBytes(UTF_8));
    longName.size = name.length;
    TarBuilder.Header longLink = new TarBuilder.Header().name("././@LongLink").type('K');
    byte[] target = concat("target".getBytes(UTF_8), new byte[] {0, 'x', 0});
    longLink.size = target.length;
    byte[] tar = new TarBuilder().entry(longName, name).entry(longLink, target)
        .entry(new TarBuilder.Header().name("placeholder").type('2')).end().bytes();
    EntryHeader h = TarEntries.readAll(tar).get(0).header();
    assertThat(h.path()).isEqualTo(EntryPath.of("dir/long-name"));
    assertThat(h.symlinkTarget()).isEqualTo("target".getBytes(UTF_8));
  }

  @Test
  void malformed_nulInPaxPathOrLinkpathOrKeyword_refused() {
    byte[] path = new TarBuilder().pax('x', record("path", "a\0b")).entry(file("x", 0)).end().bytes();
    assertThatThrownBy(() -> TarEntries.readAll(path)).isInstanceOf(LayerFormatException.class)
        .hasMessageContaining("name contains a NUL byte");
    byte[] link = new TarBuilder().pax('x', record("linkpath", "t\0u"))
        .entry(new TarBuilder.Header().name("s").type('2')).end().bytes();
    assertThatThrownBy(() -> TarEntries.readAll(link)).isInstanceOf(LayerFormatException.class)
        .hasMessageContaining("entry 's': link target contains a NUL byte");
    byte[] key = new TarBuilder().pax('x', record("SCHILY.xattr.user.null\0", "v")).entry(file("x", 0)).end().bytes();
    assertThatThrownBy(() -> TarEntries.readAll(key)).isInstanceOf(LayerFormatException.class)
        .hasMessageContaining("keyword 'SCHILY.xattr.user.null\\x00' contains a NUL byte");
  }

  @Test
  void rhtSelinuxRecord_becomesSecuritySelinuxXattr() throws IOException {
    byte[] tar = new TarBuilder().pax('x', record("RHT.security.selinux", "system_u:object_r:bin_t:s0"))
        .entry(file("f", 0)).end().bytes();
    assertThat(TarEntries.readAll(tar).get(0).header().xattrs())
        .containsOnlyKeys("security.selinux")
        .containsEntry("security.selinux", "system_u:object_r:bin_t:s0".getBytes(UTF_8));
  }

  @Test
  void malformed_hardLinkFollowedByDataItsSizeDeclares_refusedAtTheData() {
    // GNU tar reports this one too ("Skipping to next header", exit 2): the data is no header.
    TarBuilder.Header link = new TarBuilder.Header().name("l").type('1');
    link.linkname = "./a".getBytes(UTF_8);
    link.size = 4;
    byte[] tar = new TarBuilder().entry(file("a", 4), "data".getBytes(UTF_8)).entry(link, "data".getBytes(UTF_8))
        .entry(file("z", 1), new byte[] {7}).end().bytes();
    assertThatThrownBy(() -> TarEntries.readAll(tar)).isInstanceOf(LayerFormatException.class)
        .hasMessageContaining("bad header checksum");
  }

  @Test
  void rootEntry_isRootDirectory() throws IOException {
    TarBuilder.Header root = new TarBuilder.Header().name("./").type('5');
    root.mode = 0700;
    EntryHeader h = TarEntries.readAll(new TarBuilder().entry(root).end().bytes()).get(0).header();
    assertThat(h.path()).isEqualTo(EntryPath.ROOT);
    assertThat(h.mode()).isEqualTo(0700);
  }

  private static final class CountingStream extends FilterInputStream {
    long count;
    boolean closed;

    CountingStream(byte[] data) {
      super(new ByteArrayInputStream(data));
    }

    @Override
    public int read() throws IOException {
      int b = super.read();
      if (b >= 0) {
        count++;
      }
      return b;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      // Small reads, to exercise refills at odd places.
      int n = super.read(b, off, Math.min(len, 777));
      if (n > 0) {
        count += n;
      }
      return n;
    }

    @Override
    public void close() throws IOException {
      closed = true;
      super.close();
    }
  }
}
