package dev.ocirender.merge;

import dev.ocirender.image.Messages;
import dev.ocirender.layer.EntryHeader;
import dev.ocirender.layer.EntryPath;
import dev.ocirender.layer.EntryType;
import dev.ocirender.layer.LayerBlob;
import dev.ocirender.layer.LayerTarReader;
import dev.ocirender.merge.PathNode.MarkKind;
import dev.ocirender.merge.PathNode.PendingLink;
import dev.ocirender.merge.PathNode.State;
import dev.ocirender.output.ContentOrigin;
import dev.ocirender.output.EntrySink;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
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

  private final PathNode root = new PathNode(null, null);
  private EntryHeader rootHeader;
  private int rootHeaderLayer = -1;

  /**
   * What the layer being read has done so far, in tar order: the sequential view that hard links
   * of the same layer, and the conflict checks of an optimistic pass, need. Dropped per layer.
   */
  private static final class LayerState {
    /** Entries placed so far, by path: what same-layer hard links bind to. */
    final Map<EntryPath, SeenEntry> seen = new HashMap<>();
    /** Directories the entries so far imply as parents (a link to one is dropped). */
    final Set<EntryPath> implied = new HashSet<>();
    /** The same, implied by entries other than whiteouts: these make a non-directory a directory. */
    final Set<EntryPath> impliedByEntries = new HashSet<>();
    /** Directories implied by whiteouts so far. */
    final Set<EntryPath> whiteoutParents = new HashSet<>();
    /** Paths where a non-directory stood so far, which removed the lower tree. */
    final Set<EntryPath> replaced = new HashSet<>();
    /** What whiteouts so far removed: simple ones the path, opaque ones everything below it. */
    final Set<EntryPath> whitedOut = new HashSet<>();
    final Set<EntryPath> opaque = new HashSet<>();
  }

  private LayerState inLayer = new LayerState();
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

  StreamingMerger(List<LayerBlob> layers, EntrySink sink, MergeListener listener, Set<Integer> indexedLayers,
      MergeLimits limits) {
    this.limits = limits;
    this.layers = layers;
    this.sink = sink;
    this.listener = listener;
    this.indexedLayers = indexedLayers;
  }

  MergeStats merge(int restarts) throws IOException {
    for (int l = layers.size() - 1; l >= 0; l--) {
      mergeLayer(l);
    }
    emitTree();
    emitLinks();
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
    inLayer = new LayerState();
    try {
      if (indexedLayers.contains(l)) {
        index = LayerIndex.scan(layer, limits.layer());
      }
      try (InputStream tar = layer.openTar(); LayerTarReader reader = new LayerTarReader(tar, limits.layer())) {
        while (true) {
          // current stays set during next(): skipping the rest of its content may fail (a truncated
          // blob), and that failure is the current entry's. Failures at a new header name that
          // header themselves.
          EntryHeader h = reader.next();
          if (h == null) {
            break;
          }
          current = h;
          read++;
          if (++entriesRead > limits.maxEntries()) {
            // Checked before the entry adds to the tree: the tree is what would outgrow the heap.
            throw new MergeException(layer + ": entry '" + h.path() + "': image has more than " + limits.maxEntries()
                + " entries (the per-image limit; --max-entries raises it)");
          }
          mergeEntry(l, reader, h, index);
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
    inLayer = new LayerState();
    listener.layerFinished(layer, read);
  }

  private void mergeEntry(int l, LayerTarReader reader, EntryHeader h, LayerIndex index) throws IOException {
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
        if (Whiteouts.isOpaque(name)) {
          inLayer.opaque.add(path.parent());
        } else {
          inLayer.whitedOut.add(path.parent().child(Whiteouts.target(name)));
        }
        noteWhiteoutParents(path);
      }
      return;
    }

    boolean directory = h.type().isDirectory();
    long ordinal = reader.ordinal();
    // A non-directory with descendants in its own layer is not placed: those children make the
    // path a directory. Without an index that is only discovered later (a conflict).
    boolean placed = directory || (index != null ? !index.hasDescendants(path) : !inLayer.impliedByEntries.contains(path));
    if (!directory && index == null && inLayer.whiteoutParents.contains(path)) {
      // A whiteout of this layer below a non-directory of this layer is void (see
      // underSameLayerNonDirectory), but this one was applied before the non-directory showed up.
      throw conflict(l, path, "a non-directory after whiteouts below it in the same layer");
    }
    boolean effective = index == null || index.isEffective(path, ordinal, directory);

    List<byte[]> components = path.components();
    int depth = components.size();
    PathNode[] chain = new PathNode[depth + 1];
    chain[0] = root;
    boolean hiddenAbove = false;
    int existing = 0;
    for (int i = 0; i < depth; i++) {
      PathNode ancestor = chain[i];
      if (ancestor.opaqueLayer > l) {
        hiddenAbove = true;
      }
      if (i > 0) {
        if (ancestor.hideLayer > l) {
          hiddenAbove = true;
        }
        if (ancestor.state == State.NON_DIRECTORY) {
          if (ancestor.claimLayer > l) {
            hiddenAbove = true;
          } else if (!hiddenAbove) {
            throw conflict(l, path, "a child of non-directory '" + EntryPath.display(ancestor.pathBytes()) + "' of the same layer");
          }
        }
      }
      PathNode next = ancestor.child(new NameKey(components.get(i)));
      if (next == null) {
        break;
      }
      chain[i + 1] = next;
      existing = i + 1;
    }
    PathNode node = existing == depth ? chain[depth] : null;

    // Hidden at the path itself by a newer claim or mark?
    boolean hiddenHere = false;
    if (node != null && !hiddenAbove) {
      if (node.hideLayer > l) {
        hiddenHere = true;
      } else if (node.state == State.NON_DIRECTORY) {
        if (node.claimLayer > l) {
          hiddenHere = true;
        } else if (effective) {
          throw conflict(l, path, "a second entry for the path in the same layer");
        }
      } else if (node.state == State.DIRECTORY && !directory) {
        if (node.claimLayer > l || !placed) {
          hiddenHere = true; // a newer directory, or children in this layer, keep the directory
          if (placed && node.directoryHeaderLayer == l) {
            // This layer's earlier directory entry was replaced by this non-directory: its
            // metadata is gone, whatever directory a newer layer puts here.
            node.directoryHeader = null;
            node.directoryHeaderLayer = -1;
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
      // Hidden from above it matters only to hard links waiting below, and only those have nodes.
      if (!hiddenAbove) {
        replaceMark(chain, components, existing, l);
      } else if (node != null) {
        node.mark(MarkKind.REPLACE, l);
      }
    }
    if (visible) {
      claim(l, h, seen, chain, components, existing, reader);
    } else {
      hiddenEntries++;
    }
    inLayer.seen.put(path, seen);
    if (!directory) {
      inLayer.replaced.add(path);
    }
    noteImpliedParents(l, path);
  }

  /**
   * Notes the parents an entry implies. A parent that an earlier entry of this layer placed as a
   * non-directory turns into a directory after the fact, which an optimistic pass cannot undo
   * (hard links of the layer may have bound to it, or its content was written): a conflict.
   */
  private void noteImpliedParents(int l, EntryPath path) throws LayerConflictException {
    for (EntryPath up = path.parent(); !up.isRoot() && inLayer.impliedByEntries.add(up); up = up.parent()) {
      inLayer.implied.add(up);
      if (inLayer.replaced.contains(up) && !indexedLayers.contains(l)) {
        throw conflict(l, path, "an entry below non-directory '" + up + "' of the same layer");
      }
    }
  }

  /** A whiteout's parents are directories for this layer's links, but never turn a non-directory into one. */
  private void noteWhiteoutParents(EntryPath path) {
    for (EntryPath up = path.parent(); !up.isRoot(); up = up.parent()) {
      inLayer.implied.add(up);
      if (!inLayer.whiteoutParents.add(up)) {
        break;
      }
    }
  }

  /**
   * Whether a whiteout lies below a non-directory of its own layer. Such a whiteout is void: the
   * non-directory already replaced the whole lower tree. umoci writes exactly this when a file
   * replaces a directory (the file, then whiteouts for the directory's old children), and unpacks
   * it as the file; so do we, instead of letting the whiteouts imply a directory there.
   */
  private boolean underSameLayerNonDirectory(EntryPath whiteout, LayerIndex index) {
    for (EntryPath up = whiteout.parent(); !up.isRoot(); up = up.parent()) {
      if (index != null ? index.hasNonDirectory(up) : inLayer.replaced.contains(up)) {
        return true;
      }
    }
    return false;
  }

  private void replaceMark(PathNode[] chain, List<byte[]> components, int existing, int l) {
    PathNode n = chain[existing];
    for (int i = existing; i < components.size(); i++) {
      n = n.childOrCreate(new NameKey(components.get(i)));
    }
    n.mark(MarkKind.REPLACE, l);
  }

  private void claim(int l, EntryHeader h, SeenEntry seen, PathNode[] chain, List<byte[]> components, int existing,
      LayerTarReader reader) throws IOException {
    PathNode n = root;
    for (int i = 0; i < components.size(); i++) {
      n = i < existing ? chain[i + 1] : n.childOrCreate(new NameKey(components.get(i)));
      if (i < components.size() - 1 && n.state == State.NONE) {
        n.state = State.DIRECTORY; // an implied parent
        n.claimLayer = l;
      }
    }
    if (h.type().isDirectory()) {
      if (n.state != State.DIRECTORY) {
        n.state = State.DIRECTORY;
        n.claimLayer = l;
      }
      if (n.directoryHeader == null || n.directoryHeaderLayer == l) {
        n.directoryHeader = h;
        n.directoryHeaderLayer = l;
      }
      return;
    }
    n.state = State.NON_DIRECTORY;
    n.claimLayer = l;
    n.claimEntry = seen;
    if (h.type() == EntryType.FILE) {
      write(h, reader.content(), ContentOrigin.of(layers.get(l), reader.ordinal(), h.size()));
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
      if (n.opaqueLayer > l) {
        hidden = true; // a newer opaque marker above already hides everything the whiteout would
      }
      if (n != root) {
        if (n.hideLayer > l || (n.state == State.NON_DIRECTORY && n.claimLayer > l)) {
          hidden = true; // likewise for a newer whiteout or non-directory
        } else if (n.state == State.NON_DIRECTORY && !hidden) {
          throw conflict(l, path, "a whiteout under non-directory '" + EntryPath.display(n.pathBytes()) + "' of the same layer");
        }
      }
      if (i == components.size()) {
        break;
      }
      PathNode next = n.child(new NameKey(components.get(i)));
      if (next == null) {
        if (hidden) {
          return; // nothing below is tracked, so nothing can ask about this whiteout later
        }
        for (int j = i; j < components.size(); j++) {
          n = n.childOrCreate(new NameKey(components.get(j)));
        }
        break;
      }
      n = next;
    }
    if (hidden) {
      // Invisible in the result, but hard links waiting below may ask what this layer removed.
      PathNode target = opaque ? n : n.child(new NameKey(Whiteouts.target(name)));
      if (target != null) {
        target.mark(opaque ? MarkKind.OPAQUE : MarkKind.WHITEOUT, l);
      }
      return;
    }
    // Every entry implies its parent directories, whiteouts included.
    for (PathNode up = n; up != root; up = up.parent) {
      if (up.state == State.NONE) {
        up.state = State.DIRECTORY;
        up.claimLayer = l;
      }
    }
    if (opaque) {
      n.mark(MarkKind.OPAQUE, l);
    } else {
      n.childOrCreate(new NameKey(Whiteouts.target(name))).mark(MarkKind.WHITEOUT, l);
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
      n = n.child(new NameKey(c));
      if (n == null) {
        return;
      }
      if (n.pendingLinks == null) {
        continue;
      }
      bindWaiting(n, l, null);
      n.pendingLinks.removeIf(p -> {
        if (p.asOfLayer == l) {
          p.ref.drop();
          pendingCount--;
          return true;
        }
        return false;
      });
      if (n.pendingLinks.isEmpty()) {
        n.pendingLinks = null;
      }
    }
  }

  /**
   * Binds a hard link of layer {@code l} to what its target holds at that moment: an earlier
   * entry of the same layer, or else (unless this layer removed it) whatever an older layer has
   * there, which is only known later, so the link waits on the target's node.
   */
  private LinkRef bindLink(int l, EntryPath target) {
    LinkRef ref = new LinkRef();
    SeenEntry same = inLayer.seen.get(target);
    if (same != null) {
      bindToSeen(ref, same, target);
      return ref;
    }
    if (inLayer.implied.contains(target)) {
      ref.drop(); // an earlier entry of this layer below the target made it a directory
      return ref;
    }
    if (inLayer.whitedOut.contains(target)) {
      ref.drop();
      return ref;
    }
    for (EntryPath up = target.parent(); ; up = up.parent()) {
      if (inLayer.whitedOut.contains(up) || inLayer.opaque.contains(up)) {
        ref.drop(); // this layer's whiteouts apply before its links, wherever they stand in the tar
        return ref;
      }
      if (up.isRoot()) {
        break;
      }
      if (inLayer.replaced.contains(up)) {
        ref.drop(); // an earlier non-directory of this layer replaced the lower tree holding the target
        return ref;
      }
    }
    if (target.isRoot()) {
      ref.drop();
      return ref;
    }
    PathNode n = root;
    for (byte[] c : target.components()) {
      n = n.childOrCreate(new NameKey(c));
    }
    if (n.pendingLinks == null) {
      n.pendingLinks = new ArrayList<>(1);
    }
    n.pendingLinks.add(new PendingLink(ref, l));
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
      if (chain[i].pendingLinks != null) {
        bindWaiting(chain[i], l, null);
      }
    }
    if (placedEntry != null && node != null && node.pendingLinks != null) {
      bindWaiting(node, l, placedEntry);
    }
  }

  private void bindWaiting(PathNode node, int l, SeenEntry entry) {
    boolean any = false;
    for (PendingLink p : node.pendingLinks) {
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

  private static EntryPath pathOf(PathNode node) {
    try {
      return EntryPath.normalize(node.pathBytes());
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
      if (n != node && n.state == State.NON_DIRECTORY && n.claimLayer > l && n.claimLayer < asOf) {
        return true;
      }
    }
    return root.hidesAsOf(l, asOf, false);
  }

  /** Bindings made in layer {@code l} are final once the layer has been read to its end. */
  private void finishLayerBindings(int l) {
    for (PathNode node : boundInLayer) {
      if (node.pendingLinks == null) {
        continue;
      }
      node.pendingLinks.removeIf(p -> {
        boolean done = p.boundInLayer == l;
        if (done) {
          pendingCount--;
        }
        return done;
      });
      if (node.pendingLinks.isEmpty()) {
        node.pendingLinks = null;
      }
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
  private record EmitFrame(EntryPath path, Iterator<Map.Entry<NameKey, PathNode>> children) {}

  /**
   * Emits everything below {@code top} depth first, each directory before its children and the
   * children in name order. An explicit stack, not recursion: a layer decides the depth.
   */
  private void emitChildren(PathNode top, EntryPath topPath) throws IOException {
    ArrayDeque<EmitFrame> stack = new ArrayDeque<>();
    stack.push(new EmitFrame(topPath, new TreeMap<>(top.children()).entrySet().iterator()));
    while (!stack.isEmpty()) {
      EmitFrame frame = stack.peek();
      if (!frame.children().hasNext()) {
        stack.pop();
        continue;
      }
      Map.Entry<NameKey, PathNode> e = frame.children().next();
      PathNode child = e.getValue();
      if (child.state == State.NONE) {
        continue;
      }
      EntryPath path = frame.path().child(e.getKey().bytes);
      if (child.state == State.DIRECTORY) {
        write(child.directoryHeader != null ? child.directoryHeader : impliedDirectory(path), null);
        directories++;
        stack.push(new EmitFrame(path, new TreeMap<>(child.children()).entrySet().iterator()));
        continue;
      }
      SeenEntry entry = child.claimEntry;
      switch (entry.type) {
        case FILE -> { } // written as it streamed past
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
