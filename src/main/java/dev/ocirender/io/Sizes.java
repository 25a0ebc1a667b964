package dev.ocirender.io;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.time.Duration;

/**
 * Human-readable sizes and durations for terminal output (binary units, one decimal).
 *
 * <p>Plain arithmetic rather than {@code String.format}: the formatter's first use loads the locale
 * providers, a few milliseconds of every CLI run spent on its last line.
 */
public final class Sizes {
  private Sizes() {}

  private static final String[] UNITS = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};

  public static String bytes(long n) {
    if (n < 1024) {
      return n + " B";
    }
    int u = 0;
    long unit = 1024;
    // Next unit once the value would round to 1024.0 or more in this one.
    while (u < UNITS.length - 1 && n / unit >= 1024) {
      unit <<= 10;
      u++;
    }
    BigDecimal v = BigDecimal.valueOf(n).divide(BigDecimal.valueOf(unit), 1, RoundingMode.HALF_UP);
    return v.toPlainString() + " " + UNITS[u];
  }

  public static String duration(Duration d) {
    long nanos = d.toNanos();
    if (nanos < 60_000_000_000L) {
      long hundredths = (nanos + 5_000_000) / 10_000_000;
      long fraction = hundredths % 100;
      return hundredths / 100 + (fraction < 10 ? ".0" : ".") + fraction + " s";
    }
    long seconds = d.toSecondsPart();
    return d.toMinutes() + " min " + (seconds < 10 ? "0" : "") + seconds + " s";
  }
}
