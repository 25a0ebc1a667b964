package dev.ocirender.testing;

import dev.ocirender.layer.EntryHeader;
import dev.ocirender.layer.EntryPath;
import dev.ocirender.layer.EntryType;
import dev.ocirender.output.EntrySink;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * An {@link EntrySink} that records what a merge delivers (headers and content digests, in arrival
 * order) and checks the sink contract on the way, failing with an {@link AssertionError} at the
 * first breach: each path at most once, never a whiteout name, the root exactly once and as a
 * directory, a {@code HARDLINK} only to a path that already arrived as a non-directory, exactly
 * {@code size} content bytes for files and no stream for anything else, nothing after
 * {@link #finish()} or {@link #close()}; and at {@link #finish()}: every parent of every entry
 * arrived as a directory.
 *
 * <p>It does not keep content (only its sha256) and does not check order beyond the above: the
 * contract leaves order to the merge.
 */
public final class CollectingSink implements EntrySink {

  /** One delivered entry. */
  public record Received(EntryHeader header, FsSnapshot.Digested content) {}

  private final Map<EntryPath, Received> received = new LinkedHashMap<>();
  private boolean finished;
  private boolean closed;

  @Override
  public void accept(EntryHeader header, InputStream content) throws IOException {
    if (finished || closed) {
      throw new AssertionError("entry after " + (closed ? "close" : "finish") + ": " + header);
    }
    EntryPath path = header.path();
    if (received.containsKey(path)) {
      throw new AssertionError("path delivered twice: " + path + "\n first: " + received.get(path).header()
          + "\n again: " + header);
    }
    if (!path.isRoot() && EntryPath.display(path.name()).startsWith(".wh.")) {
      throw new AssertionError("whiteout delivered to the sink: " + header);
    }
    if (path.isRoot() && header.type() != EntryType.DIRECTORY) {
      throw new AssertionError("root delivered as " + header.type());
    }
    if (header.type() == EntryType.HARDLINK) {
      Received target = received.get(header.linkTarget());
      if (target == null) {
        throw new AssertionError("hard link " + path + " to " + header.linkTarget() + ", which has not arrived");
      }
      if (target.header().type() == EntryType.DIRECTORY) {
        throw new AssertionError("hard link " + path + " to directory " + header.linkTarget());
      }
    }
    FsSnapshot.Digested digested = null;
    if (header.type() == EntryType.FILE) {
      if (content == null) {
        throw new AssertionError("no content stream for file " + header);
      }
      digested = FsSnapshot.digest(content);
      if (digested.size() != header.size()) {
        throw new AssertionError("content of " + path + " has " + digested.size() + " bytes, header says "
            + header.size());
      }
    } else if (content != null) {
      throw new AssertionError("content stream for non-file " + header);
    }
    received.put(path, new Received(header, digested));
  }

  @Override
  public void finish() throws IOException {
    if (finished || closed) {
      throw new AssertionError("finish() after " + (closed ? "close()" : "finish()"));
    }
    if (!received.containsKey(EntryPath.ROOT)) {
      throw new AssertionError("the root directory never arrived");
    }
    List<String> orphans = new ArrayList<>();
    for (EntryPath p : received.keySet()) {
      if (p.isRoot()) {
        continue;
      }
      Received parent = received.get(p.parent());
      if (parent == null || parent.header().type() != EntryType.DIRECTORY) {
        orphans.add(p + " (parent " + p.parent() + (parent == null ? " missing" : " is " + parent.header().type()) + ")");
      }
    }
    if (!orphans.isEmpty()) {
      throw new AssertionError("entries without a parent directory: " + orphans);
    }
    finished = true;
  }

  @Override
  public void close() {
    closed = true;
  }

  public boolean isFinished() {
    return finished;
  }

  public boolean isClosed() {
    return closed;
  }

  /** What arrived, in arrival order. */
  public Map<EntryPath, Received> received() {
    return Collections.unmodifiableMap(received);
  }

  /** The delivered filesystem; hard links become further paths of their target's inode. */
  public FsSnapshot snapshot() {
    FsSnapshot.Builder b = FsSnapshot.builder();
    for (Received r : received.values()) {
      EntryHeader h = r.header();
      if (h.type() == EntryType.HARDLINK) {
        b.add(h.path(), b.get(h.linkTarget()), b.inodeKey(h.linkTarget()));
      } else {
        b.add(h.path(), FsSnapshot.nodeOf(h, r.content()), new Object());
      }
    }
    return b.build();
  }

  /**
   * Opens sinks for a merge ({@code OverlayMerge.run(layers, sinks::open, ...)}) and keeps them all,
   * since a merge may discard a first sink and start again.
   */
  public static final class Opener {
    private final List<CollectingSink> opened = new ArrayList<>();

    public CollectingSink open() {
      CollectingSink sink = new CollectingSink();
      opened.add(sink);
      return sink;
    }

    public List<CollectingSink> opened() {
      return Collections.unmodifiableList(opened);
    }

    /**
     * The one sink that was finished; fails unless exactly one was, it was closed too, and every
     * other (discarded) sink was closed without being finished.
     */
    public CollectingSink result() {
      CollectingSink done = null;
      for (CollectingSink s : opened) {
        if (!s.isClosed()) {
          throw new AssertionError("a sink was never closed (" + opened.size() + " opened)");
        }
        if (s.isFinished()) {
          if (done != null) {
            throw new AssertionError("more than one sink was finished");
          }
          done = s;
        }
      }
      if (done == null) {
        throw new AssertionError("no sink was finished (" + opened.size() + " opened)");
      }
      return done;
    }
  }
}
