package dev.ocirender.squashfs.writer;

import java.util.Locale;

/**
 * The squashfs compressors ocirender writes, with their on-disk ids (superblock field
 * {@code compression_id}) and default levels.
 *
 * <p>lzo and legacy lzma are deliberately absent: no maintained pure-Java or JNI encoder is in the
 * build, and every current reader handles the four below.
 */
public enum SquashfsCompression {
  GZIP(1, 9, 1, 9),
  XZ(4, 6, 0, 9),
  LZ4(5, 0, 0, 1),
  ZSTD(6, 3, 1, 22);

  private final int id;
  private final int defaultLevel;
  private final int minLevel;
  private final int maxLevel;

  SquashfsCompression(int id, int defaultLevel, int minLevel, int maxLevel) {
    this.id = id;
    this.defaultLevel = defaultLevel;
    this.minLevel = minLevel;
    this.maxLevel = maxLevel;
  }

  /** The superblock's compression id. */
  int id() {
    return id;
  }

  public int defaultLevel() {
    return defaultLevel;
  }

  /** Checks a level for this compressor; for lz4, 0 is the fast compressor and 1 the high one. */
  public int checkLevel(int level) {
    if (level < minLevel || level > maxLevel) {
      throw new IllegalArgumentException(cliName() + " compression level must be " + minLevel + ".." + maxLevel + ", not " + level);
    }
    return level;
  }

  public String cliName() {
    return name().toLowerCase(Locale.ROOT);
  }

  public static SquashfsCompression parse(String name) {
    for (SquashfsCompression c : values()) {
      if (c.cliName().equalsIgnoreCase(name.trim())) {
        return c;
      }
    }
    throw new IllegalArgumentException("unknown squashfs compression '" + name + "' (supported: zstd, gzip, xz, lz4)");
  }
}
