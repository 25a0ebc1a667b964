package dev.ocirender.render;

import dev.ocirender.layer.LayerBlob;
import dev.ocirender.layer.ReadAheadInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;

/**
 * Decodes the next layer the merge will read while it reads the current one, into memory only, so
 * that the decoder never waits for the merge to reach a layer boundary and two layers decode at
 * once where one alone leaves a core idle.
 *
 * <p>Why: the merge reads layers newest first, one at a time, and a layer's decoding starts only
 * when the merge opens it. Where the merge is quicker than the decoder (large files, a whited-out
 * layer whose content it skips) the second core is idle; where the merge is slower, the decoder is.
 * Here, when the merge opens layer {@code k}, layer {@code k - 1} starts decoding too, ahead by up to
 * {@code chunks} chunks of memory ({@link ReadAheadInputStream}), and the newest layer starts at
 * once, before the merge has opened its sink. Unlike {@link dev.ocirender.layer.decoded.DecodeAhead}
 * nothing is spilled: what does not fit waits in the decoder, so the heap bound is
 * {@code 2 * chunks} chunks and no disk work is added.
 *
 * <p>{@link #layers()} gives the same layers, except that each one's first
 * {@link LayerBlob#openTar()} reads the stream started ahead; any later opening (a second merge
 * pass, re-reading hard-link content) decodes the blob again as usual. The bytes are the same, so
 * outputs are identical. Failures of a layer decoded ahead surface where the merge reads them, as
 * they would have without it. Closing stops every decoder whose stream the merge did not take (the
 * merge closes those it took).
 *
 * <p>Not for layers a layer work cache may hold or fill (the cache decides how they are opened).
 */
final class LayerLookahead implements AutoCloseable {

  private final List<LayerBlob> original;
  private final List<LayerBlob> wrapped;
  private final int chunks;
  /** Per layer: the stream started ahead and not yet taken, or null. Guarded by this. */
  private final InputStream[] started;
  /** Per layer: whether its first opening happened (later ones decode as usual). Guarded by this. */
  private final boolean[] taken;
  private boolean closed;

  /**
   * @param layers oldest first, as the merge takes them
   * @param chunks how far each layer may be read ahead, in {@link ReadAheadInputStream#CHUNK_SIZE} chunks
   */
  LayerLookahead(List<LayerBlob> layers, int chunks) {
    this.original = List.copyOf(layers);
    this.chunks = chunks;
    this.started = new InputStream[original.size()];
    this.taken = new boolean[original.size()];
    this.wrapped = new ArrayList<>(original.size());
    for (int i = 0; i < original.size(); i++) {
      int index = i;
      wrapped.add(original.get(i).withDecodedSource(() -> take(index)));
    }
    if (!original.isEmpty()) {
      // Best effort: a layer that fails to start here fails again, in place, when the merge opens it.
      startAhead(original.size() - 1);
    }
  }

  /** The layers to merge, oldest first. */
  List<LayerBlob> layers() {
    return wrapped;
  }

  /**
   * The merge opens layer {@code i}: its stream started ahead (or started now), and the next older
   * layer starts decoding; null after the first time, so that the blob is decoded again.
   */
  private InputStream take(int i) throws IOException {
    InputStream stream;
    synchronized (this) {
      if (closed || taken[i]) {
        return null;
      }
      taken[i] = true;
      stream = started[i];
      started[i] = null;
    }
    if (stream == null) {
      stream = original.get(i).decodeAhead(chunks);
    }
    if (i > 0) {
      startAhead(i - 1);
    }
    return stream;
  }

  /** Starts decoding layer {@code i} unless it was started or taken; a failure to start is left for the merge. */
  private void startAhead(int i) {
    synchronized (this) {
      if (closed || taken[i] || started[i] != null) {
        return;
      }
    }
    InputStream stream;
    try {
      stream = original.get(i).decodeAhead(chunks);
    } catch (IOException | RuntimeException e) {
      return; // the merge opens the layer itself and meets the failure there, naming the entry
    }
    boolean keep;
    synchronized (this) {
      keep = !closed && !taken[i] && started[i] == null;
      if (keep) {
        started[i] = stream;
      }
    }
    if (!keep) {
      closeQuietly(stream);
    }
  }

  /** Stops the decoders of layers the merge never took. */
  @Override
  public void close() {
    List<InputStream> left = new ArrayList<>();
    synchronized (this) {
      closed = true;
      for (int i = 0; i < started.length; i++) {
        if (started[i] != null) {
          left.add(started[i]);
          started[i] = null;
        }
      }
    }
    for (InputStream stream : left) {
      closeQuietly(stream);
    }
  }

  private static void closeQuietly(InputStream stream) {
    try {
      stream.close();
    } catch (IOException e) {
      // a stream nobody reads: nothing depends on its end
    }
  }
}
