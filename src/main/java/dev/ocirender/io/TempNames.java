package dev.ocirender.io;

import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.regex.Pattern;

/**
 * Names for temporary files and directories that must not collide with anything else, nor be
 * guessable by another user of a shared directory: 12 hex digits from {@link SecureRandom}.
 *
 * <p>Every temporary output is named {@code .NAME.tmp-XXXXXXXXXXXX} beside its final name
 * {@code NAME} (a directory being replaced is {@code .NAME.old-XXXXXXXXXXXX}), so that a cleanup can
 * recognise leftovers by that pattern; keep it when adding a caller.
 */
public final class TempNames {

  /** The kind of a temporary output beside its final name. */
  public static final String TMP = ".tmp-";
  /** The kind of a replaced directory kept until the new one is in place. */
  public static final String OLD = ".old-";

  /**
   * What {@link #hidden} makes with {@link #TMP} or {@link #OLD}: the one definition cleanups use to
   * recognise our leftovers ({@code 8,} rather than 12 digits: older releases used shorter suffixes).
   */
  public static final Pattern HIDDEN = Pattern.compile("\\..+(" + Pattern.quote(TMP) + "|" + Pattern.quote(OLD)
      + ")[0-9a-f]{8,}");

  private static final SecureRandom RANDOM = new SecureRandom();

  private TempNames() {}

  /** 12 random hex digits. */
  public static String randomSuffix() {
    byte[] b = new byte[6];
    RANDOM.nextBytes(b);
    return HexFormat.of().formatHex(b);
  }

  /** {@code .NAME} + {@code kind} + {@link #randomSuffix()}, e.g. {@code .out.tar.tmp-3f09a1c2b4d5}. */
  public static String hidden(String name, String kind) {
    return "." + name + kind + randomSuffix();
  }
}
