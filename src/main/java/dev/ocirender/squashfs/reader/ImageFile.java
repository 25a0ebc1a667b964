package dev.ocirender.squashfs.reader;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** Positional reads from the image file, each bounded by the image's used size. */
final class ImageFile implements AutoCloseable {
  private final FileChannel channel;
  private final long size;
  private long limit;

  ImageFile(Path path) throws IOException {
    this.channel = FileChannel.open(path, StandardOpenOption.READ);
    this.size = channel.size();
    this.limit = size;
  }

  long size() {
    return size;
  }

  /** Bytes past {@code limit} (the superblock's bytes used) are never read. */
  void limit(long limit) {
    this.limit = limit;
  }

  void readFully(long pos, byte[] dst, int off, int len, String what) throws IOException {
    if (pos < 0 || len < 0 || pos > limit - len) {
      throw new SquashfsFormatException(what + ": " + len + " bytes at offset " + Long.toUnsignedString(pos)
          + " lie beyond the end of the image (" + limit + " bytes): truncated or a bad offset");
    }
    ByteBuffer buf = ByteBuffer.wrap(dst, off, len);
    long p = pos;
    while (buf.hasRemaining()) {
      int r = channel.read(buf, p);
      if (r < 0) {
        throw new SquashfsFormatException(what + ": image ends at " + p + " (file shrank while reading?)");
      }
      p += r;
    }
  }

  @Override
  public void close() throws IOException {
    channel.close();
  }
}
