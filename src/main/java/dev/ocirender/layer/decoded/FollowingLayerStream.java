package dev.ocirender.layer.decoded;

import dev.ocirender.io.Streams;
import dev.ocirender.io.WorkCounters;
import dev.ocirender.layer.LayerBlob;
import dev.ocirender.layer.decoded.FrameFile.Frame;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;

/**
 * A layer's decoded tar stream read from the {@link LayerCache} entry that another render of the
 * JVM is writing now, frame by frame right behind it: a render that misses a layer claimed by
 * another ({@link LayerCache.Decoding}) reads what that render's decoding has copied so far and
 * waits only for the frames not yet written, instead of idling until the whole layer is in place.
 *
 * <p>Only complete frames are read (the writer publishes how far they go after each one), each
 * checked like any cached frame. The stream ends when the writer has put the entry in place and
 * every frame was read. When the writer drops its copy before its end (its blob failed, its render
 * stopped), or makes no progress for the cache's stall time, or a frame fails its check, this
 * stream goes on from its own decoding of the blob, skipped to the bytes already handed on: the
 * reader sees exactly the layer's decoded stream in every case, and a blob that fails its digest
 * check fails this render too.
 */
final class FollowingLayerStream extends InputStream {

  private final LayerCache.Decoding decoding;
  private final LayerBlob layer;
  private final WorkCounters counters;
  private final FrameFile file;
  private final Duration stall;
  private final byte[] buffer = new byte[DecodedLayerStore.CHUNK_SIZE];
  private ByteBuffer scratch;
  private long position;
  private long delivered;
  private int bufferPos;
  private int bufferLimit;
  private boolean eof;
  private InputStream fallback;

  private FollowingLayerStream(LayerCache.Decoding decoding, LayerBlob layer, WorkCounters counters, FrameFile file,
      Duration stall) {
    this.decoding = decoding;
    this.layer = layer;
    this.counters = counters;
    this.file = file;
    this.stall = stall;
  }

  /** A stream following the copy being written to {@code temporary}; null when it is no longer there (renamed or dropped). */
  static FollowingLayerStream open(LayerCache cache, LayerCache.Decoding decoding, Path temporary, LayerBlob layer,
      WorkCounters counters) {
    try {
      return new FollowingLayerStream(decoding, layer, counters, FrameFile.openForReading(temporary), cache.stall());
    } catch (NoSuchFileException e) {
      return null;
    } catch (IOException e) {
      return null; // unreadable: the caller looks for the entry again, or decodes
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
    long poll = Math.max(1, stall.toMillis() / 4);
    try {
      while (true) {
        // Read committed before written: a committed copy has published all its frames.
        boolean committed = decoding.isCommitted();
        long written = decoding.written();
        if (position < written) {
          Frame frame = file.frameAt(position, buffer.length, written);
          scratch = file.read(frame, buffer, scratch);
          position += FrameFile.HEADER_SIZE + frame.storedLength();
          bufferPos = 0;
          bufferLimit = frame.decodedLength();
          counters.bytesReused(bufferLimit);
          return true;
        }
        if (committed) {
          eof = true;
          return false;
        }
        if (decoding.hasEnded()) {
          throw new IOException("the other render's copy of " + layer + " was dropped before its end");
        }
        if (decoding.stalled(stall)) {
          throw new IOException("the other render's decoding of " + layer + " made no progress for " + stall.toMillis() + " ms");
        }
        decoding.awaitFramesBeyond(position, poll);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("waiting for another render's decoding of " + layer);
    } catch (IOException e) {
      switchToBlob(e);
      return false;
    }
  }

  /** Continues from this render's own decoding of the blob at the same offset of the decoded stream. */
  private void switchToBlob(IOException why) throws IOException {
    closeQuietly(file);
    bufferPos = 0;
    bufferLimit = 0;
    InputStream fresh = layer.decodeTar();
    try {
      long skipped = Streams.skipByReading(fresh, delivered);
      if (skipped != delivered) {
        throw new IOException(layer + ": decoded stream has " + skipped + " bytes, the copy followed held more");
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

  private static void closeQuietly(java.io.Closeable c) {
    try {
      c.close();
    } catch (IOException e) {
      // reading is over; nothing to keep
    }
  }
}
