package dev.ocirender.layer;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Reads archives written by Commons Compress, in its POSIX and its GNU/star dialects. */
class LayerTarReaderCommonsCompressTest {

  private static final String LONG_NAME = "deep/" + "d".repeat(150) + "/" + "f".repeat(150);
  private static final String LONG_TARGET = "../" + "t".repeat(150);

  @ParameterizedTest(name = "longFileMode={0} bigNumberMode={1}")
  @CsvSource({"3, 2", "2, 1"}) // POSIX/POSIX and GNU/STAR, see TarArchiveOutputStream constants
  void commonsCompressArchive_everyFieldAsPutIn(int longFileMode, int bigNumberMode) throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (TarArchiveOutputStream tar = new TarArchiveOutputStream(bytes)) {
      tar.setLongFileMode(longFileMode);
      tar.setBigNumberMode(bigNumberMode);
      TarArchiveEntry dir = new TarArchiveEntry("d/", TarConstants.LF_DIR);
      dir.setMode(02755);
      add(tar, dir, null);
      TarArchiveEntry big = new TarArchiveEntry(LONG_NAME);
      big.setMode(04711);
      big.setUserId(3_000_000L);
      big.setGroupId(4_000_000L);
      big.setUserName("a-rather-long-user-name-over-32-bytes");
      big.setGroupName("grp");
      big.setModTime(FileTime.from(Instant.ofEpochSecond(1_700_000_000L)));
      big.setSize(11);
      if (longFileMode == TarArchiveOutputStream.LONGFILE_POSIX) {
        big.addPaxHeader("SCHILY.xattr.user.note", "caf\u00e9");
      }
      add(tar, big, "hello world".getBytes(UTF_8));
      TarArchiveEntry sym = new TarArchiveEntry("sym", TarConstants.LF_SYMLINK);
      sym.setLinkName(LONG_TARGET);
      add(tar, sym, null);
      TarArchiveEntry hard = new TarArchiveEntry("hard", TarConstants.LF_LINK);
      hard.setLinkName(LONG_NAME);
      add(tar, hard, null);
      TarArchiveEntry chr = new TarArchiveEntry("dev/null", TarConstants.LF_CHR);
      chr.setDevMajor(1);
      chr.setDevMinor(3);
      chr.setMode(0666);
      add(tar, chr, null);
      TarArchiveEntry fifo = new TarArchiveEntry("pipe", TarConstants.LF_FIFO);
      add(tar, fifo, null);
    }

    List<TarEntries.Read> read = TarEntries.readAll(bytes.toByteArray());
    assertThat(read).extracting(r -> r.header().path().toString())
        .containsExactly("d", LONG_NAME, "sym", "hard", "dev/null", "pipe");
    EntryHeader d = read.get(0).header();
    assertThat(d.type()).isEqualTo(EntryType.DIRECTORY);
    assertThat(d.mode()).isEqualTo(02755);
    EntryHeader f = read.get(1).header();
    assertThat(f.type()).isEqualTo(EntryType.FILE);
    assertThat(f.mode()).isEqualTo(04711);
    assertThat(f.uid()).isEqualTo(3_000_000L);
    assertThat(f.gid()).isEqualTo(4_000_000L);
    assertThat(f.groupName()).isEqualTo("grp");
    assertThat(f.mtimeSeconds()).isEqualTo(1_700_000_000L);
    assertThat(read.get(1).content()).isEqualTo("hello world".getBytes(UTF_8));
    // Commons Compress cuts owner names to the 32-byte field (no PAX uname): all 32 bytes, no NUL.
    assertThat(f.userName()).isEqualTo("a-rather-long-user-name-over-32-");
    if (longFileMode == TarArchiveOutputStream.LONGFILE_POSIX) {
      assertThat(f.xattrs()).containsOnlyKeys("user.note");
      assertThat(f.xattrs().get("user.note")).isEqualTo("caf\u00e9".getBytes(UTF_8));
    }
    assertThat(read.get(2).header().symlinkTarget()).isEqualTo(LONG_TARGET.getBytes(UTF_8));
    assertThat(read.get(3).header().linkTarget()).isEqualTo(EntryPath.of(LONG_NAME));
    EntryHeader c = read.get(4).header();
    assertThat(c.type()).isEqualTo(EntryType.CHAR_DEVICE);
    assertThat(Map.of("major", c.devMajor(), "minor", c.devMinor(), "mode", c.mode()))
        .isEqualTo(Map.of("major", 1, "minor", 3, "mode", 0666));
    assertThat(read.get(5).header().type()).isEqualTo(EntryType.FIFO);
  }

  private static void add(TarArchiveOutputStream tar, TarArchiveEntry e, byte[] content) throws IOException {
    tar.putArchiveEntry(e);
    if (content != null) {
      tar.write(content);
    }
    tar.closeArchiveEntry();
  }
}
