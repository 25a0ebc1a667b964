package dev.ocirender.layer;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;

/**
 * The records of PAX extended headers, kept as bytes: either one entry's ({@code 'x'}) or the
 * archive-wide ones ({@code 'g'}) that apply to every later entry.
 *
 * <p>A record is {@code "LEN KEY=VALUE\n"}, where LEN counts the whole record in decimal. Values are
 * never decoded as text here: path names may be non-UTF-8 (with {@code hdrcharset=BINARY} or simply
 * by accident) and xattr values are binary ({@code security.capability}). Keys are UTF-8 text.
 *
 * <p>Xattrs arrive as {@code SCHILY.xattr.NAME=raw} (GNU tar, star, Go) or
 * {@code LIBARCHIVE.xattr.URLENCODED-NAME=BASE64} (bsdtar), and an SELinux label also as
 * {@code RHT.security.selinux=raw} (GNU tar's {@code --selinux}); all end up in {@link #xattrs()}. The
 * repeated {@code GNU.sparse.offset}/{@code GNU.sparse.numbytes} pairs of GNU sparse format 0.0
 * break the one-value-per-key rule, so they are collected in order into {@link #sparsePairs()}.
 * Interpreting the other keys (and which header wins) is the reader's job.
 */
final class PaxHeaders {

  static final String SCHILY_XATTR = "SCHILY.xattr.";
  static final String LIBARCHIVE_XATTR = "LIBARCHIVE.xattr.";
  static final String RHT_SELINUX = "RHT.security.selinux";

  private final Map<String, byte[]> values = new HashMap<>();
  private final Map<String, byte[]> xattrs = new HashMap<>();
  private final SparseMap sparsePairs = new SparseMap();
  private boolean sparsePairOpen;

  /**
   * Adds the records of one extended header's data.
   *
   * @throws IllegalArgumentException describing the first malformed record
   */
  void parse(byte[] data, int len) {
    int p = 0;
    while (p < len) {
      if (data[p] == 0) {
        // Some writers pad the data with NULs; anything else after that is damage.
        for (int i = p; i < len; i++) {
          if (data[i] != 0) {
            throw new IllegalArgumentException("malformed PAX record at byte " + p + ": data after NUL padding");
          }
        }
        return;
      }
      int q = p;
      long recordLength = 0;
      while (q < len && data[q] >= '0' && data[q] <= '9') {
        recordLength = recordLength * 10 + (data[q] - '0');
        if (recordLength > len) {
          throw new IllegalArgumentException("malformed PAX record at byte " + p + ": length beyond the header data");
        }
        q++;
      }
      if (q == p || q >= len || data[q] != ' ') {
        throw new IllegalArgumentException("malformed PAX record at byte " + p + ": no length");
      }
      int end = p + (int) recordLength;
      if (end > len || end <= q + 1 || data[end - 1] != '\n') {
        throw new IllegalArgumentException("malformed PAX record at byte " + p + ": length " + recordLength
            + " does not end at a newline");
      }
      int eq = -1;
      for (int i = q + 1; i < end - 1; i++) {
        if (data[i] == '=') {
          eq = i;
          break;
        }
      }
      if (eq <= q + 1) {
        throw new IllegalArgumentException("malformed PAX record at byte " + p + ": no keyword");
      }
      for (int i = q + 1; i < eq; i++) {
        if (data[i] == 0) {
          // GNU tar, bsdtar and Go refuse it; accepting it would re-emit a record they refuse.
          throw new IllegalArgumentException("malformed PAX record at byte " + p + ": keyword "
              + EntryPath.quote(java.util.Arrays.copyOfRange(data, q + 1, eq)) + " contains a NUL byte");
        }
      }
      String key = new String(data, q + 1, eq - q - 1, StandardCharsets.UTF_8);
      byte[] value = java.util.Arrays.copyOfRange(data, eq + 1, end - 1);
      accept(key, value);
      p = end;
    }
  }

  private void accept(String key, byte[] value) {
    if (key.startsWith(SCHILY_XATTR) && key.length() > SCHILY_XATTR.length()) {
      xattrs.put(key.substring(SCHILY_XATTR.length()), value);
    } else if (key.startsWith(LIBARCHIVE_XATTR) && key.length() > LIBARCHIVE_XATTR.length()) {
      String name = urlDecode(key.substring(LIBARCHIVE_XATTR.length()));
      try {
        xattrs.put(name, Base64.getDecoder().decode(value));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("malformed PAX record " + key + ": value is not base64", e);
      }
    } else if (key.equals(RHT_SELINUX)) {
      // GNU tar's --selinux record (bsdtar reads it too): the SELinux label, an xattr like any other.
      xattrs.put("security.selinux", value);
    } else if (key.equals("GNU.sparse.offset")) {
      if (sparsePairOpen) {
        throw new IllegalArgumentException("malformed PAX records: GNU.sparse.offset without GNU.sparse.numbytes");
      }
      sparsePairs.addOffset(decimal(key, value));
      sparsePairOpen = true;
    } else if (key.equals("GNU.sparse.numbytes")) {
      if (!sparsePairOpen) {
        throw new IllegalArgumentException("malformed PAX records: GNU.sparse.numbytes without GNU.sparse.offset");
      }
      sparsePairs.addLength(decimal(key, value));
      sparsePairOpen = false;
    } else {
      values.put(key, value);
    }
  }

  /** The value of a keyword, or null; an empty value is returned as such (it means "unset"). */
  byte[] get(String key) {
    return values.get(key);
  }

  boolean has(String key) {
    return values.containsKey(key);
  }

  Map<String, byte[]> xattrs() {
    return xattrs;
  }

  /** GNU sparse 0.0 pairs in archive order; empty when there were none. */
  SparseMap sparsePairs() {
    if (sparsePairOpen) {
      throw new IllegalArgumentException("malformed PAX records: GNU.sparse.offset without GNU.sparse.numbytes");
    }
    return sparsePairs;
  }

  void clear() {
    values.clear();
    xattrs.clear();
    sparsePairs.clear();
    sparsePairOpen = false;
  }

  /**
   * A non-negative decimal value ({@code size}, {@code uid}, sparse numbers). Any number of leading
   * zeros is fine ({@code 000000000000000000000999} is 999, as GNU tar, bsdtar and Go read it); only
   * a value beyond 63 bits is out of range.
   */
  static long decimal(String key, byte[] value) {
    if (value.length == 0) {
      throw new IllegalArgumentException("malformed PAX " + key + " value ''");
    }
    long v = 0;
    for (byte c : value) {
      if (c < '0' || c > '9') {
        throw new IllegalArgumentException("malformed PAX " + key + " value " + EntryPath.quote(value));
      }
      v = accumulate(v, c, key, value);
    }
    return v;
  }

  /** {@code v * 10 + digit}, refusing overflow. */
  private static long accumulate(long v, byte digit, String key, byte[] value) {
    if (v > (Long.MAX_VALUE - (digit - '0')) / 10) {
      throw new IllegalArgumentException("PAX " + key + " value out of range: " + EntryPath.quote(value));
    }
    return v * 10 + (digit - '0');
  }

  /**
   * A PAX time, {@code [-]SECONDS[.FRACTION]}, as {seconds, nanos} with nanos in [0, 1e9): a negative
   * time {@code -1.25} is 1.25 s before the epoch, i.e. seconds -2 plus 750000000 ns.
   */
  static long[] time(String key, byte[] value) {
    int i = 0;
    boolean negative = value.length > 0 && value[0] == '-';
    if (negative) {
      i = 1;
    }
    long seconds = 0;
    int digits = 0;
    for (; i < value.length && value[i] != '.'; i++, digits++) {
      byte c = value[i];
      if (c < '0' || c > '9') {
        throw new IllegalArgumentException("malformed PAX " + key + " value " + EntryPath.quote(value));
      }
      // Bounded one below the long range so that the negative adjustment below cannot overflow.
      seconds = accumulate(seconds, c, key, value);
    }
    if (seconds == Long.MAX_VALUE) {
      throw new IllegalArgumentException("PAX " + key + " value out of range: " + EntryPath.quote(value));
    }
    long nanos = 0;
    int scale = 100_000_000;
    if (i < value.length) {
      for (i++; i < value.length; i++) {
        byte c = value[i];
        if (c < '0' || c > '9') {
          throw new IllegalArgumentException("malformed PAX " + key + " value " + EntryPath.quote(value));
        }
        nanos += (c - '0') * (long) scale;  // digits beyond nanoseconds contribute 0
        scale /= 10;
      }
    }
    if (digits == 0) {
      throw new IllegalArgumentException("malformed PAX " + key + " value " + EntryPath.quote(value));
    }
    if (negative) {
      seconds = -seconds;
      if (nanos > 0) {
        seconds -= 1;
        nanos = 1_000_000_000L - nanos;
      }
    }
    return new long[] {seconds, nanos};
  }

  private static String urlDecode(String encoded) {
    byte[] raw = encoded.getBytes(StandardCharsets.UTF_8);
    byte[] out = new byte[raw.length];
    int n = 0;
    for (int i = 0; i < raw.length; i++) {
      if (raw[i] == '%') {
        int hi = i + 2 < raw.length ? Character.digit(raw[i + 1], 16) : -1;
        int lo = i + 2 < raw.length ? Character.digit(raw[i + 2], 16) : -1;
        if (hi < 0 || lo < 0) {
          throw new IllegalArgumentException("malformed PAX record " + LIBARCHIVE_XATTR + encoded + ": bad %-escape");
        }
        out[n++] = (byte) (hi << 4 | lo);
        i += 2;
      } else {
        out[n++] = raw[i];
      }
    }
    return new String(out, 0, n, StandardCharsets.UTF_8);
  }
}
