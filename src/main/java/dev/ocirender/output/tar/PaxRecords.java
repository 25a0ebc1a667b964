package dev.ocirender.output.tar;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Builds the data of one PAX extended header: records {@code "LEN KEY=VALUE\n"} whose decimal LEN
 * counts the whole record, itself included. Values are bytes, written as given (binary xattr values
 * included). Records are kept in the order added, so the caller controls determinism.
 */
final class PaxRecords {

  private byte[] data = new byte[256];
  private int length;

  void add(String key, String value) {
    add(key, value.getBytes(StandardCharsets.UTF_8));
  }

  void add(String key, byte[] value) {
    byte[] k = key.getBytes(StandardCharsets.UTF_8);
    int body = 1 + k.length + 1 + value.length + 1; // ' ' KEY '=' VALUE '\n'
    int total = body + digits(body);
    if (digits(total) != digits(body)) {
      total = body + digits(total); // the length's own digits pushed it past a power of ten
    }
    byte[] len = Integer.toString(total).getBytes(StandardCharsets.US_ASCII);
    ensure(total);
    put(len);
    data[length++] = ' ';
    put(k);
    data[length++] = '=';
    put(value);
    data[length++] = '\n';
  }

  boolean isEmpty() {
    return length == 0;
  }

  int length() {
    return length;
  }

  /** The record bytes; valid up to {@link #length()}. */
  byte[] data() {
    return data;
  }

  private void put(byte[] b) {
    System.arraycopy(b, 0, data, length, b.length);
    length += b.length;
  }

  private void ensure(int more) {
    if (length + more > data.length) {
      data = Arrays.copyOf(data, Math.max(data.length * 2, length + more));
    }
  }

  private static int digits(int n) {
    return Integer.toString(n).length();
  }
}
