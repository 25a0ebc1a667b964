package dev.ocirender.layer.decoded;

import dev.ocirender.io.WorkCounters;
import dev.ocirender.layer.LayerBlob;
import java.io.IOException;
import java.io.InterruptedIOException;
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
final class FollowingLayerStream extends FrameStream {

  private final LayerCache.Decoding decoding;
  private final Duration stall;

  private FollowingLayerStream(LayerCache.Decoding decoding, LayerBlob layer, WorkCounters counters, FrameFile file,
      Duration stall) {
    super(layer, counters, file);
    this.decoding = decoding;
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
  boolean nextFrame() throws IOException {
    long poll = Math.max(1, stall.toMillis() / 4);
    try {
      while (true) {
        // Read committed before written: a committed copy has published all its frames.
        boolean committed = decoding.isCommitted();
        long written = decoding.written();
        if (position < written) {
          load(file.frameAt(position, bufferSize(), written));
          return true;
        }
        if (committed) {
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
    }
  }

  @Override
  String framesName() {
    return "the copy followed";
  }
}
