package dev.ocirender.layer.decoded;

import dev.ocirender.io.Streams;
import dev.ocirender.io.WorkCounters;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A layer's decoded tar stream, fresh from its blob, passed through unchanged while a copy goes
 * into a new {@link LayerCache} entry: frames appended to a temporary beside the entry, which is
 * renamed into place only when the stream reached its end (so every digest check of the blob and
 * of the decoded bytes has passed). A stream closed early, or failing, leaves no entry. Counts the
 * decoded bytes either way, and with no cache only counts.
 *
 * <p>The copy never fails the read: when the temporary cannot be written, the copy is dropped and
 * the stream goes on. The {@link LayerCache.Decoding} claim this stream holds, if any, is kept
 * alive by every read and ended once the entry is in place or the copy dropped, so that renders
 * waiting for this layer go on.
 */
final class CachingLayerStream extends FilterInputStream {

  /** The logger, made on first use: initialising SLF4J (a service lookup) is start-up time a render without a cache event need not pay. */
  private static final class Log {
    static final Logger LOG = LoggerFactory.getLogger(CachingLayerStream.class);
  }

  private final LayerCache cache;
  private final Path entry;
  private final WorkCounters counters;
  private final String name;
  private final LayerCache.Decoding claim;
  private Path temporary;
  private FrameFile file;
  private byte[] chunk;
  private int filled;
  private long frames;
  private long decodedLength;
  private boolean done;

  /**
   * @param cache null to count only
   * @param claim this render's claim on decoding {@code entry}, or null
   */
  CachingLayerStream(InputStream decoded, LayerCache cache, Path entry, WorkCounters counters, String name,
      LayerCache.Decoding claim) {
    super(decoded);
    this.cache = cache;
    this.entry = entry;
    this.counters = counters;
    this.name = name;
    this.claim = claim;
    if (cache != null) {
      try {
        temporary = LayerCache.temporaryFor(entry);
        file = FrameFile.create(temporary, true);
        chunk = new byte[DecodedLayerStore.CHUNK_SIZE];
        if (claim != null) {
          claim.writing(temporary);
        }
      } catch (IOException e) {
        Log.LOG.debug("{}: not cached, cannot create {}: {}", name, temporary, e.toString());
        temporary = null;
        endClaim();
      }
    }
  }

  @Override
  public int read() throws IOException {
    return Streams.readByte(this);
  }

  @Override
  public int read(byte[] b, int off, int len) throws IOException {
    int n = in.read(b, off, len);
    if (n > 0) {
      counters.bytesDecoded(n);
      if (claim != null) {
        claim.progressed();
      }
      if (file != null) {
        copy(b, off, n);
      }
    } else if (n < 0 && !done) {
      done = true;
      if (file != null) {
        commit();
      }
    }
    return n;
  }

  @Override
  public long skip(long n) throws IOException {
    return Streams.skipByReading(this, n); // skipped bytes belong in the copy too
  }

  @Override
  public boolean markSupported() {
    return false;
  }

  private void copy(byte[] b, int off, int n) {
    try {
      while (n > 0) {
        int step = Math.min(n, chunk.length - filled);
        System.arraycopy(b, off, chunk, filled, step);
        filled += step;
        off += step;
        n -= step;
        if (filled == chunk.length) {
          flush();
        }
      }
      if (file.size() > cache.maxBytes()) {
        abandon("larger than the whole cache");
      }
    } catch (IOException e) {
      abandon(e.toString());
    }
  }

  private void flush() throws IOException {
    if (filled > 0) {
      file.append(chunk, filled);
      frames++;
      decodedLength += filled;
      filled = 0;
      if (claim != null) {
        claim.wrote(file.size());
      }
    }
  }

  private void commit() {
    try {
      flush();
      long framesLength = file.size();
      file.appendRaw(LayerCache.trailer(frames, decodedLength, framesLength));
      long size = file.size();
      file.close();
      file = null;
      cache.commit(temporary, entry, size);
      temporary = null;
      if (claim != null) {
        claim.committed();
      }
      endClaim();
    } catch (IOException e) {
      abandon(e.toString());
    }
  }

  /** Lets renders waiting for this layer go on (to the entry now in place, or to decode it themselves). */
  private void endClaim() {
    if (claim != null) {
      cache.release(entry, claim);
    }
  }

  /** Drops the copy (the stream itself goes on). */
  private void abandon(String why) {
    endClaim();
    if (file == null && temporary == null) {
      return;
    }
    Log.LOG.debug("{}: not cached: {}", name, why);
    try {
      if (file != null) {
        file.close();
      }
    } catch (IOException e) {
      // deleting it anyway
    }
    file = null;
    chunk = null;
    try {
      if (temporary != null) {
        Files.deleteIfExists(temporary);
      }
    } catch (IOException e) {
      // a later scan removes stale temporaries
    }
    temporary = null;
  }

  @Override
  public void close() throws IOException {
    try {
      super.close();
    } finally {
      abandon("closed before its end");
    }
  }
}
