package dev.ocirender.output.tar;

import java.util.Arrays;

/**
 * Encodes one 512-byte POSIX ustar header block (also used, with the GNU magic, for GNU long-name
 * records). Fills fields; does not decide what goes in them, which is {@link TarEntrySink}'s job.
 */
final class UstarHeader {

  static final int BLOCK = 512;
  static final int NAME_LEN = 100;
  static final int PREFIX_LEN = 155;
  static final int OWNER_NAME_MAX = 31; // 32-byte field, NUL-terminated

  /** Largest value of an 8-byte (7 octal digits + NUL) and a 12-byte (11 digits + NUL) field. */
  static final long MAX_OCTAL_8 = 07777777L;
  static final long MAX_OCTAL_12 = 077777777777L;

  final byte[] block = new byte[BLOCK];

  void clear() {
    Arrays.fill(block, (byte) 0);
  }

  void bytes(int off, int max, byte[] value, int from, int len) {
    System.arraycopy(value, from, block, off, Math.min(len, max));
  }

  void name(byte[] value, int from, int len) {
    bytes(0, NAME_LEN, value, from, len);
  }

  void prefix(byte[] value, int len) {
    bytes(345, PREFIX_LEN, value, 0, len);
  }

  void linkName(byte[] value) {
    bytes(157, NAME_LEN, value, 0, value.length);
  }

  void mode(int mode) {
    number(100, 8, mode);
  }

  void uid(long v) {
    number(108, 8, v);
  }

  void gid(long v) {
    number(116, 8, v);
  }

  void size(long v) {
    number(124, 12, v);
  }

  void mtime(long v) {
    number(136, 12, v);
  }

  void typeflag(byte t) {
    block[156] = t;
  }

  void ustarMagic() {
    byte[] magic = {'u', 's', 't', 'a', 'r', 0, '0', '0'};
    System.arraycopy(magic, 0, block, 257, magic.length);
  }

  void gnuMagic() {
    byte[] magic = {'u', 's', 't', 'a', 'r', ' ', ' ', 0};
    System.arraycopy(magic, 0, block, 257, magic.length);
  }

  void userName(byte[] v) {
    bytes(265, OWNER_NAME_MAX, v, 0, v.length);
  }

  void groupName(byte[] v) {
    bytes(297, OWNER_NAME_MAX, v, 0, v.length);
  }

  void devMajor(long v) {
    number(329, 8, v);
  }

  void devMinor(long v) {
    number(337, 8, v);
  }

  /** Computes and stores the checksum; call last. */
  void seal() {
    Arrays.fill(block, 148, 156, (byte) ' ');
    long sum = 0;
    for (byte b : block) {
      sum += b & 0xff;
    }
    // Six octal digits, NUL, space: the form every tar has written since v7.
    for (int i = 5; i >= 0; i--) {
      block[148 + i] = (byte) ('0' + (sum & 7));
      sum >>>= 3;
    }
    block[154] = 0;
    block[155] = ' ';
  }

  static boolean fitsOctal(long v, int fieldLength) {
    return v >= 0 && v <= (fieldLength == 8 ? MAX_OCTAL_8 : MAX_OCTAL_12);
  }

  /**
   * Octal with leading zeros and a NUL; a value that does not fit goes in GNU base-256 (first byte
   * 0x80, big-endian), which GNU tar, bsdtar, Go and Commons Compress all read. The caller adds a
   * PAX record for such values too, so strict POSIX readers still get them.
   */
  private void number(int off, int len, long v) {
    if (fitsOctal(v, len)) {
      for (int i = len - 2; i >= 0; i--) {
        block[off + i] = (byte) ('0' + (v & 7));
        v >>>= 3;
      }
      block[off + len - 1] = 0;
    } else {
      for (int i = len - 1; i >= 1; i--) {
        block[off + i] = (byte) v;
        v >>>= 8;
      }
      block[off] = (byte) 0x80;
    }
  }
}
