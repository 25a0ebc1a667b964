package dev.ocirender.merge;

import dev.ocirender.layer.EntryHeader;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * One path of the merged tree, as known after the layers merged so far (all newer than the one
 * being read). Holds the claim a newer layer made on the path, the whiteouts that hide lower
 * layers at or below it, and hard links that still wait for their target to appear in an older
 * layer. Layer numbers are image positions: 0 is the base, higher is newer.
 */
final class PathNode {

  enum State {
    /** No entry claims this path (yet): the node only carries whiteouts or waiting links. */
    NONE,
    DIRECTORY,
    NON_DIRECTORY
  }

  /** A whiteout-like mark: hides lower layers' content at (or below) this path. */
  enum MarkKind {
    /** {@code .wh.NAME}: hides the path and everything below it. */
    WHITEOUT,
    /** {@code .wh..wh..opq} in this directory: hides its children, not itself. */
    OPAQUE,
    /** A non-directory entry at this path (hidden itself or not) replaced the lower tree. */
    REPLACE
  }

  final PathNode parent;
  final NameKey name;
  private Map<NameKey, PathNode> children;

  State state = State.NONE;
  /** The newest layer whose entries made this path what it is (at or below it, for directories). */
  int claimLayer = -1;

  /** Directory metadata from the newest explicit entry, or null for an implied directory. */
  EntryHeader directoryHeader;
  int directoryHeaderLayer = -1;

  /** The visible non-directory's ordinal and what to emit at the end (null for emitted files). */
  StreamingMerger.SeenEntry claimEntry;

  /** Newest layer of a WHITEOUT or REPLACE mark on this node; hides lower layers at and below. */
  int hideLayer = -1;
  /** Newest layer of an OPAQUE mark on this node; hides lower layers strictly below. */
  int opaqueLayer = -1;
  /** Every mark, for "as of layer M" questions that hard links ask (rarely more than one). */
  private List<long[]> marks;

  /** Hard links from newer layers waiting for this path to appear in an older layer. */
  List<PendingLink> pendingLinks;

  PathNode(PathNode parent, NameKey name) {
    this.parent = parent;
    this.name = name;
  }

  PathNode child(NameKey key) {
    return children == null ? null : children.get(key);
  }

  PathNode childOrCreate(NameKey key) {
    if (children == null) {
      children = new HashMap<>(4);
    }
    return children.computeIfAbsent(key, k -> new PathNode(this, k));
  }

  Map<NameKey, PathNode> children() {
    return children == null ? Map.of() : children;
  }

  void mark(MarkKind kind, int layer) {
    if (marks == null) {
      marks = new ArrayList<>(1);
    }
    marks.add(new long[] {kind.ordinal(), layer});
    if (kind == MarkKind.OPAQUE) {
      opaqueLayer = Math.max(opaqueLayer, layer);
    } else {
      hideLayer = Math.max(hideLayer, layer);
    }
  }

  /**
   * Whether a mark on this node, made after layer {@code entryLayer} and no later than
   * {@code asOfLayer}, hides an entry of {@code entryLayer} at this node ({@code self}) or below it.
   * Marks of the {@code asOfLayer} itself count only for whiteouts, which apply before any entry
   * of their layer; its REPLACE marks come from entries after the link in tar order, or the link
   * would have found them in its own layer.
   */
  boolean hidesAsOf(int entryLayer, int asOfLayer, boolean self) {
    if (marks == null) {
      return false;
    }
    for (long[] m : marks) {
      MarkKind kind = MarkKind.values()[(int) m[0]];
      int layer = (int) m[1];
      if (kind == MarkKind.OPAQUE && self) {
        continue;
      }
      if (layer > entryLayer && (layer < asOfLayer || (layer == asOfLayer && kind != MarkKind.REPLACE))) {
        return true;
      }
    }
    return false;
  }

  /**
   * The path from the root, built in two passes up the parent chain (length, then bytes from the
   * end): linear in the path's length, and no recursion, whatever the depth.
   */
  byte[] pathBytes() {
    int length = -1;
    for (PathNode n = this; n.parent != null; n = n.parent) {
      length += n.name.bytes.length + 1;
    }
    if (length <= 0) {
      return new byte[0];
    }
    byte[] out = new byte[length];
    int end = length;
    for (PathNode n = this; n.parent != null; n = n.parent) {
      byte[] b = n.name.bytes;
      end -= b.length;
      System.arraycopy(b, 0, out, end, b.length);
      if (end > 0) {
        out[--end] = '/';
      }
    }
    return out;
  }

  /** A hard link of a newer layer that binds to whatever this path holds as of that layer. */
  static final class PendingLink {
    final LinkRef ref;
    final int asOfLayer;
    /** Layer in which a tentative binding was made; a later entry of that layer may rebind. */
    int boundInLayer = -1;

    PendingLink(LinkRef ref, int asOfLayer) {
      this.ref = ref;
      this.asOfLayer = asOfLayer;
    }
  }
}
