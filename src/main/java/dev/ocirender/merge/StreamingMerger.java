package dev.ocirender.merge;

import dev.ocirender.image.Messages;
import dev.ocirender.layer.EntryHeader;
import dev.ocirender.layer.EntryPath;
import dev.ocirender.layer.EntryType;
import dev.ocirender.layer.LayerBlob;
import dev.ocirender.layer.LayerTarReader;
import dev.ocirender.merge.PathNode.MarkKind;
import dev.ocirender.merge.PathNode.PendingLink;
import dev.ocirender.output.ContentOrigin;
import dev.ocirender.output.EntrySink;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * One pass of the streaming overlay merge: reads the layers newest first, each exactly once, and
 * writes every entry that survives to the sink, holding only metadata in memory.
 *
 * <p>The result equals applying the layers oldest first by the OCI changeset rules (see the merge
 * contract in DESIGN.md). Reading newest first turns the question around: an entry survives unless
 * something newer already claims its path or hides it. So the tree here records, per path, the
 * newest claim and the whiteout-like marks (whiteouts, opaque markers, non-directories that
 * replaced a lower tree) by layer number; an entry of layer L is hidden by any mark or claim of a
 * layer above L.
 *
 * <p>Regular files are written the moment they are read, so their content streams straight
 * through. Everything without content (directories, symlinks, devices, FIFOs, hard links) is
 * deferred to the end: directory metadata may come from an older layer than the first one that
 * mentions the directory, and hard links bind oldest first, so their targets are only known
 * later. A hard link whose target entry did not survive is promoted to carry the content, which
 * is then read again from its layer.
 *
 * <p>What a single pass cannot do is take back a regular file it already wrote: when the same
 * layer later repeats the path (tar semantics: the later entry wins) or puts children under it,
 * this pass throws {@link LayerConflictException} and {@link OverlayMerge} runs a second pass
 * with a {@link LayerIndex} for the affected layers. Not thread-safe; one instance per pass.
 *
 * <p>The layers below the one being read may be read ahead meanwhile ({@link LayerLookahead}), as
 * far as the whiteouts and opaque markers applied so far hide their files: the merge then replays
 * the headers read ahead and goes on with the same reader, as if it had read them itself.
 */
final class StreamingMerger {

  /** What a layer entry was, for hard links of the same layer that bind to it. */
  static final class SeenEntry {
    final long ordinal;
    final EntryType type;
    /** Header of content-less entries (kept for deferred output and promotion). */
    final EntryHeader header;
    LinkRef linkRef;
    boolean visible;
    Inode inode;

    SeenEntry(long ordinal, EntryType type, EntryHeader header) {
      this.ordinal = ordinal;
      this.type = type;
      this.header = header;
    }
  }

  private final List<LayerBlob> layers;
  private final EntrySink sink;
  private final MergeListener listener;
  private final Set<Integer> indexedLayers;
  private final MergeLimits limits;
  private final LayerLookahead lookahead;

  private final PathTree tree = new PathTree();
  private final PathNode root = tree.root;
  private EntryHeader rootHeader;
  private int rootHeaderLayer = -1;

  /**
   * What the layer being read has done so far, in tar order: the sequential view that hard links
   * of the same layer, and the conflict checks of an optimistic pass, need. Kept as flags on the
   * tree's nodes ({@link PathNode#SEEN} ...), so every path of the layer is a node of the tree.
   * A node's flags count only while its stamp is this layer's, so ending a layer clears them all
   * by taking a new stamp: no list of the flagged nodes (a million-entry layer flags a million).
   */
  private final class LayerState {
    /**
     * The entries seen at flagged paths, except visible regular files that no link has bound to
     * yet, which the tree itself describes (see {@link #seenAt}): the bulk of a layer costs no
     * object here.
     */
    final Map<PathNode, SeenEntry> seen = new HashMap<>();
    /** The stamp of the layer being read; 0 is no layer's. */
    private char stamp = 1;

    boolean has(PathNode n, int flag) {
      return n.flagStamp == stamp && (n.layerFlags & flag) != 0;
    }

    void flag(PathNode n, int flags) {
      if (n.flagStamp != stamp) {
        n.flagStamp = stamp;
        n.layerFlags = 0;
      }
      n.layerFlags |= (byte) flags;
    }

    void clear() {
      seen.clear();
      if (++stamp == 0) {
        // The stamps went round: an old one could come back as this layer's. Start again from 1.
        tree.resetFlagStamps();
        stamp = 1;
      }
    }
  }

  private final LayerState inLayer = new LayerState();
  /** Nodes whose waiting links got a (tentative) binding in the current layer. */
  private final List<PathNode> boundInLayer = new ArrayList<>();
  private int pendingCount;
  private int currentLayer = -1;

  private long entriesRead;
  private long entriesWritten;
  private long files;
  private long directories;
  private long symlinks;
  private long hardLinks;
  private long otherEntries;
  private long whiteouts;
  private long hiddenEntries;
  private long droppedLinks;
  private long promotedLinks;
  private long contentBytes;

  /** With {@code lookahead} reading the layers below the merged one ahead (null: none), which this pass closes. */
  StreamingMerger(List<LayerBlob> layers, EntrySink sink, MergeListener listener, Set<Integer> indexedLayers,
      MergeLimits limits, LayerLookahead lookahead) {
    this.lookahead = lookahead;
    this.limits = limits;
    this.layers = layers;
    this.sink = sink;
    this.listener = listener;
    this.indexedLayers = indexedLayers;
  }

  MergeStats merge(int restarts) throws IOException {
    try (LayerLookahead ahead = lookahead) {
      for (int l = layers.size() - 1; l >= 0; l--) {
        mergeLayer(l);
      }
    }
    emitTree();
    emitLinks();
    // Nothing reads the tree after this: a million-entry tree is tens of MB the sink can use.
    tree.release();
    sink.finish();
    return new MergeStats(entriesRead, entriesWritten, files, directories, symlinks, hardLinks, otherEntries,
        whiteouts, hiddenEntries, droppedLinks, promotedLinks, contentBytes, restarts);
  }

  private void mergeLayer(int l) throws IOException {
    LayerBlob layer = layers.get(l);
    currentLayer = l;
    listener.layerStarted(layer);
    LayerIndex index = null;
    EntryHeader current = null;
    long read = 0;
    inLayer.clear();
    try {
      if (indexedLayers.contains(l)) {
        index = LayerIndex.scan(layer, limits.layer());
      }
      LayerLookahead.Taken ahead = lookahead == null || index != null ? null : lookahead.takeAndReadAheadBelow(l);
      try (InputStream tar = ahead != null ? ahead.tar() : layer.openTar();
          LayerTarReader reader = ahead != null ? ahead.reader() : new LayerTarReader(tar, limits.layer())) {
        if (ahead != null) {
          // What the look-ahead read: the same entries in the same order; the reader rests at the last.
          for (LayerLookahead.ReadEntry e : ahead.entries()) {
            current = e.header();
            read++;
            checkEntryBudget(layer, e.header());
            mergeEntry(l, reader, e.header(), e.ordinal(), index);
          }
        }
        while (ahead == null || !ahead.ended()) {
          // current stays set during next(): skipping the rest of its content may fail (a truncated
          // blob), and that failure is the current entry's. Failures at a new header name that
          // header themselves.
          EntryHeader h = reader.next();
          if (h == null) {
            break;
          }
          current = h;
          read++;
          checkEntryBudget(layer, h);
          mergeEntry(l, reader, h, reader.ordinal(), index);
        }
      }
    } catch (LayerConflictException | MergeException e) {
      throw e;
    } catch (IOException e) {
      // Each context once, outermost first: the decoder already names the layer, the tar reader
      // and the sinks the entry.
      String detail = Messages.withoutContext(layer.toString(), Messages.describe(e));
      if (current != null && !detail.startsWith("entry ")) {
        detail = "entry " + current.path().quoted() + ": " + detail;
      }
      throw new MergeException(layer + ": " + detail, e);
    }
    finishLayerBindings(l);
    inLayer.clear();
    listener.layerFinished(layer, read);
  }

  /** Checked before the entry adds to the tree: the tree is what would outgrow the heap. */
  private void checkEntryBudget(LayerBlob layer, EntryHeader h) throws MergeException {
    if (++entriesRead > limits.maxEntries()) {
      throw new MergeException(layer + ": entry '" + h.path() + "': image has more than " + limits.maxEntries()
          + " entries (the per-image limit; --max-entries raises it)");
    }
  }

  /**
   * Merges entry {@code h}, the {@code ordinal}-th of layer {@code l}. The reader rests at that entry
   * unless a look-ahead read it, in which case the entry is hidden or has no content.
   */
  private void mergeEntry(int l, LayerTarReader reader, EntryHeader h, long ordinal, LayerIndex index) throws IOException {
    EntryPath path = h.path();
    if (path.isRoot()) {
      // The root entry only carries the root directory's metadata; newest layer, last entry wins.
      if (h.type().isDirectory() && (rootHeader == null || rootHeaderLayer == l)) {
        rootHeader = h;
        rootHeaderLayer = l;
      } else {
        hiddenEntries++;
      }
      return;
    }
    byte[] name = path.name();
    if (Whiteouts.isWhiteout(name)) {
      whiteouts++;
      if (!Whiteouts.isAufsInternal(name) && !underSameLayerNonDirectory(path, index)) {
        mergeWhiteout(l, path, name);
        publishWhiteout(l, path, name);
        PathNode dir = tree.intern(path.parent());
        if (Whiteouts.isOpaque(name)) {
          inLayer.flag(dir, PathNode.OPAQUE_HERE);
        } else {
          inLayer.flag(tree.childOrCreate(dir, Whiteouts.target(name)), PathNode.WHITED_OUT);
        }
        noteWhiteoutParents(dir);
      }
      return;
    }

    boolean directory = h.type().isDirectory();
    // Every path of the layer gets a node: the layer's flags live there. A node that no claim
    // or mark makes anything is neutral (state NONE, emitted as nothing).
    int depth = PathTree.componentCount(path);
    PathNode[] chain = new PathNode[depth + 1];
    int existing = tree.internChain(path, chain);
    PathNode node = chain[depth];
    // A non-directory with descendants in its own layer is not placed: those children make the
    // path a directory. Without an index that is only discovered later (a conflict).
    boolean placed = directory || (index != null ? !index.hasDescendants(path) : !inLayer.has(node, PathNode.IMPLIED_BY_ENTRIES));
    if (!directory && index == null && inLayer.has(node, PathNode.WHITEOUT_PARENT)) {
      // A whiteout of this layer below a non-directory of this layer is void (see
      // underSameLayerNonDirectory), but this one was applied before the non-directory showed up.
      throw conflict(l, path, "a non-directory after whiteouts below it in the same layer");
    }
    boolean effective = index == null || index.isEffective(path, ordinal, directory);

    boolean hiddenAbove = false;
    for (int i = 0; i < depth; i++) {
      PathNode ancestor = chain[i];
      if (ancestor.opaqueLayer() > l) {
        hiddenAbove = true;
      }
      if (i > 0) {
        if (ancestor.hideLayer() > l) {
          hiddenAbove = true;
        }
        if (ancestor.state == PathNode.NON_DIRECTORY) {
          if (ancestor.claimLayer > l) {
            hiddenAbove = true;
          } else if (!hiddenAbove) {
            throw conflict(l, path, "a child of non-directory '" + EntryPath.display(tree.pathBytes(ancestor)) + "' of the same layer");
          }
        }
      }
    }

    // Hidden at the path itself by a newer claim or mark?
    boolean hiddenHere = false;
    if (!hiddenAbove) {
      if (node.hideLayer() > l) {
        hiddenHere = true;
      } else if (node.state == PathNode.NON_DIRECTORY) {
        if (node.claimLayer > l) {
          hiddenHere = true;
        } else if (effective) {
          throw conflict(l, path, "a second entry for the path in the same layer");
        }
      } else if (node.state == PathNode.DIRECTORY && !directory) {
        if (node.claimLayer > l || !placed) {
          hiddenHere = true; // a newer directory, or children in this layer, keep the directory
          if (placed && node.directoryHeaderLayer() == l) {
            // This layer's earlier directory entry was replaced by this non-directory: its
            // metadata is gone, whatever directory a newer layer puts here.
            node.directoryHeader(null, -1);
          }
        } else if (effective) {
          throw conflict(l, path, "a directory and a non-directory for the path in the same layer");
        }
      }
    }
    boolean visible = !hiddenAbove && !hiddenHere && placed && effective;

    SeenEntry seen = new SeenEntry(ordinal, placed ? h.type() : EntryType.DIRECTORY,
        h.type() == EntryType.FILE || directory ? null : h);
    seen.visible = visible;
    if (h.type() == EntryType.HARDLINK && placed) {
      seen.linkRef = bindLink(l, h.linkTarget());
    }
    if (pendingCount > 0) {
      resolveWaitingLinks(l, chain, existing, depth, placed ? seen : null, node);
    }

    if (!directory && !visible) {
      // Even hidden, this non-directory replaced whatever lower layers had at and below the path.
      // Hidden from above it matters only to hard links waiting below, which only nodes that
      // existed before this entry can have (a mark on a new node would be as right, just unused).
      if (!hiddenAbove || existing == depth) {
        node.mark(MarkKind.REPLACE, l);
      }
    }
    if (visible) {
      claim(l, h, seen, chain, reader, ordinal);
    } else {
      hiddenEntries++;
    }
    recordSeen(node, seen);
    if (!directory) {
      inLayer.flag(node, PathNode.REPLACED);
    }
    noteImpliedParents(l, path, node);
  }

  /**
   * Notes the entry the layer now has at {@code node} (the last one in tar order wins). A visible
   * regular file no link has bound to needs no record: the node's claim says all (see
   * {@link #seenAt}).
   */
  private void recordSeen(PathNode node, SeenEntry seen) {
    inLayer.flag(node, PathNode.SEEN);
    if (seen.visible && seen.type == EntryType.FILE && seen.inode == null) {
      inLayer.seen.remove(node);
    } else {
      inLayer.seen.put(node, seen);
    }
  }

  /** The entry the layer being read has at {@code node} so far, or null. */
  private SeenEntry seenAt(PathNode node) {
    if (!inLayer.has(node, PathNode.SEEN)) {
      return null;
    }
    SeenEntry e = inLayer.seen.get(node);
    if (e == null) {
      // A visible regular file of this layer (see recordSeen). Its ordinal is never needed: a
      // visible inode is never promoted, links to it become hard links to its path.
      e = new SeenEntry(-1, EntryType.FILE, null);
      e.visible = true;
      inLayer.seen.put(node, e); // links bound to it from now on share its inode
    }
    return e;
  }

  /**
   * Notes the parents an entry implies. A parent that an earlier entry of this layer placed as a
   * non-directory turns into a directory after the fact, which an optimistic pass cannot undo
   * (hard links of the layer may have bound to it, or its content was written): a conflict.
   */
  private void noteImpliedParents(int l, EntryPath path, PathNode node) throws LayerConflictException {
    for (PathNode up = node.parent; up != root && !inLayer.has(up, PathNode.IMPLIED_BY_ENTRIES); up = up.parent) {
      inLayer.flag(up, PathNode.IMPLIED_BY_ENTRIES | PathNode.IMPLIED);
      if (inLayer.has(up, PathNode.REPLACED) && !indexedLayers.contains(l)) {
        throw conflict(l, path, "an entry below non-directory '" + EntryPath.display(tree.pathBytes(up)) + "' of the same layer");
      }
    }
  }

  /** Tells the look-ahead what an applied whiteout hides, so it can skip those files of lower layers. */
  private void publishWhiteout(int l, EntryPath path, byte[] name) {
    if (lookahead == null) {
      return;
    }
    if (Whiteouts.isOpaque(name)) {
      lookahead.opaqueApplied(l, path.parent());
    } else {
      lookahead.whiteoutApplied(l, path.parent().child(Whiteouts.target(name)));
    }
  }

  /** A whiteout's parents are directories for this layer's links, but never turn a non-directory into one. */
  private void noteWhiteoutParents(PathNode dir) {
    for (PathNode up = dir; up != root; up = up.parent) {
      inLayer.flag(up, PathNode.IMPLIED);
      if (inLayer.has(up, PathNode.WHITEOUT_PARENT)) {
        break;
      }
      inLayer.flag(up, PathNode.WHITEOUT_PARENT);
    }
  }

  /**
   * Whether a whiteout lies below a non-directory of its own layer. Such a whiteout is void: the
   * non-directory already replaced the whole lower tree. umoci writes exactly this when a file
   * replaces a directory (the file, then whiteouts for the directory's old children), and unpacks
   * it as the file; so do we, instead of letting the whiteouts imply a directory there.
   */
  private boolean underSameLayerNonDirectory(EntryPath whiteout, LayerIndex index) {
    if (index == null) {
      // Paths without a node have no flags; their nearest ancestor in the tree is where to start.
      for (PathNode up = tree.deepestExisting(whiteout.parent()); up != root; up = up.parent) {
        if (inLayer.has(up, PathNode.REPLACED)) {
          return true;
        }
      }
      return false;
    }
    for (EntryPath up = whiteout.parent(); !up.isRoot(); up = up.parent()) {
      if (index.hasNonDirectory(up)) {
        return true;
      }
    }
    return false;
  }

  private void claim(int l, EntryHeader h, SeenEntry seen, PathNode[] chain, LayerTarReader reader, long ordinal)
      throws IOException {
    int depth = chain.length - 1;
    for (int i = 1; i < depth; i++) {
      if (chain[i].state == PathNode.NONE) {
        chain[i].state = PathNode.DIRECTORY; // an implied parent
        chain[i].claimLayer = l;
      }
    }
    PathNode n = chain[depth];
    if (h.type().isDirectory()) {
      if (n.state != PathNode.DIRECTORY) {
        n.state = PathNode.DIRECTORY;
        n.claimLayer = l;
      }
      if (n.directoryHeader() == null || n.directoryHeaderLayer() == l) {
        n.directoryHeader(h, l);
      }
      return;
    }
    n.state = PathNode.NON_DIRECTORY;
    n.claimLayer = l;
    // A regular file is written now; only what is emitted at the end keeps its entry.
    n.claimEntry(h.type() == EntryType.FILE ? null : seen);
    if (h.type() == EntryType.FILE) {
      if (reader.ordinal() != ordinal) {
        // A look-ahead went past this file's content: it must have found the file hidden.
        throw new IllegalStateException(layers.get(l) + ": entry " + h.path().quoted()
            + ": visible, but read ahead as hidden");
      }
      write(h, reader.content(), ContentOrigin.of(layers.get(l), ordinal, h.size()));
      files++;
      contentBytes += h.size();
    }
  }

  /** Whiteouts hide lower layers only, so they are marks on the tree, never output. */
  private void mergeWhiteout(int l, EntryPath path, byte[] name) throws IOException {
    List<byte[]> components = path.parent().components();
    if (pendingCount > 0) {
      dropLinksToWhiteoutParents(l, components);
    }
    boolean opaque = Whiteouts.isOpaque(name);
    // Every node from the root to the whiteout's directory is a strict ancestor of what it hides.
    PathNode n = root;
    boolean hidden = false;
    for (int i = 0; ; i++) {
      if (n.opaqueLayer() > l) {
        hidden = true; // a newer opaque marker above already hides everything the whiteout would
      }
      if (n != root) {
        if (n.hideLayer() > l || (n.state == PathNode.NON_DIRECTORY && n.claimLayer > l)) {
          hidden = true; // likewise for a newer whiteout or non-directory
        } else if (n.state == PathNode.NON_DIRECTORY && !hidden) {
          throw conflict(l, path, "a whiteout under non-directory '" + EntryPath.display(tree.pathBytes(n)) + "' of the same layer");
        }
      }
      if (i == components.size()) {
        break;
      }
      PathNode next = tree.child(n, components.get(i));
      if (next == null) {
        if (hidden) {
          return; // nothing below is tracked, so nothing can ask about this whiteout later
        }
        for (int j = i; j < components.size(); j++) {
          n = tree.childOrCreate(n, components.get(j));
        }
        break;
      }
      n = next;
    }
    if (hidden) {
      // Invisible in the result, but hard links waiting below may ask what this layer removed.
      PathNode target = opaque ? n : tree.child(n, Whiteouts.target(name));
      if (target != null) {
        target.mark(opaque ? MarkKind.OPAQUE : MarkKind.WHITEOUT, l);
      }
      return;
    }
    // Every entry implies its parent directories, whiteouts included.
    for (PathNode up = n; up != root; up = up.parent) {
      if (up.state == PathNode.NONE) {
        up.state = PathNode.DIRECTORY;
        up.claimLayer = l;
      }
    }
    if (opaque) {
      n.mark(MarkKind.OPAQUE, l);
    } else {
      tree.childOrCreate(n, Whiteouts.target(name)).mark(MarkKind.WHITEOUT, l);
    }
  }

  /**
   * A whiteout's parents are directories as of its layer, even if a newer layer hides them all.
   * Links of newer layers waiting on one of them are dropped; so are links of this layer, since
   * whiteouts apply before the other entries of their layer, wherever they stand in the tar.
   */
  private void dropLinksToWhiteoutParents(int l, List<byte[]> components) {
    PathNode n = root;
    for (byte[] c : components) {
      n = tree.child(n, c);
      if (n == null) {
        return;
      }
      if (n.pendingLinks() == null) {
        continue;
      }
      bindWaiting(n, l, null);
      n.pendingLinks().removeIf(p -> {
        if (p.asOfLayer == l) {
          p.ref.drop();
          pendingCount--;
          return true;
        }
        return false;
      });
      n.clearPendingLinksIfEmpty();
    }
  }

  /**
   * Binds a hard link of layer {@code l} to what its target holds at that moment: an earlier
   * entry of the same layer, or else (unless this layer removed it) whatever an older layer has
   * there, which is only known later, so the link waits on the target's node.
   */
  private LinkRef bindLink(int l, EntryPath target) {
    LinkRef ref = new LinkRef();
    // A path without a node has no flags of this layer; its nearest ancestor in the tree may.
    PathNode t = tree.find(target);
    SeenEntry same = t == null ? null : seenAt(t);
    if (same != null) {
      bindToSeen(ref, same, target);
      return ref;
    }
    if (t != null && inLayer.has(t, PathNode.IMPLIED)) {
      ref.drop(); // an earlier entry of this layer below the target made it a directory
      return ref;
    }
    if (t != null && inLayer.has(t, PathNode.WHITED_OUT)) {
      ref.drop();
      return ref;
    }
    for (PathNode up = target.isRoot() ? root : tree.deepestExisting(target.parent()); ; up = up.parent) {
      if (inLayer.has(up, PathNode.WHITED_OUT | PathNode.OPAQUE_HERE)) {
        ref.drop(); // this layer's whiteouts apply before its links, wherever they stand in the tar
        return ref;
      }
      if (up == root) {
        break;
      }
      if (inLayer.has(up, PathNode.REPLACED)) {
        ref.drop(); // an earlier non-directory of this layer replaced the lower tree holding the target
        return ref;
      }
    }
    if (target.isRoot()) {
      ref.drop();
      return ref;
    }
    PathNode n = tree.intern(target);
    n.addPendingLink(new PendingLink(ref, l));
    pendingCount++;
    return ref;
  }

  private void bindToSeen(LinkRef ref, SeenEntry target, EntryPath targetPath) {
    if (target.type == EntryType.DIRECTORY) {
      ref.drop();
    } else if (target.type == EntryType.HARDLINK) {
      ref.forwardTo(target.linkRef);
    } else {
      ref.bindTo(inodeOf(target, targetPath));
    }
  }

  /** The inode of an entry of the layer being merged (only those are ever bound to). */
  private Inode inodeOf(SeenEntry e, EntryPath path) {
    if (e.inode == null) {
      e.inode = new Inode(currentLayer, e.ordinal, e.header);
      if (e.visible) {
        e.inode.visiblePath = path;
      }
    }
    return e.inode;
  }

  /**
   * Gives links of newer layers that wait on paths along this entry's chain their (tentative)
   * binding: an entry at the target binds them; an entry below the target makes the target a
   * directory, which drops them. A later entry of the same layer may still rebind.
   */
  private void resolveWaitingLinks(int l, PathNode[] chain, int existing, int depth, SeenEntry placedEntry, PathNode node) {
    for (int i = 1; i <= Math.min(existing, depth - 1); i++) {
      if (chain[i].pendingLinks() != null) {
        bindWaiting(chain[i], l, null);
      }
    }
    if (placedEntry != null && node.pendingLinks() != null) {
      bindWaiting(node, l, placedEntry);
    }
  }

  private void bindWaiting(PathNode node, int l, SeenEntry entry) {
    boolean any = false;
    for (PendingLink p : node.pendingLinks()) {
      if (p.asOfLayer <= l || (p.boundInLayer != -1 && p.boundInLayer != l)) {
        continue;
      }
      any = true;
      p.boundInLayer = l;
      if (entry == null || entry.type == EntryType.DIRECTORY || hiddenAsOf(node, l, p.asOfLayer)) {
        p.ref.drop();
      } else if (entry.type == EntryType.HARDLINK) {
        p.ref.forwardTo(entry.linkRef);
      } else {
        p.ref.bindTo(inodeOf(entry, pathOf(node)));
      }
    }
    if (any) {
      boundInLayer.add(node);
    }
  }

  private EntryPath pathOf(PathNode node) {
    try {
      return EntryPath.normalize(tree.pathBytes(node));
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Whether something between layer {@code l} and the link's layer removed the node's entry. */
  private boolean hiddenAsOf(PathNode node, int l, int asOf) {
    for (PathNode n = node; n != root; n = n.parent) {
      if (n.hidesAsOf(l, asOf, n == node)) {
        return true;
      }
      if (n != node && n.state == PathNode.NON_DIRECTORY && n.claimLayer > l && n.claimLayer < asOf) {
        return true;
      }
    }
    return root.hidesAsOf(l, asOf, false);
  }

  /** Bindings made in layer {@code l} are final once the layer has been read to its end. */
  private void finishLayerBindings(int l) {
    for (PathNode node : boundInLayer) {
      if (node.pendingLinks() == null) {
        continue;
      }
      node.pendingLinks().removeIf(p -> {
        boolean done = p.boundInLayer == l;
        if (done) {
          pendingCount--;
        }
        return done;
      });
      node.clearPendingLinksIfEmpty();
    }
    boundInLayer.clear();
  }

  private LayerConflictException conflict(int l, EntryPath path, String what) {
    return new LayerConflictException(l, layers.get(l) + ": entry " + path.quoted() + ": " + what);
  }

  // ---------------------------------------------------------------- output at the end

  private void emitTree() throws IOException {
    EntryHeader rootOut = rootHeader != null
        ? rootHeader.toBuilder().path(EntryPath.ROOT).build()
        : impliedDirectory(EntryPath.ROOT);
    write(rootOut, null);
    directories++;
    emitChildren(root, EntryPath.ROOT);
  }

  private final List<Map.Entry<EntryPath, SeenEntry>> linkPaths = new ArrayList<>();

  /** A directory whose sorted children are being emitted: one level of {@link #emitChildren}'s stack. */
  private static final class EmitFrame {
    final EntryPath path;
    final PathNode[] children;
    int next;

    EmitFrame(EntryPath path, PathNode[] children) {
      this.path = path;
      this.children = children;
    }
  }

  /**
   * Emits everything below {@code top} depth first, each directory before its children and the
   * children in name order. An explicit stack, not recursion: a layer decides the depth.
   */
  private void emitChildren(PathNode top, EntryPath topPath) throws IOException {
    ArrayDeque<EmitFrame> stack = new ArrayDeque<>();
    stack.push(new EmitFrame(topPath, tree.sortedChildren(top)));
    while (!stack.isEmpty()) {
      EmitFrame frame = stack.peek();
      if (frame.next == frame.children.length) {
        stack.pop();
        continue;
      }
      PathNode child = frame.children[frame.next++];
      SeenEntry entry = child.claimEntry();
      if (child.state == PathNode.NONE || (child.state == PathNode.NON_DIRECTORY && entry == null)) {
        continue; // nothing, or a regular file, written as it streamed past
      }
      EntryPath path = frame.path.child(tree.name(child));
      if (child.state == PathNode.DIRECTORY) {
        EntryHeader dir = child.directoryHeader();
        write(dir != null ? dir : impliedDirectory(path), null);
        directories++;
        stack.push(new EmitFrame(path, tree.sortedChildren(child)));
        continue;
      }
      switch (entry.type) {
        case FILE -> throw new IllegalStateException("a regular file is written as it streams past: " + path);
        case HARDLINK -> linkPaths.add(Map.entry(path, entry));
        default -> {
          write(entry.header, null);
          if (entry.type == EntryType.SYMLINK) {
            symlinks++;
          } else {
            otherEntries++;
          }
        }
      }
    }
  }

  private void emitLinks() throws IOException {
    TreeMap<Integer, TreeMap<Long, List<EntryPath>>> promotions = new TreeMap<>();
    List<Map.Entry<EntryHeader, Inode>> links = new ArrayList<>();
    for (Map.Entry<EntryPath, SeenEntry> e : linkPaths) {
      LinkRef ref = e.getValue().linkRef.resolve();
      Inode inode = ref.inode;
      if (inode == null) {
        droppedLinks++;
        continue;
      }
      if (inode.primaryPath == null) {
        inode.primaryPath = inode.visiblePath;
      }
      if (inode.primaryPath != null) {
        links.add(Map.entry(e.getValue().header.toBuilder().path(e.getKey()).build(), inode));
        continue;
      }
      // The inode's own entry is gone: this link path carries it now.
      inode.primaryPath = e.getKey();
      promotedLinks++;
      if (inode.contentlessHeader != null) {
        write(inode.contentlessHeader.toBuilder().path(e.getKey()).build(), null);
        if (inode.contentlessHeader.type() == EntryType.SYMLINK) {
          symlinks++;
        } else {
          otherEntries++;
        }
      } else {
        promotions.computeIfAbsent(inode.layer, k -> new TreeMap<>())
            .computeIfAbsent(inode.ordinal, k -> new ArrayList<>()).add(e.getKey());
      }
    }
    for (Map.Entry<Integer, TreeMap<Long, List<EntryPath>>> p : promotions.descendingMap().entrySet()) {
      rereadPromoted(p.getKey(), p.getValue());
    }
    for (Map.Entry<EntryHeader, Inode> link : links) {
      write(link.getKey().toBuilder().linkTarget(link.getValue().primaryPath).build(), null);
      hardLinks++;
    }
  }

  /** Reads a layer once more for the content of hidden files that surviving hard links keep. */
  private void rereadPromoted(int l, TreeMap<Long, List<EntryPath>> wanted) throws IOException {
    LayerBlob layer = layers.get(l);
    try (InputStream tar = layer.openTar(); LayerTarReader reader = new LayerTarReader(tar, limits.layer())) {
      EntryHeader h;
      while ((h = reader.next()) != null) {
        List<EntryPath> paths = wanted.get(reader.ordinal());
        if (paths != null) {
          for (EntryPath p : paths) {
            write(h.toBuilder().path(p).build(), reader.content(), ContentOrigin.of(layer, reader.ordinal(), h.size()));
            files++;
            contentBytes += h.size();
          }
        }
      }
      // read to the end (done by next() returning null), so the blob's digest is checked again
    } catch (IOException e) {
      throw new MergeException(layer + ": reading again for hard-link content: "
          + Messages.withoutContext(layer.toString(), Messages.describe(e)), e);
    }
  }

  private static EntryHeader impliedDirectory(EntryPath path) {
    return EntryHeader.builder(EntryType.DIRECTORY, path).mode(0755).build();
  }

  private void write(EntryHeader h, InputStream content) throws IOException {
    write(h, content, null);
  }

  private void write(EntryHeader h, InputStream content, ContentOrigin origin) throws IOException {
    sink.accept(h, content, origin);
    entriesWritten++;
  }
}
