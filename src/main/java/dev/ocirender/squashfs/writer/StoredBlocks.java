package dev.ocirender.squashfs.writer;

import dev.ocirender.squashfs.reader.Codec;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Reads data the writer has already written back from the image file, to confirm a
 * de-duplication candidate byte for byte: a checksum only nominates candidates, it never decides.
 *
 * <p>Two runs of full blocks are compared as stored: block compression is deterministic (same
 * compressor, level and input give the same bytes) and decompression is a function, so equal size
 * words and equal stored bytes mean equal content, without decompressing anything. A fragment
 * block has to be decompressed to compare one tail inside it; the last few are kept, because copies
 * of a tree arrive in the same order as the original, so consecutive candidates tend to share one.
 *
 * <p>Used from the thread that writes the image; not thread-safe.
 */
final class StoredBlocks implements AutoCloseable {

  private static final int CACHED_FRAGMENT_BLOCKS = 8;
  private static final int COMPARE_CHUNK = 64 * 1024;

  private final FileChannel channel;
  private final DataWriter data;
  private final int blockSize;
  private final Codec codec;
  private final Map<SquashfsEntrySink.Fragment, byte[]> fragments =
      new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<SquashfsEntrySink.Fragment, byte[]> eldest) {
          return size() > CACHED_FRAGMENT_BLOCKS;
        }
      };
  private ByteBuffer left;
  private ByteBuffer right;
  private byte[] stored;

  /** Reads what {@code data} wrote to {@code channel}, asking it to flush what it staged first. */
  StoredBlocks(FileChannel channel, DataWriter data, SquashfsCompression compression, int blockSize) {
    this.channel = channel;
    this.data = data;
    this.blockSize = blockSize;
    try {
      this.codec = Codec.forId(compression.id());
    } catch (IOException e) {
      throw new IllegalStateException("no decoder for the squashfs compressor we write: " + compression, e);
    }
  }

  /**
   * Whether the written full blocks of {@code a} and {@code b} hold the same content: the same size
   * words (sparse and raw blocks included) and the same stored bytes.
   */
  boolean sameBlocks(Node.FileBlocks a, Node.FileBlocks b) throws IOException {
    if (!Arrays.equals(a.sizes, b.sizes)) {
      return false;
    }
    data.flush();
    long length = 0;
    for (int word : a.sizes) {
      length += word & ~DataWriter.UNCOMPRESSED_BIT;
    }
    if (left == null) {
      left = ByteBuffer.allocate(COMPARE_CHUNK);
      right = ByteBuffer.allocate(COMPARE_CHUNK);
    }
    for (long done = 0; done < length; ) {
      int n = (int) Math.min(COMPARE_CHUNK, length - done);
      readFully(left, a.start + done, n);
      readFully(right, b.start + done, n);
      if (!left.equals(right)) {
        return false;
      }
      done += n;
    }
    return true;
  }

  /** The uncompressed content of a written fragment block (at least its filled part). */
  byte[] fragment(SquashfsEntrySink.Fragment f) throws IOException {
    byte[] cached = fragments.get(f);
    if (cached != null) {
      return cached;
    }
    data.flush();
    int storedLength = f.sizeWord & ~DataWriter.UNCOMPRESSED_BIT;
    if (stored == null) {
      stored = new byte[blockSize];
    }
    ByteBuffer in = ByteBuffer.wrap(stored, 0, storedLength);
    for (long at = f.start; in.hasRemaining(); ) {
      int r = channel.read(in, at);
      if (r < 0) {
        throw new IOException("squashfs: fragment block at " + f.start + " is past the end of the image");
      }
      at += r;
    }
    byte[] block = new byte[blockSize];
    if ((f.sizeWord & DataWriter.UNCOMPRESSED_BIT) != 0) {
      System.arraycopy(stored, 0, block, 0, storedLength);
    } else {
      codec.decompress(stored, storedLength, block);
    }
    fragments.put(f, block);
    return block;
  }

  private void readFully(ByteBuffer buf, long at, int n) throws IOException {
    buf.clear().limit(n);
    while (buf.hasRemaining()) {
      int r = channel.read(buf, at);
      if (r < 0) {
        throw new IOException("squashfs: data block run at " + at + " is past the end of the image");
      }
      at += r;
    }
    buf.flip();
  }

  @Override
  public void close() {
    codec.close();
  }
}
