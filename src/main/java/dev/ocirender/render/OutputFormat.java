package dev.ocirender.render;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * The kinds of merged filesystem ocirender can write. Every planned format is listed so that
 * {@code --format squashfs} says "not supported yet" rather than "unknown"; {@link #supported()}
 * turns true as each writer lands.
 */
public enum OutputFormat {
  TAR(true),
  SQUASHFS(true),
  DIR(true);

  private final boolean supported;

  OutputFormat(boolean supported) {
    this.supported = supported;
  }

  public boolean supported() {
    return supported;
  }

  /** The name used on the command line and in catalogs: {@code tar}, {@code squashfs}, {@code dir}. */
  public String cliName() {
    return name().toLowerCase(Locale.ROOT);
  }

  /**
   * Parses a format name (case-insensitive) and checks that it can be written.
   *
   * @throws IllegalArgumentException for unknown names and for formats not supported yet
   */
  public static OutputFormat parse(String name) {
    for (OutputFormat f : values()) {
      if (f.cliName().equalsIgnoreCase(name.trim())) {
        if (!f.supported) {
          throw new IllegalArgumentException("output format '" + f.cliName() + "' is not supported yet (supported: " + list(true) + ")");
        }
        return f;
      }
    }
    throw new IllegalArgumentException("unknown output format '" + name + "' (supported: " + list(true) + ")");
  }

  static String list(boolean onlySupported) {
    return Arrays.stream(values()).filter(f -> f.supported || !onlySupported).map(OutputFormat::cliName).collect(Collectors.joining(", "));
  }
}
