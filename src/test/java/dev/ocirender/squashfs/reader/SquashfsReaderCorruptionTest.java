package dev.ocirender.squashfs.reader;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import dev.ocirender.testing.ExternalTools;
import dev.ocirender.verify.FsReaders;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Damaged images: each fails with a {@link SquashfsFormatException} that names what was being
 * read, within seconds and without allocating more than the image warrants (the JVM of the test
 * run has a normal heap; an absurd count that were trusted would throw OutOfMemoryError, which
 * these tests would report as a failure).
 */
class SquashfsReaderCorruptionTest {

  @TempDir static Path tmp;
  static byte[] good;
  static ByteBuffer sb;

  @BeforeAll
  static void makeImage() throws IOException {
    ExternalTools.assumeTools("mksquashfs", "setfattr");
    ExternalTools.bash(tmp, String.join("\n",
        "mkdir -p t/sub && cd t",
        "seq 1 60000 > sub/text && printf small > small && ln small small-link && ln -s small sym",
        "for i in $(seq 1 50); do printf $i > sub/f$i; done",
        "setfattr -n user.x -v value small"));
    ExternalTools.run(tmp, List.of("mksquashfs", "t", "good.sqfs", "-comp", "gzip", "-xattrs", "-noappend", "-quiet", "-no-progress"));
    good = Files.readAllBytes(tmp.resolve("good.sqfs"));
    sb = ByteBuffer.wrap(good).order(ByteOrder.LITTLE_ENDIAN);
    readAll(tmp.resolve("good.sqfs")); // the intact image reads
  }

  @Test
  void truncatedImage_namesTheTruncation() throws IOException {
    int used = (int) sb.getLong(40); // the rest is padding to 4 KiB
    for (int len : new int[] {0, 50, 96, 200, used / 2, used - 10, used - 1}) {
      Path p = write("truncated-" + len, Arrays.copyOf(good, len));
      assertThatThrownBy(() -> readAll(p)).as("truncated to %d bytes", len)
          .isInstanceOf(IOException.class)
          .hasMessageContainingAll("superblock");
    }
  }

  @Test
  void bytesUsedBeyondTheFile_isReportedUpFront() throws IOException {
    Path p = write("cut", Arrays.copyOf(good, (int) sb.getLong(40) - 1));
    assertThatThrownBy(() -> readAll(p)).hasMessageContaining("truncated or damaged");
  }

  @Test
  void badTableOffsets_nameTheTable() throws IOException {
    assertDamage("inode-start", 64, Long.MAX_VALUE / 3, "inode table start");
    assertDamage("dir-start", 72, sb.getLong(40) + 5, "directory table start");
    assertDamage("id-start", 48, 3, "id table start");
    assertDamage("frag-start", 80, -5, "fragment table start");
    assertDamage("xattr-start", 56, sb.getLong(40) * 2, "xattr id table start");
    // Inside the image but pointing at the wrong place: the directory table moved into the data.
    assertDamage("dir-moved", 72, sb.getLong(64) - 1000, "");
    // The root inode reference beyond the inode table.
    assertDamage("root-ref", 32, 0x7fff_0000_0000L, "root directory");
  }

  @Test
  void absurdCounts_failCleanly() throws IOException {
    assertDamage("ids", 26, (short) 0xffff, "id table");
    assertDamage("block-size", 12, 1 << 30, "block size");
    assertDamage("inodes", 4, 1, "directory loop"); // fewer inodes than directories
    assertDamage("version", 28, (short) 3, "version");
    assertDamage("compressor", 20, (short) 3, "lzo is not supported");
    assertDamage("compressor-unknown", 20, (short) 99, "unknown compressor");
  }

  @Test
  void corruptedCompressedDataBlock_namesTheBlock() throws IOException {
    // mksquashfs writes data blocks right after the superblock; sub/text's first block is there.
    byte[] bad = good.clone();
    for (int i = 200; i < 260; i++) {
      bad[i] ^= 0x5a;
    }
    Path p = write("data", bad);
    assertThatThrownBy(() -> readAll(p)).isInstanceOf(SquashfsFormatException.class)
        .hasMessageContaining("data block").hasMessageContaining("gzip");
  }

  @Test
  void corruptedMetadataBlock_namesTheTable() throws IOException {
    byte[] bad = good.clone();
    int inodeTable = (int) sb.getLong(64);
    for (int i = inodeTable + 10; i < inodeTable + 40; i++) {
      bad[i] ^= 0x33;
    }
    Path p = write("meta", bad);
    assertThatThrownBy(() -> readAll(p)).isInstanceOf(SquashfsFormatException.class)
        .hasMessageContaining("metadata block");
  }

  /** Random damage anywhere: never anything but an IOException, never a hang. */
  @Test
  void randomDamage_neverHangsNorThrowsAnythingElse() {
    Random random = new Random(8);
    assertTimeoutPreemptively(Duration.ofSeconds(120), () -> {
      int failures = 0;
      for (int round = 0; round < 300; round++) {
        byte[] bad = good.clone();
        int flips = 1 + random.nextInt(8);
        for (int i = 0; i < flips; i++) {
          int at = round % 3 == 0 ? random.nextInt(96) : (int) sb.getLong(64) + random.nextInt(good.length - (int) sb.getLong(64));
          bad[at] = (byte) random.nextInt(256);
        }
        Path p = write("fuzz", bad);
        try {
          readAll(p);
        } catch (IOException e) {
          failures++;
          assertThat(e.getMessage()).isNotBlank();
        }
      }
      assertThat(failures).isPositive();
    });
  }

  private static void assertDamage(String name, int offset, long value, String expected) throws IOException {
    byte[] bad = good.clone();
    ByteBuffer b = ByteBuffer.wrap(bad).order(ByteOrder.LITTLE_ENDIAN);
    switch (fieldSize(offset)) {
      case 2 -> b.putShort(offset, (short) value);
      case 4 -> b.putInt(offset, (int) value);
      default -> b.putLong(offset, value);
    }
    Path p = write(name, bad);
    assertTimeoutPreemptively(Duration.ofSeconds(20), () ->
        assertThatThrownBy(() -> readAll(p)).as(name).isInstanceOf(SquashfsFormatException.class).hasMessageContaining(expected));
  }

  private static int fieldSize(int offset) {
    if (offset >= 32) {
      return 8;
    }
    return offset >= 20 ? 2 : 4;
  }

  private static Path write(String name, byte[] bytes) throws IOException {
    Path p = tmp.resolve(name + ".sqfs");
    Files.write(p, bytes);
    return p;
  }

  /** Reads every entry and every byte of content, as verify does. */
  private static void readAll(Path p) throws IOException {
    try (SquashfsReader r = SquashfsReader.open(p)) {
      byte[] buf = new byte[65536];
      r.walk((h, content) -> {
        if (content != null) {
          while (content.read(buf) > 0) {
            // drain
          }
        }
      });
    }
    FsReaders.readSquashfs(p);
  }
}
