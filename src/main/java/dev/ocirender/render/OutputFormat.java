package dev.ocirender.render;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/** The kinds of merged filesystem ocirender writes: a tar archive, a squashfs image, a directory. */
public enum OutputFormat {
  TAR,
  SQUASHFS,
  DIR;

  /** The name used on the command line and in catalogs: {@code tar}, {@code squashfs}, {@code dir}. */
  public String cliName() {
    return name().toLowerCase(Locale.ROOT);
  }

  /**
   * Parses a format name (case-insensitive).
   *
   * @throws IllegalArgumentException for unknown names, listing the known ones
   */
  public static OutputFormat parse(String name) {
    for (OutputFormat f : values()) {
      if (f.cliName().equalsIgnoreCase(name.trim())) {
        return f;
      }
    }
    throw new IllegalArgumentException("unknown output format '" + name + "' (supported: "
        + Arrays.stream(values()).map(OutputFormat::cliName).collect(Collectors.joining(", ")) + ")");
  }
}
