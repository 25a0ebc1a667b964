package dev.ocirender.cli;

import dev.ocirender.io.Sizes;
import dev.ocirender.layer.LayerBlob;
import dev.ocirender.render.RenderListener;
import dev.ocirender.source.ResolvedImage;
import java.io.PrintWriter;
import java.util.BitSet;
import java.util.concurrent.TimeUnit;

/**
 * A one-line progress display on a terminal: layers done/total, bytes read and throughput,
 * redrawn in place at most five times a second.
 *
 * <p>Only for terminals: it draws with carriage returns and an erase-line escape, so the CLI uses
 * {@link RenderListener#NONE} instead when stderr is not interactive. It never prints the final
 * summary; that is the command's job, after {@link #clear()}.
 */
final class ProgressDisplay implements RenderListener {

  private static final long REDRAW_INTERVAL_NANOS = TimeUnit.MILLISECONDS.toNanos(200);

  private final PrintWriter err;
  private final long start = System.nanoTime();
  private final BitSet layersDone = new BitSet();
  private int layerCount;
  private long bytes;
  private long lastDraw;
  private boolean drawn;

  ProgressDisplay(PrintWriter err) {
    this.err = err;
  }

  @Override
  public synchronized void imageResolved(ResolvedImage image) {
    layerCount = image.layers().size();
    draw(true);
  }

  @Override
  public synchronized void layerFinished(LayerBlob layer, long entriesRead) {
    // Distinct indexes: a restarted merge finishes layers twice.
    layersDone.set(layer.index());
    draw(false);
  }

  @Override
  public synchronized void bytesRead(long totalBytes) {
    bytes = totalBytes;
    draw(false);
  }

  /** Erases the progress line, if one was drawn. */
  synchronized void clear() {
    if (drawn) {
      err.print("\r\033[K");
      err.flush();
      drawn = false;
    }
  }

  private void draw(boolean force) {
    long now = System.nanoTime();
    if (!force && now - lastDraw < REDRAW_INTERVAL_NANOS) {
      return;
    }
    lastDraw = now;
    double seconds = (now - start) / 1e9;
    // No rate until there is something to measure; "0 B/s" while resolving would mislead.
    String rate = seconds > 0.2 && bytes > 0 ? Sizes.bytes((long) (bytes / seconds)) + "/s" : "";
    err.print("\r\033[Klayers " + layersDone.cardinality() + "/" + layerCount + "  " + Sizes.bytes(bytes) + " read  " + rate);
    err.flush();
    drawn = true;
  }
}
