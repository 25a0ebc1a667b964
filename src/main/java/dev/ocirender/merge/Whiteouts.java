package dev.ocirender.merge;

import java.util.Arrays;

/** The OCI/AUFS whiteout naming convention (image-spec layer.md, "Whiteouts"). */
final class Whiteouts {
  private static final byte[] PREFIX = {'.', 'w', 'h', '.'};
  private static final byte[] META_PREFIX = {'.', 'w', 'h', '.', '.', 'w', 'h', '.'};
  private static final byte[] OPAQUE = {'.', 'w', 'h', '.', '.', 'w', 'h', '.', '.', 'o', 'p', 'q'};

  private Whiteouts() {}

  static boolean isWhiteout(byte[] name) {
    return startsWith(name, PREFIX);
  }

  /** {@code .wh..wh..opq}: hides the directory's lower children. */
  static boolean isOpaque(byte[] name) {
    return Arrays.equals(name, OPAQUE);
  }

  /** Other {@code .wh..wh.} names are AUFS bookkeeping (hard-link dirs, plinks) and carry no meaning. */
  static boolean isAufsInternal(byte[] name) {
    return startsWith(name, META_PREFIX) && !isOpaque(name);
  }

  /** The name a simple whiteout removes: {@code .wh.foo} -> {@code foo}. */
  static byte[] target(byte[] name) {
    return Arrays.copyOfRange(name, PREFIX.length, name.length);
  }

  private static boolean startsWith(byte[] name, byte[] prefix) {
    return name.length >= prefix.length && Arrays.equals(name, 0, prefix.length, prefix, 0, prefix.length);
  }
}
