package dev.ocirender.layer;

import dev.ocirender.io.Streams;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;

/**
 * A decoded layer stream that blames the blob first. A corrupted download (a flipped byte, a cut
 * connection) usually trips the decompressor (a bad gzip trailer) a few bytes before the blob's own
 * digest or size check at its end can. When decoding fails, this reads the rest of the raw blob:
 * if the blob itself is bad, that failure (digest or size mismatch, naming the blob and where it
 * came from) is the one reported, with the decoding error kept as suppressed; otherwise the
 * decoding error stands. Costs nothing on the success path.
 */
final class BlobFailureFirst extends FilterInputStream {
  private final InputStream raw;

  BlobFailureFirst(InputStream decoded, InputStream raw) {
    super(decoded);
    this.raw = raw;
  }

  @Override
  public int read() throws IOException {
    try {
      return super.read();
    } catch (IOException e) {
      throw blame(e);
    }
  }

  @Override
  public int read(byte[] b, int off, int len) throws IOException {
    try {
      return super.read(b, off, len);
    } catch (IOException e) {
      throw blame(e);
    }
  }

  @Override
  public long skip(long n) throws IOException {
    try {
      return super.skip(n);
    } catch (IOException e) {
      throw blame(e);
    }
  }

  private IOException blame(IOException decoding) {
    try {
      Streams.skipByReading(raw, Long.MAX_VALUE); // to the end, where the blob is verified
    } catch (IOException blob) {
      blob.addSuppressed(decoding);
      return blob;
    }
    return decoding;
  }
}
