package dev.ocirender.merge;

import dev.ocirender.layer.EntryHeader;
import java.util.ArrayList;
import java.util.List;

/**
 * One path of the merged tree, as known after the layers merged so far (all newer than the one
 * being read). Holds the claim a newer layer made on the path, the whiteouts that hide lower
 * layers at or below it, and hard links that still wait for their target to appear in an older
 * layer. Layer numbers are image positions: 0 is the base, higher is newer.
 *
 * <p>Kept small because there is one per path of the image (a million-entry layer has a million):
 * the name is an address in the tree's {@link NameArena}, the state a byte, the layer flags a byte
 * valid only while their stamp is the layer's (so ending a layer clears them without a list of the
 * nodes it flagged); whatever most paths never have (children, an open-addressing table owned by
 * {@link PathTree}; directory metadata, marks, waiting links, the header of a content-less entry)
 * sits in one {@link Rare} object made on demand. A regular file's node holds nothing but its
 * claim: the file was written as it streamed. 32 bytes with compressed references, plus the name
 * and a slot in the parent's table.
 */
final class PathNode {

  /** No entry claims this path (yet): the node only carries whiteouts, waiting links or layer flags. */
  static final byte NONE = 0;
  static final byte DIRECTORY = 1;
  static final byte NON_DIRECTORY = 2;

  /** A whiteout-like mark: hides lower layers' content at (or below) this path. */
  enum MarkKind {
    /** {@code .wh.NAME}: hides the path and everything below it. */
    WHITEOUT,
    /** {@code .wh..wh..opq} in this directory: hides its children, not itself. */
    OPAQUE,
    /** A non-directory entry at this path (hidden itself or not) replaced the lower tree. */
    REPLACE
  }

  // Flags that describe what the layer being read did at this path, in tar order so far; cleared
  // when the layer ends (StreamingMerger.LayerState).
  /** An entry of this layer is at this path (see StreamingMerger.seenAt). */
  static final int SEEN = 1;
  /** A directory the layer's entries so far imply as a parent (a link to it is dropped). */
  static final int IMPLIED = 1 << 1;
  /** Implied by entries other than whiteouts: these make a non-directory a directory. */
  static final int IMPLIED_BY_ENTRIES = 1 << 2;
  /** Implied by whiteouts so far. */
  static final int WHITEOUT_PARENT = 1 << 3;
  /** A non-directory stood here, which removed the lower tree. */
  static final int REPLACED = 1 << 4;
  /** A simple whiteout of the layer removed this path. */
  static final int WHITED_OUT = 1 << 5;
  /** An opaque whiteout of the layer removed everything below this path. */
  static final int OPAQUE_HERE = 1 << 6;

  final PathNode parent;
  /** Address of the last path component in the tree's arena; unused for the root. */
  final int name;

  /** The newest layer whose entries made this path what it is (at or below it, for directories). */
  int claimLayer = -1;
  byte state = NONE;
  /**
   * The flags ({@link #SEEN} ...) of the layer whose stamp is {@link #flagStamp}: only that of the
   * layer being read counts (StreamingMerger.LayerState).
   */
  byte layerFlags;
  char flagStamp;
  private Rare rare;

  /** What few paths need. */
  private static final class Rare {
    /** Open-addressing table of children (see PathTree), null while there are none. */
    PathNode[] children;
    int childCount;
    EntryHeader directoryHeader;
    int directoryHeaderLayer = -1;
    StreamingMerger.SeenEntry claimEntry;
    int hideLayer = -1;
    int opaqueLayer = -1;
    List<long[]> marks;
    List<PendingLink> pendingLinks;
  }

  PathNode(PathNode parent, int name) {
    this.parent = parent;
    this.name = name;
  }

  private Rare rare() {
    if (rare == null) {
      rare = new Rare();
    }
    return rare;
  }

  /** The open-addressing table of this node's children (see {@link PathTree}), or null. */
  PathNode[] children() {
    return rare == null ? null : rare.children;
  }

  int childCount() {
    return rare == null ? 0 : rare.childCount;
  }

  void children(PathNode[] table, int count) {
    if (table == null && rare == null) {
      return;
    }
    rare().children = table;
    rare.childCount = count;
  }

  /** Directory metadata from the newest explicit entry, or null for an implied directory. */
  EntryHeader directoryHeader() {
    return rare == null ? null : rare.directoryHeader;
  }

  int directoryHeaderLayer() {
    return rare == null ? -1 : rare.directoryHeaderLayer;
  }

  void directoryHeader(EntryHeader h, int layer) {
    if (h == null && rare == null) {
      return;
    }
    rare().directoryHeader = h;
    rare.directoryHeaderLayer = layer;
  }

  /**
   * The visible non-directory's entry, for what is emitted at the end (symlinks, devices, FIFOs,
   * hard links); null for a regular file, which was written as it streamed past.
   */
  StreamingMerger.SeenEntry claimEntry() {
    return rare == null ? null : rare.claimEntry;
  }

  void claimEntry(StreamingMerger.SeenEntry e) {
    if (e == null && rare == null) {
      return;
    }
    rare().claimEntry = e;
  }

  /** Newest layer of a WHITEOUT or REPLACE mark on this node; hides lower layers at and below. */
  int hideLayer() {
    return rare == null ? -1 : rare.hideLayer;
  }

  /** Newest layer of an OPAQUE mark on this node; hides lower layers strictly below. */
  int opaqueLayer() {
    return rare == null ? -1 : rare.opaqueLayer;
  }

  /** Hard links from newer layers waiting for this path to appear in an older layer, or null. */
  List<PendingLink> pendingLinks() {
    return rare == null ? null : rare.pendingLinks;
  }

  void addPendingLink(PendingLink p) {
    if (rare().pendingLinks == null) {
      rare.pendingLinks = new ArrayList<>(1);
    }
    rare.pendingLinks.add(p);
  }

  void clearPendingLinksIfEmpty() {
    if (rare != null && rare.pendingLinks != null && rare.pendingLinks.isEmpty()) {
      rare.pendingLinks = null;
    }
  }

  void mark(MarkKind kind, int layer) {
    Rare r = rare();
    if (r.marks == null) {
      r.marks = new ArrayList<>(1);
    }
    r.marks.add(new long[] {kind.ordinal(), layer});
    if (kind == MarkKind.OPAQUE) {
      r.opaqueLayer = Math.max(r.opaqueLayer, layer);
    } else {
      r.hideLayer = Math.max(r.hideLayer, layer);
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
    if (rare == null || rare.marks == null) {
      return false;
    }
    for (long[] m : rare.marks) {
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
