package dev.ocirender.layer.decoded;

import dev.ocirender.layer.LayerBlob;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Decodes an image's layers on several threads at once, newest first, for a merge that reads them
 * one at a time, newest first.
 *
 * <p>Why: the merge must consume layers newest first, so decoding them as it goes keeps one core
 * busy with gzip while the other has little to do. Here {@code threads} decoders each take the
 * next layer not yet taken, in the merge's order; the layer the merge is reading streams to it
 * through memory, and the layers further down wait in a {@link DecodedLayerStore} (memory, then
 * LZ4 frames on disk) until the merge gets to them, by which time they are largely decoded.
 *
 * <p>{@link #layers()} gives the same layers as given, except that each one's first
 * {@link LayerBlob#openTar()} reads the decoded bytes from the store; any later opening (a second
 * merge pass, re-reading hard-link content) decodes the blob again as usual. The merge sees the
 * same bytes either way, so outputs are identical with and without decoding ahead. Closing stops
 * the decoders and frees the store's memory and files.
 *
 * <p>Layers that a {@link LayerCache} holds ({@link LayerBlob#isCached()}) are left as they are:
 * reading them costs no decoding, so copying them into the store would only add work.
 */
public final class DecodeAhead implements AutoCloseable {

  private final List<LayerBlob> original;
  private final List<LayerBlob> wrapped;
  private final List<DecodedLayer> decoded;
  private final AtomicInteger nextLayer;
  private final List<Thread> decoders = new ArrayList<>();

  /**
   * Starts decoding.
   *
   * @param layers oldest first, as the merge takes them
   * @param threads how many layers decode at once (at least 1)
   */
  public DecodeAhead(List<LayerBlob> layers, DecodedLayerStore store, int threads) {
    this.original = List.copyOf(layers);
    this.decoded = new ArrayList<>(layers.size());
    this.wrapped = new ArrayList<>(layers.size());
    for (LayerBlob layer : original) {
      if (layer.isCached()) {
        decoded.add(null);
        wrapped.add(layer);
        continue;
      }
      DecodedLayer d = store.newLayer(layer.toString());
      AtomicBoolean taken = new AtomicBoolean();
      decoded.add(d);
      wrapped.add(layer.withDecodedSource(() -> taken.compareAndSet(false, true) ? d.open() : null));
    }
    this.nextLayer = new AtomicInteger(layers.size() - 1);
    int n = Math.max(1, Math.min(threads, layers.size()));
    for (int i = 0; i < n; i++) {
      Thread t = new Thread(this::decodeLayers, "decode-ahead " + i);
      t.setDaemon(true);
      decoders.add(t);
      t.start();
    }
  }

  /** The layers, oldest first, reading the store on their first opening. */
  public List<LayerBlob> layers() {
    return wrapped;
  }

  /** Decoded bytes that went to temporary disk, over all layers so far. */
  public long bytesSpilled() {
    long sum = 0;
    for (DecodedLayer d : decoded) {
      if (d != null) {
        sum += d.bytesSpilled();
      }
    }
    return sum;
  }

  /** Waits until every decoder has finished (for tests: layers nobody reads never hold them back). */
  void awaitDecoders() throws InterruptedException {
    for (Thread t : decoders) {
      t.join();
    }
  }

  private void decodeLayers() {
    for (int l; (l = nextLayer.getAndDecrement()) >= 0; ) {
      if (Thread.currentThread().isInterrupted()) {
        return;
      }
      if (decoded.get(l) != null) {
        decode(original.get(l), decoded.get(l));
      }
    }
  }

  private static void decode(LayerBlob layer, DecodedLayer into) {
    try (InputStream tar = layer.decodeTar()) {
      while (true) {
        byte[] buffer = into.buffer();
        int n = tar.readNBytes(buffer, 0, buffer.length);
        if (n > 0) {
          into.write(buffer, n);
        }
        if (n < buffer.length) {
          break;
        }
      }
      into.end();
    } catch (Throwable t) {
      into.fail(t);
    }
  }

  @Override
  public void close() throws IOException {
    IOException failure = null;
    for (DecodedLayer d : decoded) {
      if (d == null) {
        continue;
      }
      try {
        d.close();
      } catch (IOException e) {
        if (failure == null) {
          failure = e;
        }
      }
    }
    for (Thread t : decoders) {
      t.interrupt();
    }
    // Wait for every decoder even if this thread is interrupted: a decoder still running could
    // create a spill file after close() returned. Closed layers stop them at their next chunk.
    boolean interrupted = false;
    for (Thread t : decoders) {
      while (t.isAlive()) {
        try {
          t.join();
        } catch (InterruptedException e) {
          interrupted = true;
        }
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
    if (failure != null) {
      throw failure;
    }
  }
}
