package dev.ocirender.layer.inflate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ocirender.testing.ExternalTools;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.zip.CRC32;
import java.util.zip.Deflater;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Differential tests: {@link IsalGzipInputStream} against the JDK's {@link GZIPInputStream} on the
 * same generated gzip bytes (JDK's deflater at several levels, GNU gzip, hand-built headers with
 * every optional field), for the decoded bytes and for the kind of failure.
 */
class IsalGzipInputStreamTest {

  @BeforeAll
  static void isalLoads() {
    if (Isal.failure() != null) {
      ExternalTools.skipOrFail("ISA-L (Debian libisal2) not loadable: " + Isal.failure());
    }
  }

  @Test
  void generatedStreams_decodeLikeGzipInputStream() throws IOException {
    Random random = new Random(14);
    for (int round = 0; round < 60; round++) {
      byte[] data = sample(random, round);
      byte[] gz = gzip(data, round % 10);
      assertSameAsJdk(gz, "round " + round);
      assertThat(decodeIsal(gz, 1 + random.nextInt(70_000))).isEqualTo(data);
    }
  }

  @Test
  void emptyInput_andOneByteReads() throws IOException {
    assertSameAsJdk(gzip(new byte[0], 6), "empty");
    byte[] data = sample(new Random(2), 3);
    byte[] gz = gzip(data, 6);
    try (InputStream in = new IsalGzipInputStream(new OneByteReads(new ByteArrayInputStream(gz)))) {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      int b;
      while ((b = in.read()) >= 0) {
        out.write(b);
      }
      assertThat(out.toByteArray()).isEqualTo(data);
    }
  }

  @Test
  void concatenatedMembers_andTrailingGarbage_asGzipInputStream() throws IOException {
    Random random = new Random(7);
    ByteArrayOutputStream members = new ByteArrayOutputStream();
    for (int i = 0; i < 5; i++) {
      members.writeBytes(gzip(sample(random, i * 7), i * 2));
      members.writeBytes(gzip(new byte[0], 6)); // empty members in between
    }
    byte[] multi = members.toByteArray();
    assertSameAsJdk(multi, "five members");
    for (String garbage : new String[] {"x", "garbage after the last member", "\u001f", "\u001f\u008b\u0007 bad method"}) {
      byte[] withGarbage = concat(multi, garbage.getBytes(StandardCharsets.ISO_8859_1));
      assertSameAsJdk(withGarbage, "garbage " + garbage);
    }
    byte[] zeros = concat(multi, new byte[1024]); // padded, as some blob stores do
    assertSameAsJdk(zeros, "zero padding");
  }

  @Test
  void optionalHeaderFields_extraNameCommentHeaderCrc() throws IOException {
    byte[] data = sample(new Random(3), 5);
    byte[] gz = handBuiltMember(data, true);
    assertSameAsJdk(gz, "all optional fields");
    assertSameAsJdk(concat(gz, gz), "two such members");
    byte[] badHcrc = gz.clone();
    badHcrc[10 + 8 + "name.tar\0".length() + "comment\0".length()] ^= 1; // the header CRC's first byte
    assertSameAsJdk(badHcrc, "bad header crc");
    assertSameAsJdk(concat(gzip(data, 1), badHcrc), "bad header crc in the second member");
  }

  @Test
  void gnuGzipOutput_decodesLikeGzipInputStream(@TempDir Path dir) throws IOException {
    ExternalTools.require("gzip");
    byte[] data = sample(new Random(9), 4);
    Path file = dir.resolve("named.tar");
    Files.write(file, data);
    for (String level : new String[] {"-1", "-6", "-9"}) {
      byte[] gz = ExternalTools.run(dir, List.of("gzip", level, "-c", "named.tar"));
      assertSameAsJdk(gz, "gzip " + level);
      assertThat(decodeIsal(gz, 8192)).isEqualTo(data);
    }
  }

  @Test
  void truncatedStreams_failAsGzipInputStreamDoes() throws IOException {
    byte[] data = sample(new Random(5), 2);
    byte[] gz = concat(gzip(data, 6), gzip(data, 1));
    int checked = 0;
    for (int cut = 1; cut < gz.length; cut += Math.max(1, gz.length / 97)) {
      byte[] truncated = java.util.Arrays.copyOf(gz, cut);
      assertSameAsJdk(truncated, "cut at " + cut);
      checked++;
    }
    // Inside the first trailer: the checksum or the length is missing.
    int firstEnd = gzip(data, 6).length;
    for (int cut = firstEnd - 8; cut < firstEnd; cut++) {
      byte[] truncated = java.util.Arrays.copyOf(gz, cut);
      assertThatThrownBy(() -> decodeIsal(truncated, 4096)).isInstanceOf(EOFException.class);
    }
    assertThat(checked).isGreaterThan(90);
  }

  @Test
  void corruptStreams_failAsGzipInputStreamDoes() throws IOException {
    Random random = new Random(11);
    byte[] data = sample(random, 1);
    byte[] gz = gzip(data, 6);
    int failures = 0;
    for (int i = 0; i < 300; i++) {
      byte[] corrupt = gz.clone();
      int at = 10 + random.nextInt(gz.length - 10);
      corrupt[at] ^= (byte) (1 << random.nextInt(8));
      Outcome jdk = outcome(() -> new GZIPInputStream(new ByteArrayInputStream(corrupt)));
      Outcome isal = outcome(() -> new IsalGzipInputStream(new ByteArrayInputStream(corrupt)));
      assertThat(isal.failure).as("flip at %d: jdk %s", at, jdk).isEqualTo(jdk.failure);
      if (jdk.failure == null) {
        assertThat(isal.bytes).isEqualTo(jdk.bytes);
      } else {
        failures++;
      }
    }
    assertThat(failures).as("a flipped bit is almost always detected").isGreaterThan(250);
    byte[] badCrc = gz.clone();
    badCrc[gz.length - 6] ^= 1;
    assertThatThrownBy(() -> decodeIsal(badCrc, 4096)).hasMessage("Corrupt GZIP trailer");
    byte[] badLength = gz.clone();
    badLength[gz.length - 1] ^= 1;
    assertThatThrownBy(() -> decodeIsal(badLength, 4096)).hasMessage("Corrupt GZIP trailer");
  }

  @Test
  void notGzip_failsAtOpen() {
    assertThatThrownBy(() -> new IsalGzipInputStream(new ByteArrayInputStream("plain".getBytes(StandardCharsets.US_ASCII))))
        .isInstanceOf(EOFException.class);
    assertThatThrownBy(() -> new IsalGzipInputStream(new ByteArrayInputStream("plain text, not gzip".getBytes(StandardCharsets.US_ASCII))))
        .isInstanceOf(java.util.zip.ZipException.class).hasMessage("Not in GZIP format");
  }

  /**
   * More than 4 GiB in one member: the trailer's ISIZE is the length modulo 2^32 (RFC 1952), so a
   * decoder that compared full lengths would reject it. Built by repeating one independently
   * compressed (full-flush) MiB of zeros, so the input is 4 MiB and the test costs the decoding.
   */
  @Test
  void memberOver4GiB_lengthWrapsInTrailer() throws IOException {
    int mib = 1 << 20;
    long blocks = 4096 + 3;
    Deflater deflater = new Deflater(Deflater.DEFAULT_COMPRESSION, true);
    byte[] zeros = new byte[mib];
    deflater.setInput(zeros);
    byte[] unit = drain(deflater, Deflater.FULL_FLUSH);
    deflater.finish();
    byte[] end = drain(deflater, Deflater.NO_FLUSH);
    deflater.end();
    CRC32 crc = new CRC32();
    for (long i = 0; i < blocks; i++) {
      crc.update(zeros);
    }
    long length = blocks * mib;
    ByteArrayOutputStream gz = new ByteArrayOutputStream();
    gz.write(new byte[] {0x1f, (byte) 0x8b, 8, 0, 0, 0, 0, 0, 0, (byte) 255});
    for (long i = 0; i < blocks; i++) {
      gz.writeBytes(unit);
    }
    gz.writeBytes(end);
    gz.writeBytes(le32(crc.getValue()));
    gz.writeBytes(le32(length));
    byte[] bytes = gz.toByteArray();
    assertThat(countAndCheckZeros(new IsalGzipInputStream(new ByteArrayInputStream(bytes)))).isEqualTo(length);
    bytes[bytes.length - 1] ^= 1;
    assertThatThrownBy(() -> countAndCheckZeros(new IsalGzipInputStream(new ByteArrayInputStream(bytes))))
        .hasMessage("Corrupt GZIP trailer");
  }

  // --- helpers ---

  private record Outcome(byte[] bytes, Class<?> failure) {
    @Override
    public String toString() {
      return failure == null ? bytes.length + " bytes" : failure.getSimpleName();
    }
  }

  private interface Opener {
    InputStream open() throws IOException;
  }

  private static Outcome outcome(Opener opener) {
    try (InputStream in = opener.open()) {
      return new Outcome(in.readAllBytes(), null);
    } catch (IOException e) {
      return new Outcome(null, e.getClass());
    }
  }

  private static void assertSameAsJdk(byte[] gz, String what) {
    // The buffer size the layer decoder gave GZIPInputStream: what it ignores at the end depends on it.
    Outcome jdk = outcome(() -> new GZIPInputStream(new ByteArrayInputStream(gz), 64 * 1024));
    Outcome isal = outcome(() -> new IsalGzipInputStream(new ByteArrayInputStream(gz)));
    assertThat(isal.failure).as(what + ": failure kind (jdk: %s)", jdk).isEqualTo(jdk.failure);
    if (jdk.failure == null) {
      assertThat(isal.bytes).as(what).isEqualTo(jdk.bytes);
    }
  }

  private static byte[] decodeIsal(byte[] gz, int readSize) throws IOException {
    try (InputStream in = new IsalGzipInputStream(new ByteArrayInputStream(gz))) {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      byte[] buf = new byte[readSize];
      int n;
      while ((n = in.read(buf)) >= 0) {
        out.write(buf, 0, n);
      }
      return out.toByteArray();
    }
  }

  private static long countAndCheckZeros(InputStream in) throws IOException {
    try (in) {
      byte[] buf = new byte[1 << 20];
      long total = 0;
      int n;
      while ((n = in.read(buf)) >= 0) {
        total += n;
      }
      return total;
    }
  }

  /** Random, text-like, runs, and a mix: what layers hold, at sizes around the buffer sizes. */
  private static byte[] sample(Random random, int round) {
    int[] sizes = {0, 1, 100, 32 * 1024, 64 * 1024 + 7, 256 * 1024, 256 * 1024 + 1, 1 << 20, 3 << 20};
    int size = sizes[round % sizes.length];
    byte[] data = new byte[size];
    switch (round % 3) {
      case 0 -> random.nextBytes(data);
      case 1 -> {
        String[] words = {"usr", "share", "lib", "/", "\n", "the ", "libc.so.6 ", "0755 ", "man"};
        for (int i = 0; i < size; ) {
          byte[] w = words[random.nextInt(words.length)].getBytes(StandardCharsets.US_ASCII);
          for (int j = 0; j < w.length && i < size; j++) {
            data[i++] = w[j];
          }
        }
      }
      default -> {
        for (int i = 0; i < size; ) {
          int run = 1 + random.nextInt(5000);
          byte value = random.nextBoolean() ? 0 : (byte) random.nextInt();
          for (int j = 0; j < run && i < size; j++) {
            data[i++] = random.nextInt(8) == 0 ? (byte) random.nextInt() : value;
          }
        }
      }
    }
    return data;
  }

  private static byte[] gzip(byte[] data, int level) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (GZIPOutputStream gz = new GZIPOutputStream(out) {
      {
        def.setLevel(level);
      }
    }) {
      gz.write(data);
    }
    return out.toByteArray();
  }

  /** A member with FEXTRA (6 bytes), FNAME, FCOMMENT and FHCRC, as RFC 1952 lays them out. */
  private static byte[] handBuiltMember(byte[] data, boolean hcrc) {
    ByteArrayOutputStream header = new ByteArrayOutputStream();
    header.writeBytes(new byte[] {0x1f, (byte) 0x8b, 8, (byte) (4 | 8 | 16 | (hcrc ? 2 : 0)), 1, 2, 3, 4, 0, 3});
    header.writeBytes(new byte[] {6, 0, 'A', 'B', 2, 0, 'x', 'y'});
    header.writeBytes("name.tar\0".getBytes(StandardCharsets.US_ASCII));
    header.writeBytes("comment\0".getBytes(StandardCharsets.US_ASCII));
    CRC32 headerCrc = new CRC32();
    headerCrc.update(header.toByteArray());
    if (hcrc) {
      header.write((int) headerCrc.getValue() & 0xff);
      header.write((int) (headerCrc.getValue() >> 8) & 0xff);
    }
    Deflater deflater = new Deflater(6, true);
    deflater.setInput(data);
    deflater.finish();
    header.writeBytes(drain(deflater, Deflater.NO_FLUSH));
    deflater.end();
    CRC32 crc = new CRC32();
    crc.update(data);
    header.writeBytes(le32(crc.getValue()));
    header.writeBytes(le32(data.length));
    return header.toByteArray();
  }

  private static byte[] drain(Deflater deflater, int flush) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    byte[] buf = new byte[64 * 1024];
    while (true) {
      int n = deflater.deflate(buf, 0, buf.length, flush);
      out.write(buf, 0, n);
      if (deflater.finished() || (n < buf.length && deflater.needsInput())) {
        return out.toByteArray();
      }
    }
  }

  private static byte[] le32(long v) {
    return new byte[] {(byte) v, (byte) (v >> 8), (byte) (v >> 16), (byte) (v >> 24)};
  }

  private static byte[] concat(byte[] a, byte[] b) {
    byte[] r = java.util.Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, r, a.length, b.length);
    return r;
  }

  /** Hands out one byte per read, to put every header and trailer boundary across refills. */
  private static final class OneByteReads extends FilterInputStream {
    OneByteReads(InputStream in) {
      super(in);
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      return super.read(b, off, Math.min(1, len));
    }
  }
}
