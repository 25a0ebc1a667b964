package dev.ocirender.testing;

import static dev.ocirender.testing.LayerBuilder.layer;
import static org.assertj.core.api.Assertions.assertThat;

import dev.ocirender.layer.EntryType;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.GZIPInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.compressors.CompressorStreamFactory;
import org.apache.commons.compress.compressors.gzip.GzipCompressorInputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The builder's tar bytes, read back by Commons Compress (and by hand where it cannot read exactly). */
class LayerBuilderTest {

  private static List<TarArchiveEntry> read(byte[] tar, String encoding) throws IOException {
    List<TarArchiveEntry> out = new ArrayList<>();
    try (TarArchiveInputStream in = new TarArchiveInputStream(new ByteArrayInputStream(tar), encoding)) {
      TarArchiveEntry e;
      while ((e = in.getNextEntry()) != null) {
        out.add(e);
      }
    }
    return out;
  }

  @Test
  void ordinaryEntries_readBackByCommonsCompress() throws IOException {
    String longName = "d/" + "n".repeat(150) + "/" + "m".repeat(150);
    String longTarget = "t".repeat(120);
    byte[] tar = layer()
        .dir("etc", 0755)
        .file("etc/passwd", "root:x:0:0", 0644).owner(70_000, 3_000_000).mtime(5, 123_456_700)
        .xattr("user.comment", "hello")
        .symlink("bin/sh", longTarget)
        .hardlink("bin/ls", longName)
        .file(longName, "long", 0600)
        .whiteout("etc/motd")
        .opaque("var/cache")
        .fifo("run/p", 0620)
        .charDevice("dev/null", 1, 3)
        .blockDevice("dev/sda", 8, 16)
        .tar();
    List<TarArchiveEntry> es = read(tar, "UTF-8");
    assertThat(es).extracting(TarArchiveEntry::getName).containsExactly("etc/", "etc/passwd", "bin/sh", "bin/ls",
        longName, "etc/.wh.motd", "var/cache/.wh..wh..opq", "run/p", "dev/null", "dev/sda");
    TarArchiveEntry passwd = es.get(1);
    assertThat(passwd.getLongUserId()).isEqualTo(70_000);
    assertThat(passwd.getLongGroupId()).isEqualTo(3_000_000);
    assertThat(passwd.getLastModifiedTime().toInstant().getNano()).isEqualTo(123_456_700);
    assertThat(passwd.getExtraPaxHeaders()).containsEntry("SCHILY.xattr.user.comment", "hello");
    assertThat(es.get(2).getLinkName()).isEqualTo(longTarget);
    assertThat(es.get(3).isLink()).isTrue();
    assertThat(es.get(3).getLinkName()).isEqualTo(longName);
    assertThat(es.get(7).isFIFO()).isTrue();
    assertThat(es.get(9).isBlockDevice()).isTrue();
    assertThat(es.get(9).getDevMinor()).isEqualTo(16);
  }

  @Test
  void rawNames_areWrittenAsGiven() throws IOException {
    byte[] tar = layer()
        .rawEntry("./x", EntryType.FILE, 0644)
        .rawEntry("/abs", EntryType.FILE, 0644)
        .rawEntry("a//b", EntryType.FILE, 0644)
        .rawEntry(".", EntryType.DIRECTORY, 0700)
        .rawEntry("../up", EntryType.FILE, 0644)
        .tar();
    // Commons Compress's reader appends '/' to directory names, so "." is checked in the header itself.
    assertThat(read(tar, "UTF-8")).extracting(TarArchiveEntry::getName)
        .containsExactly("./x", "/abs", "a//b", "./", "../up");
    assertThat(java.util.Arrays.copyOfRange(tar, 3 * 512, 3 * 512 + 2)).containsExactly('.', 0);
  }

  @Test
  void nonUtf8Names_shortAndLong_areByteExact() throws IOException {
    byte[] shortName = {'c', 'a', 'f', (byte) 0xe9};
    byte[] longName = new byte[180];
    java.util.Arrays.fill(longName, (byte) 'x');
    longName[100] = (byte) 0xff;
    byte[] tar = layer().rawEntry(shortName, EntryType.FILE, 0644).rawEntry(longName, EntryType.FILE, 0644).tar();
    // Latin-1 maps bytes one to one, so these names come back exact (the long one via the GNU L record).
    List<TarArchiveEntry> es = read(tar, "ISO-8859-1");
    assertThat(es.get(0).getName().getBytes(StandardCharsets.ISO_8859_1)).isEqualTo(shortName);
    assertThat(es.get(1).getName().getBytes(StandardCharsets.ISO_8859_1)).isEqualTo(longName);
  }

  @Test
  void binaryXattr_isAnExactPaxRecord() throws IOException {
    byte[] cap = {0x01, 0x00, 0x00, 0x02, (byte) 0xc0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    byte[] tar = layer().file("bin/ping", "p", 04755).xattr("security.capability", cap).owner(5_000_000, 1).tar();
    List<TarArchiveEntry> es = read(tar, "UTF-8");
    assertThat(es).extracting(TarArchiveEntry::getName).containsExactly("bin/ping");
    assertThat(es.get(0).getLongUserId()).isEqualTo(5_000_000);
    assertThat(es.get(0).getMode() & 07777).isEqualTo(04755);
    byte[] record = LayerBuilder.paxRecords(java.util.Map.of("SCHILY.xattr.security.capability", cap));
    assertThat(indexOf(tar, record)).as("the exact record is in the tar").isPositive();
    // "57 SCHILY.xattr.security.capability=" + 20 value bytes + "\n": 3 + 33 + 20 + 1 bytes.
    assertThat(new String(record, 0, 3, StandardCharsets.US_ASCII)).isEqualTo("57 ");
    assertThat(record).hasSize(57);
  }

  @Test
  void compressions_roundTrip() throws Exception {
    byte[] tar = layer().file("a", "x".repeat(5000), 0644).file("b", "y", 0644).tar();
    for (Compression c : Compression.values()) {
      byte[] blob = c.compress(tar);
      byte[] back = switch (c) {
        case NONE -> blob;
        case GZIP, GZIP_MULTI_MEMBER -> new GZIPInputStream(new ByteArrayInputStream(blob)).readAllBytes();
        case ZSTD -> decompress(CompressorStreamFactory.ZSTANDARD, blob);
        case BZIP2 -> decompress(CompressorStreamFactory.BZIP2, blob);
        case XZ -> decompress(CompressorStreamFactory.XZ, blob);
      };
      assertThat(back).as(c.name()).isEqualTo(tar);
    }
  }

  @Test
  void multiMemberGzip_reallyHasTwoMembers() throws IOException {
    byte[] tar = layer().file("a", "x".repeat(3000), 0644).tar();
    byte[] blob = Compression.GZIP_MULTI_MEMBER.compress(tar);
    byte[] firstOnly;
    try (InputStream in = new GzipCompressorInputStream(new ByteArrayInputStream(blob), false)) {
      firstOnly = in.readAllBytes();
    }
    assertThat(firstOnly.length).isGreaterThan(0).isLessThan(tar.length);
    assertThat(firstOnly.length % 512).as("split off the record grid").isNotZero();
  }

  @Test
  void tarReadBackByFsSnapshot_equalsTheModelOfTheSameLayer() throws IOException {
    LayerBuilder l = layer()
        .rawEntry("./", EntryType.DIRECTORY, 0755)
        .dir("etc", 0750, 1, 2, 77)
        .file("etc/passwd", "root", 0644).owner(70_000, 3_000_000).mtime(1_700_000_000, 400)
        .xattr("user.k", "v")
        .dir("bin", 0755)
        .symlink("bin/sh", "busybox")
        .file("bin/busybox", "bb", 0755)
        .hardlink("bin/ls", "bin/busybox")
        .dir("dev", 0755)
        .charDevice("dev/null", 1, 3)
        .fifo("dev/p", 0600);
    FsSnapshot model = OverlayModel.of(l).snapshot();
    FsSnapshot tar = FsSnapshot.fromTar(new ByteArrayInputStream(l.tar()));
    model.assertMatches(tar, FsSnapshot.Compare.EXACT);
  }

  @Test
  void imageLayout_hasIndexManifestConfigAndBlobs(@TempDir Path dir) throws IOException {
    ImageBuilder.Layout layout = ImageBuilder.image()
        .layer(layer().file("a", "1", 0644), Compression.ZSTD)
        .layer(layer().whiteout("a"))
        .tag("v1")
        .writeLayout(dir);
    assertThat(dir.resolve("oci-layout")).content().contains("\"imageLayoutVersion\"");
    assertThat(dir.resolve("index.json")).content().contains("org.opencontainers.image.ref.name", "v1",
        layout.manifest().digest().toString());
    assertThat(layout.layers()).hasSize(2);
    assertThat(layout.layers().get(0).descriptor().mediaType()).endsWith("+zstd");
    byte[] blob;
    try (InputStream in = layout.layers().get(1).openRaw()) {
      blob = in.readAllBytes();
    }
    assertThat(blob.length).isEqualTo(layout.layers().get(1).descriptor().size());
    String manifest = Files.readString(dir.resolve("blobs/sha256/" + layout.manifest().digest().hex()));
    assertThat(manifest).contains(layout.layers().get(0).descriptor().digest().toString());
    String configDigest = manifest.replaceAll("(?s).*\"config\"\\s*:\\s*\\{[^}]*\"digest\"\\s*:\\s*\"sha256:([0-9a-f]{64})\".*", "$1");
    assertThat(Files.readString(dir.resolve("blobs/sha256/" + configDigest))).contains("diff_ids",
        dev.ocirender.image.Digest.sha256Of(layer().whiteout("a").tar()).toString());
  }

  private static byte[] decompress(String format, byte[] blob) throws Exception {
    try (InputStream in = new CompressorStreamFactory().createCompressorInputStream(format, new ByteArrayInputStream(blob))) {
      return in.readAllBytes();
    }
  }

  private static int indexOf(byte[] hay, byte[] needle) {
    outer:
    for (int i = 0; i + needle.length <= hay.length; i++) {
      for (int j = 0; j < needle.length; j++) {
        if (hay[i + j] != needle[j]) {
          continue outer;
        }
      }
      return i;
    }
    return -1;
  }
}
