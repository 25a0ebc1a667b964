package dev.ocirender.layer;

import dev.ocirender.io.Streams;
import java.io.IOException;
import java.io.InputStream;
import java.util.Arrays;

/**
 * Expands a sparse entry: reads the stored segment bytes from {@code data} and yields the whole
 * file, holes as zeros, exactly {@code realSize} bytes. The map must be {@link SparseMap#validate
 * validated} first. Outputs that keep holes read the map and the stored bytes through
 * {@link SparseContent} instead (the tar output), or detect zero blocks (the directory output).
 */
final class SparseInputStream extends InputStream implements SparseContent {

  private final InputStream data;
  private final SparseMap map;
  private final long realSize;
  private long position;
  private int segment;

  SparseInputStream(InputStream data, SparseMap map, long realSize) {
    this.data = data;
    this.map = map;
    this.realSize = realSize;
  }

  @Override
  public long realSize() {
    return realSize;
  }

  @Override
  public int segmentCount() {
    return map.count();
  }

  @Override
  public long segmentOffset(int i) {
    return map.offset(i);
  }

  @Override
  public long segmentLength(int i) {
    return map.length(i);
  }

  @Override
  public InputStream segmentData() {
    if (position != 0) {
      throw new IllegalStateException("the expanded content was read already");
    }
    // From here on the expanded view is void: mark it read to the end.
    position = realSize;
    return data;
  }

  @Override
  public int read() throws IOException {
    return Streams.readByte(this);
  }

  @Override
  public int read(byte[] b, int off, int len) throws IOException {
    if (len == 0) {
      return 0;
    }
    if (position >= realSize) {
      return -1;
    }
    // Step past segments that lie wholly behind us (zero-length ones included).
    while (segment < map.count() && position >= map.offset(segment) + map.length(segment)) {
      segment++;
    }
    long want = Math.min(len, realSize - position);
    if (segment < map.count() && position >= map.offset(segment)) {
      long inSegment = map.offset(segment) + map.length(segment) - position;
      int n = data.read(b, off, (int) Math.min(want, inSegment));
      if (n < 0) {
        throw new IOException("sparse data ended early at offset " + position);
      }
      position += n;
      return n;
    }
    long holeEnd = segment < map.count() ? map.offset(segment) : realSize;
    int n = (int) Math.min(want, holeEnd - position);
    Arrays.fill(b, off, off + n, (byte) 0);
    position += n;
    return n;
  }

  @Override
  public long skip(long n) throws IOException {
    // Skipping through holes is free, but the stored bytes must still be consumed in order.
    return Streams.skipByReading(this, n);
  }

  @Override
  public int available() {
    return 0;
  }
}
