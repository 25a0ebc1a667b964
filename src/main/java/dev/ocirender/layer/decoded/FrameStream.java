package dev.ocirender.layer.decoded;

import static dev.ocirender.io.Streams.closeQuietly;

import dev.ocirender.io.Streams;
import dev.ocirender.io.WorkCounters;
import dev.ocirender.layer.LayerBlob;
import dev.ocirender.layer.decoded.FrameFile.Frame;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;

/**
 * A layer's decoded tar stream read from checked frames of a {@link FrameFile}, going on from the
 * layer's own blob when the frames cannot be trusted: what both kinds of cache reader share
 * ({@link CachedLayerStream}: a finished entry; {@link FollowingLayerStream}: one still being
 * written). A subclass says where the next frame is; a failure to get or check it switches the
 * stream over to a fresh decoding of the blob, skipped to the bytes already handed on, so the
 * reader sees exactly the layer's decoded stream whatever happened to the file.
 */
abstract class FrameStream extends InputStream {

  final LayerBlob layer;
  private final WorkCounters counters;
  final FrameFile file;
  private final byte[] buffer = new byte[DecodedLayerStore.CHUNK_SIZE];
  private ByteBuffer scratch;
  /** Where the next frame starts in the file. */
  long position;
  /** Bytes handed on so far. */
  long delivered;
  private int bufferPos;
  private int bufferLimit;
  private boolean eof;
  private InputStream fallback;

  FrameStream(LayerBlob layer, WorkCounters counters, FrameFile file) {
    this.layer = layer;
    this.counters = counters;
    this.file = file;
  }

  /**
   * Reads the next frame with {@link #load}, or returns false at the stream's end; throws when the
   * frames cannot be used (the stream then goes on from the blob).
   */
  abstract boolean nextFrame() throws IOException;

  /** Called before switching to the blob, with the reason (e.g. to delete a damaged entry). */
  void abandonFrames(IOException why) {}

  /** What the message says held more bytes than the blob decodes to. */
  abstract String framesName();

  /** Reads and checks {@code frame} into the buffer and moves past it. */
  final void load(Frame frame) throws IOException {
    scratch = file.read(frame, buffer, scratch);
    position += FrameFile.HEADER_SIZE + frame.storedLength();
    bufferPos = 0;
    bufferLimit = frame.decodedLength();
    counters.bytesReused(bufferLimit);
  }

  /** The largest decoded length a frame read into the buffer may have. */
  final int bufferSize() {
    return buffer.length;
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
      if (nextFrame()) {
        return true;
      }
      eof = true;
      return false;
    } catch (java.io.InterruptedIOException e) {
      throw e; // the render is being stopped: not a reason to decode
    } catch (IOException e) {
      switchToBlob(e);
      return false;
    }
  }

  /** Continues from this render's own decoding of the blob at the same offset of the decoded stream. */
  private void switchToBlob(IOException why) throws IOException {
    abandonFrames(why);
    closeQuietly(file);
    bufferPos = 0;
    bufferLimit = 0;
    InputStream fresh = layer.decodeTar();
    try {
      long skipped = Streams.skipByReading(fresh, delivered);
      if (skipped != delivered) {
        throw new IOException(layer + ": decoded stream has " + skipped + " bytes, " + framesName() + " held more");
      }
    } catch (IOException | RuntimeException e) {
      closeQuietly(fresh);
      e.addSuppressed(why);
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

}
