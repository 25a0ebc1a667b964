package dev.ocirender.io;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.Locale;
import org.junit.jupiter.api.Test;

class SizesTest {

  /** The reference: the JDK's formatter, HALF_UP on the exact quotient. */
  private static String formatted(long n) {
    String[] units = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    int u = 0;
    long unit = 1024;
    while (u < units.length - 1 && n / unit >= 1024) {
      unit <<= 10;
      u++;
    }
    return String.format(Locale.ROOT, "%.1f %s",
        new java.math.BigDecimal(n).divide(new java.math.BigDecimal(unit), 10, java.math.RoundingMode.DOWN), units[u]);
  }

  @Test
  void bytes_matchesTheFormatterOnEveryUnitBoundaryAndAround() {
    assertThat(Sizes.bytes(0)).isEqualTo("0 B");
    assertThat(Sizes.bytes(1023)).isEqualTo("1023 B");
    assertThat(Sizes.bytes(1024)).isEqualTo("1.0 KiB");
    assertThat(Sizes.bytes(5222)).isEqualTo("5.1 KiB");
    assertThat(Sizes.bytes(1536L << 20)).isEqualTo("1.5 GiB");
    assertThat(Sizes.bytes(Long.MAX_VALUE)).isEqualTo("8.0 EiB");
    for (int shift = 10; shift < 63; shift += 10) {
      for (long n : new long[] {(1L << shift) - 1, 1L << shift, (1L << shift) + 51, 1023L << shift, (1024L << shift) - 1}) {
        if (n >= 1024 && n > 0) {
          assertThat(Sizes.bytes(n)).as("%d", n).isEqualTo(formatted(n));
        }
      }
    }
  }

  @Test
  void duration_hasTwoDecimalsUnderAMinute_thenMinutesAndSeconds() {
    assertThat(Sizes.duration(Duration.ofMillis(160))).isEqualTo("0.16 s");
    assertThat(Sizes.duration(Duration.ofMillis(7))).isEqualTo("0.01 s");
    assertThat(Sizes.duration(Duration.ofNanos(4_999_999))).isEqualTo("0.00 s");
    assertThat(Sizes.duration(Duration.ofMillis(12_345))).isEqualTo("12.35 s");
    assertThat(Sizes.duration(Duration.ofMillis(59_990))).isEqualTo("59.99 s");
    assertThat(Sizes.duration(Duration.ofMillis(59_996))).isEqualTo("60.00 s");
    assertThat(Sizes.duration(Duration.ofSeconds(65))).isEqualTo("1 min 05 s");
    assertThat(Sizes.duration(Duration.ofMinutes(75).plusSeconds(12))).isEqualTo("75 min 12 s");
    for (long ms = 0; ms < 60_000; ms += 997) {
      assertThat(Sizes.duration(Duration.ofMillis(ms))).isEqualTo(String.format(Locale.ROOT, "%.2f s", ms / 1000.0));
    }
  }
}
