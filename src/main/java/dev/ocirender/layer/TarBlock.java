package dev.ocirender.layer;

import java.util.Arrays;

/**
 * Field layout and field decoding of one 512-byte tar header block, as read from an archive.
 *
 * <p>Covers the three layouts that share the first 257 bytes: v7 (nothing after the link name),
 * POSIX ustar ({@code "ustar\0" "00"}: owner names, device numbers, a 155-byte name prefix) and old
 * GNU ({@code "ustar  \0"}: owner names and device numbers as in ustar, but access/change times and a
 * sparse map where ustar keeps its prefix). Deliberately only decoding: which field wins over which
 * (PAX, GNU long names) is {@link LayerTarReader}'s business.
 */
final class TarBlock {

  static final int SIZE = 512;

  static final int NAME = 0;
  static final int NAME_LEN = 100;
  static final int MODE = 100;
  static final int UID = 108;
  static final int GID = 116;
  static final int SIZE_FIELD = 124;
  static final int MTIME = 136;
  static final int CHECKSUM = 148;
  static final int TYPEFLAG = 156;
  static final int LINKNAME = 157;
  static final int MAGIC = 257;
  static final int UNAME = 265;
  static final int GNAME = 297;
  static final int DEVMAJOR = 329;
  static final int DEVMINOR = 337;
  static final int PREFIX = 345;
  static final int PREFIX_LEN = 155;

  /** Old GNU sparse map in the main header: 4 (offset, numbytes) pairs of 12-byte numbers. */
  static final int GNU_SPARSE = 386;
  static final int GNU_SPARSE_IN_HEADER = 4;
  static final int GNU_IS_EXTENDED = 482;
  static final int GNU_REALSIZE = 483;
  /** An old GNU sparse extension block: 21 pairs, then its own continuation flag. */
  static final int GNU_SPARSE_IN_EXTENSION = 21;
  static final int GNU_EXTENSION_IS_EXTENDED = 504;

  enum Format { V7, USTAR, GNU }

  private TarBlock() {}

  static Format format(byte[] b) {
    // ustar: "ustar\0" + "00"; GNU: "ustar  \0". Anything else has no fields past the link name.
    if (b[MAGIC] == 'u' && b[MAGIC + 1] == 's' && b[MAGIC + 2] == 't' && b[MAGIC + 3] == 'a' && b[MAGIC + 4] == 'r') {
      if (b[MAGIC + 5] == 0) {
        return Format.USTAR;
      }
      if (b[MAGIC + 5] == ' ' && b[MAGIC + 6] == ' ' && b[MAGIC + 7] == 0) {
        return Format.GNU;
      }
    }
    return Format.V7;
  }

  static boolean isZero(byte[] b, int off) {
    for (int i = off; i < off + SIZE; i++) {
      if (b[i] != 0) {
        return false;
      }
    }
    return true;
  }

  /**
   * Whether the stored checksum matches. Historic writers summed signed chars, so both the unsigned
   * (POSIX) and the signed sum are accepted, as GNU tar does.
   */
  static boolean checksumMatches(byte[] b) {
    long stored;
    try {
      stored = octal(b, CHECKSUM, 8);
    } catch (NumberFormatException e) {
      return false;
    }
    long unsigned = 0;
    long signed = 0;
    for (int i = 0; i < SIZE; i++) {
      byte v = (i >= CHECKSUM && i < CHECKSUM + 8) ? (byte) ' ' : b[i];
      unsigned += v & 0xff;
      signed += v;
    }
    return stored == unsigned || stored == signed;
  }

  /**
   * A numeric field: octal text (leading spaces allowed, ended by NUL or space; all blank means 0),
   * or GNU base-256 when the first byte has its high bit set (0x80 positive, 0xff negative, big-endian
   * two's complement), which GNU tar and others use for values that do not fit in octal.
   *
   * @throws NumberFormatException on any other content or a value beyond 64 bits
   */
  static long numeric(byte[] b, int off, int len) {
    int first = b[off] & 0xff;
    if ((first & 0x80) == 0) {
      return octal(b, off, len);
    }
    boolean negative = first == 0xff;
    long v = negative ? -1 : first & 0x7f;
    for (int i = off + 1; i < off + len; i++) {
      if (negative ? v < (Long.MIN_VALUE >> 8) : v > (Long.MAX_VALUE >> 8)) {
        throw new NumberFormatException("base-256 value exceeds 64 bits");
      }
      v = (v << 8) | (b[i] & 0xff);
    }
    return v;
  }

  static long octal(byte[] b, int off, int len) {
    int end = off + len;
    int i = off;
    while (i < end && b[i] == ' ') {
      i++;
    }
    long v = 0;
    for (; i < end; i++) {
      int c = b[i];
      if (c == 0 || c == ' ') {
        break;
      }
      if (c < '0' || c > '7') {
        throw new NumberFormatException("not an octal number: '" + EntryPath.display(Arrays.copyOfRange(b, off, end)) + "'");
      }
      if (v > (Long.MAX_VALUE >> 3)) {
        throw new NumberFormatException("octal value exceeds 64 bits");
      }
      v = (v << 3) | (c - '0');
    }
    // Trailing characters after the terminator are ignored: writers disagree on NUL vs space there.
    return v;
  }

  /** A text field: its bytes up to the first NUL (or the whole field if it has none). */
  static byte[] string(byte[] b, int off, int len) {
    return Arrays.copyOfRange(b, off, off + stringLength(b, off, len));
  }

  static int stringLength(byte[] b, int off, int len) {
    for (int i = 0; i < len; i++) {
      if (b[off + i] == 0) {
        return i;
      }
    }
    return len;
  }
}
