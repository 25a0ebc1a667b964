package dev.ocirender.layer.decoded;

import static dev.ocirender.io.Streams.closeQuietly;

import dev.ocirender.io.WorkCounters;
import dev.ocirender.layer.LayerBlob;
import java.io.IOException;
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
final class CachedLayerStream extends FrameStream {

  private final LayerCache cache;
  private final Path entry;
  private final Object fileKey;
  private final long expectedFrames;
  private final long expectedLength;
  private final long framesLength;
  private long framesRead;

  private CachedLayerStream(LayerCache cache, Path entry, Object fileKey, LayerBlob layer, WorkCounters counters,
      FrameFile file, long[] trailer) {
    super(layer, counters, file);
    this.cache = cache;
    this.entry = entry;
    this.fileKey = fileKey;
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
  boolean nextFrame() throws IOException {
    if (position == framesLength) {
      if (framesRead != expectedFrames || delivered != expectedLength) {
        throw new IOException("frames hold " + framesRead + " frames and " + delivered + " bytes, the trailer says "
            + expectedFrames + " and " + expectedLength);
      }
      return false;
    }
    load(file.frameAt(position, bufferSize(), framesLength));
    framesRead++;
    return true;
  }

  /** The entry is damaged: delete it (the blob's decoding writes a new one). */
  @Override
  void abandonFrames(IOException damage) {
    cache.discard(entry, fileKey, damage.getMessage());
  }

  @Override
  String framesName() {
    return "its cache entry";
  }
}
