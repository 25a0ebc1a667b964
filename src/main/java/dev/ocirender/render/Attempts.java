package dev.ocirender.render;

import dev.ocirender.layer.EntryHeader;
import dev.ocirender.output.ContentOrigin;
import dev.ocirender.output.EntrySink;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.util.Objects;

/**
 * The bookkeeping every render target shares. The merge may open a sink, abandon it and open
 * another (see {@code OverlayMerge}), so a target tracks the attempt being written and the last one
 * that finished: an attempt closed unfinished is discarded at once, a finished one replaces an
 * earlier finished one, the target publishes the finished one only after the whole merge returned,
 * and {@link #close()} discards whatever was not published. {@code T} is what an attempt writes
 * into: a temporary file, an upload, a staging directory. Single-threaded, like the merge.
 */
final class Attempts<T> implements Closeable {

  /** Throws away an unpublished attempt's output. */
  @FunctionalInterface
  interface Discard<T> {
    void discard(T output) throws IOException;
  }

  private final Discard<T> discard;
  private T current;
  private T finished;

  Attempts(Discard<T> discard) {
    this.discard = Objects.requireNonNull(discard, "discard");
  }

  /** Discards an attempt that was opened and never closed, before a new one starts. */
  void abandonCurrent() throws IOException {
    T abandoned = current;
    current = null;
    drop(abandoned);
  }

  /** Records {@code output} as the attempt being written. */
  void begin(T output) {
    current = output;
  }

  /** Begins an attempt writing {@code output} through {@code sink}, ended when the sink closes. */
  EntrySink begin(T output, EntrySink sink) {
    begin(output);
    return new Attempt(sink) {
      @Override
      void ended(boolean finishedCleanly) throws IOException {
        end(output, finishedCleanly);
      }
    };
  }

  /**
   * The attempt writing {@code output} was closed: kept as the finished one if it finished cleanly
   * (discarding an earlier finished one), else discarded.
   */
  void end(T output, boolean finishedCleanly) throws IOException {
    if (current == output) {
      current = null;
    }
    if (finishedCleanly) {
      T earlier = finished;
      finished = output;
      if (earlier != null && earlier != output) {
        drop(earlier);
      }
    } else {
      drop(output);
    }
  }

  /**
   * The finished attempt's output, still to be published.
   *
   * @throws IllegalStateException if no attempt finished
   */
  T finished(Object target) {
    if (finished == null) {
      throw new IllegalStateException("no finished output to publish for " + target);
    }
    return finished;
  }

  /** The finished output was published: it is no longer this target's to discard. */
  void published() {
    finished = null;
  }

  @Override
  public void close() throws IOException {
    T open = current;
    T done = finished;
    current = null;
    finished = null;
    try {
      drop(open);
    } finally {
      drop(done);
    }
  }

  private void drop(T output) throws IOException {
    if (output != null) {
      discard.discard(output);
    }
  }

  /**
   * One try at the output: passes entries to the format's sink and, when closed, reports whether it
   * finished cleanly (its sink's {@code finish()} and {@code close()} both succeeded). A sink that
   * failed to close may not have written everything, so it counts as unfinished.
   */
  abstract static class Attempt implements EntrySink {
    private final EntrySink sink;
    private boolean done;

    Attempt(EntrySink sink) {
      this.sink = Objects.requireNonNull(sink, "sink");
    }

    /** Runs after the sink finished, before the attempt counts as finished; for extra steps. */
    void afterFinish(EntrySink sink) throws IOException {}

    /** Called once, from {@link #close()}. */
    abstract void ended(boolean finishedCleanly) throws IOException;

    @Override
    public final void accept(EntryHeader header, InputStream content) throws IOException {
      sink.accept(header, content);
    }

    @Override
    public final void accept(EntryHeader header, InputStream content, ContentOrigin origin) throws IOException {
      sink.accept(header, content, origin);
    }

    @Override
    public final void finish() throws IOException {
      sink.finish();
      afterFinish(sink);
      done = true;
    }

    @Override
    public final void close() throws IOException {
      boolean clean = false;
      try {
        sink.close();
        clean = true;
      } finally {
        ended(done && clean);
      }
    }
  }
}
