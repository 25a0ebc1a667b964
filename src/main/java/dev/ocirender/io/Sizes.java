package dev.ocirender.io;

import java.time.Duration;
import java.util.Locale;

/** Human-readable sizes and durations for terminal output (binary units, one decimal). */
public final class Sizes {
  private Sizes() {}

  public static String bytes(long n) {
    if (n < 1024) {
      return n + " B";
    }
    String[] units = {"KiB", "MiB", "GiB", "TiB"};
    double v = n;
    int u = -1;
    while (v >= 1024 && u < units.length - 1) {
      v /= 1024;
      u++;
    }
    return String.format(Locale.ROOT, "%.1f %s", v, units[u]);
  }

  public static String duration(Duration d) {
    double seconds = d.toNanos() / 1e9;
    return seconds < 60
        ? String.format(Locale.ROOT, "%.2f s", seconds)
        : String.format(Locale.ROOT, "%d min %02d s", d.toMinutes(), d.toSecondsPart());
  }
}
