package dev.ocirender.layer.decoded;

import dev.ocirender.io.Streams;
import dev.ocirender.io.WorkCounters;
import dev.ocirender.layer.LayerBlob;
import dev.ocirender.layer.decoded.FrameFile.Frame;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;

/**
 * A layer's decoded tar stream read from its {@link LayerCache} entry, every frame checked before
 * its bytes are handed on.
 *
 * <p>Opening checks the trailer (an entry cut short or overwritten is no entry: it is deleted and
 * the caller decodes the blob). A frame that fails its check later, or frames that do not add up
 * to what the trailer says, switch the stream over to the blob: the entry is deleted, the layer
 * decoded afresh (which writes a new entry), the bytes already handed on skipped, and reading goes
 * on from there. Everything handed on came from checked frames or from the blob, so the reader
 * sees exactly the layer's decoded stream whatever happened to the file.
 */
final class CachedLayerStream extends InputStream {

  private final LayerCache cache;
  private final Path entry;
  private final Object fileKey;
  private final LayerBlob layer;
  private final WorkCounters counters;
  private final FrameFile file;
  private final long expectedFrames;
  private final long expectedLength;
  private final long framesLength;
  private final byte[] buffer = new byte[DecodedLayerStore.CHUNK_SIZE];
  private ByteBuffer scratch;
  private long position;
  private long framesRead;
  private long delivered;
  private int bufferPos;
  private int bufferLimit;
  private boolean eof;
  private InputStream fallback;

  private CachedLayerStream(LayerCache cache, Path entry, Object fileKey, LayerBlob layer, WorkCounters counters,
      FrameFile file, long[] trailer) {
    this.cache = cache;
    this.entry = entry;
    this.fileKey = fileKey;
    this.layer = layer;
    this.counters = counters;
    this.file = file;
    this.expectedFrames = trailer[0];
    this.expectedLength = trailer[1];
    this.framesLength = trailer[2];
  }

  /** The entry's stream, or null when there is no entry or it is damaged (then it is deleted). */
  static CachedLayerStream open(LayerCache cache, Path entry, LayerBlob layer, WorkCounters counters) {
    FrameFile file;
    Object fileKey;
    try {
      // The key first: if the entry is replaced between the two calls, a damaged file we opened
      // is never mistaken for its replacement (whose key differs), so discard leaves that alone.
      fileKey = Files.readAttributes(entry, BasicFileAttributes.class).fileKey();
      file = FrameFile.openForReading(entry);
    } catch (NoSuchFileException e) {
      return null;
    } catch (IOException e) {
      cache.discard(entry, null, e.toString());
      return null;
    }
    try {
      long size = file.size();
      if (size < LayerCache.TRAILER_SIZE) {
        throw new IOException("only " + size + " bytes");
      }
      long[] trailer = LayerCache.checkTrailer(file.readAt(size - LayerCache.TRAILER_SIZE, LayerCache.TRAILER_SIZE), size);
      return new CachedLayerStream(cache, entry, fileKey, layer, counters, file, trailer);
    } catch (IOException e) {
      closeQuietly(file);
      cache.discard(entry, fileKey, e.getMessage());
      return null;
    }
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
    if (fallback != null) {
      return fallback.read(b, off, len);
    }
    if (!ensure()) {
      return fallback != null ? fallback.read(b, off, len) : -1;
    }
    int n = Math.min(len, bufferLimit - bufferPos);
    System.arraycopy(buffer, bufferPos, b, off, n);
    bufferPos += n;
    delivered += n;
    return n;
  }

  @Override
  public long skip(long n) throws IOException {
    return Streams.skipByReading(this, n);
  }

  @Override
  public int available() throws IOException {
    return fallback != null ? fallback.available() : bufferLimit - bufferPos;
  }

  /** Makes buffered bytes available; false at the end, or after switching to the blob. */
  private boolean ensure() throws IOException {
    if (bufferPos < bufferLimit) {
      return true;
    }
    if (eof) {
      return false;
    }
    try {
      if (position == framesLength) {
        if (framesRead != expectedFrames || delivered != expectedLength) {
          throw new IOException("frames hold " + framesRead + " frames and " + delivered + " bytes, the trailer says "
              + expectedFrames + " and " + expectedLength);
        }
        eof = true;
        return false;
      }
      Frame frame = file.frameAt(position, buffer.length, framesLength);
      scratch = file.read(frame, buffer, scratch);
      position += FrameFile.HEADER_SIZE + frame.storedLength();
      framesRead++;
      bufferPos = 0;
      bufferLimit = frame.decodedLength();
      counters.bytesReused(bufferLimit);
      return true;
    } catch (IOException e) {
      switchToBlob(e);
      return false;
    }
  }

  /** Deletes the damaged entry and continues from the blob at the same offset of the decoded stream. */
  private void switchToBlob(IOException damage) throws IOException {
    cache.discard(entry, fileKey, damage.getMessage());
    closeQuietly(file);
    bufferPos = 0;
    bufferLimit = 0;
    InputStream fresh = layer.decodeTar();
    try {
      long skipped = Streams.skipByReading(fresh, delivered);
      if (skipped != delivered) {
        throw new IOException(layer + ": decoded stream has " + skipped + " bytes, its cache entry held more");
      }
    } catch (IOException | RuntimeException e) {
      closeQuietly(fresh);
      e.addSuppressed(damage);
      throw e;
    }
    fallback = fresh;
  }

  @Override
  public void close() throws IOException {
    closeQuietly(file);
    if (fallback != null) {
      fallback.close();
    }
  }

  private static void closeQuietly(java.io.Closeable c) {
    try {
      c.close();
    } catch (IOException e) {
      // reading is over; nothing to keep
    }
  }
}
