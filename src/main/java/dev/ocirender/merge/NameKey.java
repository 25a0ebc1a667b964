package dev.ocirender.merge;

import java.util.Arrays;

/** One path component as a hash key; names are bytes, compared in unsigned byte order. */
final class NameKey implements Comparable<NameKey> {
  final byte[] bytes;
  private final int hash;

  NameKey(byte[] bytes) {
    this.bytes = bytes;
    this.hash = Arrays.hashCode(bytes);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof NameKey && Arrays.equals(bytes, ((NameKey) o).bytes);
  }

  @Override
  public int hashCode() {
    return hash;
  }

  @Override
  public int compareTo(NameKey o) {
    return Arrays.compareUnsigned(bytes, o.bytes);
  }
}
