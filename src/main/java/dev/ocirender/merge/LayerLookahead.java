package dev.ocirender.merge;

import static dev.ocirender.io.Streams.closeQuietly;

import dev.ocirender.layer.EntryHeader;
import dev.ocirender.layer.EntryPath;
import dev.ocirender.layer.EntryType;
import dev.ocirender.layer.LayerBlob;
import dev.ocirender.layer.LayerLimits;
import dev.ocirender.layer.LayerTarReader;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reads the layers below the one being merged ahead of the merge, each on a thread of its own, for
 * as long as their entries need no content: the merge later takes over the reader where it
 * stopped, with the headers read so far, and goes on from there.
 *
 * <p>Why: the merge reads layers newest first, one at a time, so one core decompresses while the
 * other has little to do. A layer whose files the layers above hide (a whole layer whited out, a
 * directory made opaque) still has to be decompressed to find its headers, and nothing else about
 * it matters. Reading it ahead, on the idle core, costs no memory beyond its headers: a file's
 * content is only read by the merge when the file is visible, and the look-ahead skips a file only
 * once a whiteout or opaque marker of a newer layer that the merge has already applied hides it.
 * Marks are never taken back, so such a file is hidden when the merge gets to it as well.
 *
 * <p>A look-ahead stops at the first regular file it cannot show hidden (until a mark published
 * later hides it), or when its headers reach its share of the heap; the merge picks up from there,
 * so nothing is read twice. If it fails (a damaged layer, a failed download), the merge reads that
 * layer itself from the start, so failures and their messages are exactly those of a merge without
 * look-ahead. Layers whose decoding a layer work cache shares with other renders are not read
 * ahead: a paused look-ahead would hold the cache's claim on the layer that another render may be
 * waiting for.
 *
 * <p>Used by one merge pass: the merge thread calls everything but the look-ahead threads' own work.
 */
final class LayerLookahead implements AutoCloseable {

  /** How many layers below the merged one read ahead at once; 0 turns look-ahead off. */
  static final int DEFAULT_WINDOW = Integer.getInteger("ocirender.lookaheadLayers",
      Runtime.getRuntime().availableProcessors() > 1 ? 2 : 0);

  /** Makes the look-ahead of one merge pass (null for none). */
  @FunctionalInterface
  interface Factory {
    LayerLookahead forPass(List<LayerBlob> layers, LayerLimits limits, Set<Integer> skip);
  }

  /** A header read ahead, with its 0-based position among its layer's entries. */
  record ReadEntry(EntryHeader header, long ordinal) {}

  /**
   * A layer read ahead, handed to the merge: the entries read so far, in tar order, and the reader
   * positioned at the last of them (its content not yet read), or at the end when {@code ended}.
   * The merge owns {@code tar} and {@code reader} from here on.
   */
  record Taken(List<ReadEntry> entries, InputStream tar, LayerTarReader reader, boolean ended) {}

  private final List<LayerBlob> layers;
  private final LayerLimits limits;
  private final Set<Integer> skip;
  private final int window;
  private final long budgetBytes;

  private final Object lock = new Object();
  /** Newest layer of an applied whiteout, by the path it hides (with everything below). Guarded by lock. */
  private final Map<EntryPath, Integer> whiteouts = new HashMap<>();
  /** Newest layer of an applied opaque marker, by its directory (whose lower children it hides). Guarded by lock. */
  private final Map<EntryPath, Integer> opaques = new HashMap<>();
  /** Look-aheads not yet taken, by layer. Guarded by lock. */
  private final Map<Integer, Scan> scans = new HashMap<>();
  /** The next layer a look-ahead may start for; every layer above it was started, taken or passed over. */
  private int nextToStart;
  private boolean closed;

  private long entriesReadAhead;

  /**
   * @param skip layers not to read ahead (those a pass indexes first)
   * @param window how many layers below the merged one read ahead at once
   * @param budgetBytes the heap the headers of one look-ahead may take (estimated)
   */
  LayerLookahead(List<LayerBlob> layers, LayerLimits limits, Set<Integer> skip, int window, long budgetBytes) {
    this.layers = layers;
    this.limits = limits;
    this.skip = skip;
    this.window = window;
    this.budgetBytes = budgetBytes;
    this.nextToStart = layers.size() - 1;
  }

  /** The default for a pass over {@code layers}: null when look-ahead is off or cannot help. */
  static LayerLookahead forPass(List<LayerBlob> layers, LayerLimits limits, Set<Integer> skip) {
    if (DEFAULT_WINDOW <= 0 || layers.size() < 2) {
      return null;
    }
    // A thirty-second of the heap per look-ahead: headers are a few hundred bytes, so a layer of
    // tens of thousands of entries fits at -Xmx256m.
    return new LayerLookahead(layers, limits, skip, DEFAULT_WINDOW, Runtime.getRuntime().maxMemory() / 32);
  }

  /** The merge applied a whiteout of layer {@code layer} hiding {@code target} and what lies below it. */
  void whiteoutApplied(int layer, EntryPath target) {
    publish(whiteouts, target, layer);
  }

  /** The merge applied an opaque marker of layer {@code layer} in {@code directory}. */
  void opaqueApplied(int layer, EntryPath directory) {
    publish(opaques, directory, layer);
  }

  private void publish(Map<EntryPath, Integer> marks, EntryPath path, int layer) {
    synchronized (lock) {
      marks.merge(path, layer, Math::max);
      // A look-ahead waiting at a file may find it hidden now: none rests until it has looked again.
      for (Scan scan : scans.values()) {
        scan.resting = false;
      }
      lock.notifyAll();
    }
  }

  /**
   * The merge is about to read layer {@code l}: what was read ahead of it (null if nothing was, or
   * the look-ahead failed and the layer is to be read from the start), and look-aheads start for
   * the layers below. Waits for the look-ahead of {@code l} to reach a point where it can stop.
   */
  Taken takeAndReadAheadBelow(int l) throws InterruptedIOException {
    Taken taken = take(l);
    startBelow(l);
    return taken;
  }

  private Taken take(int l) throws InterruptedIOException {
    Scan scan;
    synchronized (lock) {
      scan = scans.remove(l);
      if (scan == null) {
        return null;
      }
      scan.takeover = true;
      lock.notifyAll();
      try {
        while (!scan.stopped) {
          lock.wait();
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        scan.abandoned = true; // its thread closes the stream when it stops, or has stopped:
        closeQuietly(scan.streamIfStopped());
        throw new InterruptedIOException("waiting for the look-ahead of " + layers.get(l));
      }
    }
    if (scan.failure != null) {
      // Read again from the start by the merge, which then fails (or not) as it would have anyway.
      // The look-ahead's thread closed its stream.
      return null;
    }
    entriesReadAhead += scan.entries.size();
    return new Taken(scan.entries, scan.tar, scan.reader, scan.ended);
  }

  private void startBelow(int l) {
    synchronized (lock) {
      nextToStart = Math.min(nextToStart, l - 1);
      while (!closed && nextToStart >= 0 && nextToStart >= l - window) {
        int below = nextToStart--;
        LayerBlob layer = layers.get(below);
        if (skip.contains(below) || layer.sharesDecoding()) {
          continue;
        }
        Scan scan = new Scan(below);
        scans.put(below, scan);
        scan.thread.start();
      }
    }
  }

  /** Entries the merge took over from look-aheads so far (for tests and diagnostics). */
  long entriesReadAhead() {
    return entriesReadAhead;
  }

  /**
   * For tests: waits until the look-ahead of layer {@code l}, if one runs, has stopped or rests at
   * an entry, and returns how many entries it has read (0 when none runs).
   */
  int awaitResting(int l) throws InterruptedException {
    synchronized (lock) {
      Scan scan = scans.get(l);
      if (scan == null) {
        return 0;
      }
      while (!scan.stopped && !scan.resting) {
        lock.wait();
      }
      return scan.entries.size();
    }
  }

  /** Stops the look-aheads not taken, and waits for their threads. */
  @Override
  public void close() {
    List<Scan> left;
    synchronized (lock) {
      closed = true;
      left = new ArrayList<>(scans.values());
      scans.clear();
      lock.notifyAll();
    }
    boolean interrupted = false;
    for (Scan scan : left) {
      scan.thread.interrupt();
    }
    long deadline = System.nanoTime() + STOP_WAIT_NANOS;
    for (Scan scan : left) {
      // Bounded: a thread stuck in a source's open() must not hang the render. One that stops
      // later closes its own stream (closed is set).
      long wait = deadline - System.nanoTime();
      while (scan.thread.isAlive() && wait > 0) {
        try {
          scan.thread.join(Math.max(1, wait / 1_000_000));
        } catch (InterruptedException e) {
          interrupted = true;
        }
        wait = deadline - System.nanoTime();
      }
      InputStream unused;
      synchronized (lock) {
        unused = scan.streamIfStopped(); // one that reached the end of its layer left it open
      }
      closeQuietly(unused);
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }

  /** How long {@link #close} waits for look-ahead threads to stop. */
  private static final long STOP_WAIT_NANOS = 10_000_000_000L;

  /** Whether a file of layer {@code layer} at {@code path} is hidden by a mark applied so far. Holds lock. */
  private boolean hiddenByApplied(EntryPath path, int layer) {
    if (whiteouts.isEmpty() && opaques.isEmpty()) {
      return false;
    }
    for (EntryPath p = path; ; p = p.parent()) {
      if (p != path && opaques.getOrDefault(p, -1) > layer) {
        return true; // an opaque marker hides its directory's lower children, not the directory
      }
      if (p.isRoot()) {
        return false;
      }
      if (whiteouts.getOrDefault(p, -1) > layer) {
        return true;
      }
    }
  }

  /** A rough size of a header on the heap: objects, path and link bytes, xattrs. */
  private static long heapEstimate(EntryHeader h) {
    long bytes = 200 + h.path().length();
    if (h.symlinkTarget() != null) {
      bytes += h.symlinkTarget().length;
    }
    if (h.linkTarget() != null) {
      bytes += h.linkTarget().length();
    }
    for (Map.Entry<String, byte[]> x : h.xattrs().entrySet()) {
      bytes += 64 + x.getKey().length() + x.getValue().length;
    }
    return bytes;
  }

  /** One layer read ahead. Its fields are guarded by lock; the reader is its thread's until stopped. */
  private final class Scan implements Runnable {
    final int layer;
    final Thread thread;
    final List<ReadEntry> entries = new ArrayList<>();
    long bytes;
    InputStream tar;
    LayerTarReader reader;
    boolean ended;
    Throwable failure;
    /** The merge wants the layer: stop at the next point where the reader rests between entries. */
    boolean takeover;
    /** Waiting at an entry for the merge, or for a mark that hides it. */
    boolean resting;
    /** The thread no longer touches the reader. */
    boolean stopped;
    /** The merge stopped waiting for this look-ahead (interrupted) and will not take it. */
    boolean abandoned;
    /** Whether {@link #streamIfStopped} has handed out the stream to be closed. */
    boolean released;

    /**
     * The stream to close, once: when the thread has stopped and the merge will not read on.
     * Closes the stream, not the reader: closing a tar reader reads the rest of the layer. Holds lock.
     */
    InputStream streamIfStopped() {
      if (!stopped || released) {
        return null;
      }
      released = true;
      return tar;
    }

    Scan(int layer) {
      this.layer = layer;
      this.thread = new Thread(this, "look-ahead " + layers.get(layer));
      thread.setDaemon(true);
    }

    @Override
    public void run() {
      try {
        InputStream in = layers.get(layer).openTar();
        LayerTarReader r = new LayerTarReader(in, limits);
        synchronized (lock) {
          tar = in;
          reader = r;
        }
        while (true) {
          synchronized (lock) {
            if (takeover || closed) {
              return;
            }
          }
          EntryHeader h = r.next();
          synchronized (lock) {
            if (h == null) {
              ended = true;
              return;
            }
            entries.add(new ReadEntry(h, r.ordinal()));
            bytes += heapEstimate(h);
            // Resting at this entry leaves its content unread for the merge.
            while (!takeover && !closed
                && (bytes > budgetBytes || (h.type() == EntryType.FILE && !hiddenByApplied(h.path(), layer)))) {
              if (!resting) {
                // Only on the change: two look-aheads notifying each other on every wake-up would
                // wake each other for ever.
                resting = true;
                lock.notifyAll();
              }
              lock.wait();
            }
            resting = false;
          }
        }
      } catch (Throwable t) {
        synchronized (lock) {
          failure = t;
        }
      } finally {
        InputStream unused = null;
        synchronized (lock) {
          stopped = true;
          if (failure != null || closed || abandoned) {
            unused = streamIfStopped();
          }
          lock.notifyAll();
        }
        closeQuietly(unused);
      }
    }
  }
}
