package dev.ocirender.merge;

import java.util.Arrays;

/**
 * Pooled storage for the path components of the merge tree: every name lives in a few large byte
 * chunks, addressed by one {@code int}, instead of one {@code byte[]} (16 bytes of header, padded to
 * 8) per path. A name is stored as its length (unsigned LEB128) followed by its bytes, so a node
 * needs no length field. Names are never removed: the tree only grows during one merge pass.
 *
 * <p>An address is the chunk number (high 16 bits, unsigned) and the offset in it (low 16 bits).
 * A name longer than a chunk gets a chunk of its own at offset 0; so the arena holds up to 65 536
 * chunks, 4 GiB of names at most, far beyond what {@link MergeLimits#maxEntries()} allows by default.
 */
final class NameArena {
  private static final int CHUNK_BITS = 16;
  private static final int CHUNK_SIZE = 1 << CHUNK_BITS;
  private static final int MAX_CHUNKS = 1 << 16;

  private byte[][] chunks = new byte[8][];
  private int chunkCount;
  /** The chunk small names are appended to, and its fill. */
  private int current = -1;
  private int used = CHUNK_SIZE;

  /** Stores {@code name[off, off + len)} and returns its address. */
  int add(byte[] name, int off, int len) {
    int need = varintSize(len) + len;
    int chunk;
    int at;
    if (need > CHUNK_SIZE) {
      chunk = newChunk(need);
      at = 0;
    } else {
      if (used + need > CHUNK_SIZE) {
        current = newChunk(CHUNK_SIZE);
        used = 0;
      }
      chunk = current;
      at = used;
      used += need;
    }
    byte[] c = chunks[chunk];
    int p = at;
    for (int v = len; ; v >>>= 7) {
      if (v < 0x80) {
        c[p++] = (byte) v;
        break;
      }
      c[p++] = (byte) (v | 0x80);
    }
    System.arraycopy(name, off, c, p, len);
    return (chunk << CHUNK_BITS) | at;
  }

  private int newChunk(int size) {
    if (chunkCount == MAX_CHUNKS) {
      throw new IllegalStateException("path names of this image exceed " + ((long) MAX_CHUNKS << CHUNK_BITS)
          + " bytes of merge metadata");
    }
    if (chunkCount == chunks.length) {
      chunks = Arrays.copyOf(chunks, chunks.length * 2);
    }
    chunks[chunkCount] = new byte[size];
    return chunkCount++;
  }

  int length(int address) {
    byte[] c = chunks[address >>> CHUNK_BITS];
    int p = address & (CHUNK_SIZE - 1);
    int len = 0;
    for (int shift = 0; ; shift += 7) {
      byte b = c[p++];
      len |= (b & 0x7f) << shift;
      if (b >= 0) {
        return len;
      }
    }
  }

  /** The chunk holding the name at {@code address}; its bytes start at {@link #start}. */
  byte[] chunk(int address) {
    return chunks[address >>> CHUNK_BITS];
  }

  int start(int address) {
    int len = length(address);
    return (address & (CHUNK_SIZE - 1)) + varintSize(len);
  }

  boolean equals(int address, byte[] name, int off, int len) {
    if (length(address) != len) {
      return false;
    }
    int s = start(address);
    return Arrays.equals(chunk(address), s, s + len, name, off, off + len);
  }

  /** Unsigned byte order of two stored names (the order of every output's directory listing). */
  int compare(int a, int b) {
    int sa = start(a);
    int sb = start(b);
    return Arrays.compareUnsigned(chunk(a), sa, sa + length(a), chunk(b), sb, sb + length(b));
  }

  int hash(int address) {
    return hash(chunk(address), start(address), length(address));
  }

  byte[] copy(int address) {
    int s = start(address);
    return Arrays.copyOfRange(chunk(address), s, s + length(address));
  }

  /** The hash of a name, the same whether it is stored or still in a caller's buffer. */
  static int hash(byte[] b, int off, int len) {
    int h = 1;
    for (int i = off; i < off + len; i++) {
      h = 31 * h + b[i];
    }
    return h ^ (h >>> 16);
  }

  private static int varintSize(int v) {
    int n = 1;
    while ((v >>>= 7) != 0) {
      n++;
    }
    return n;
  }
}
