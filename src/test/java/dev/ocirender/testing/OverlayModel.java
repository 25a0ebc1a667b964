package dev.ocirender.testing;

import dev.ocirender.layer.EntryPath;
import dev.ocirender.layer.EntryType;
import dev.ocirender.layer.PathEscapeException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The reference meaning of an image: an in-memory filesystem to which the layers are applied
 * <em>oldest first</em>, one rule at a time, exactly as the merge contract states them (DESIGN.md,
 * "Merge semantics"). The streaming merger works newest first and must produce the same result;
 * differential tests check that on many generated layer stacks.
 *
 * <p>Written for clarity, not speed: every step scans the whole map, and inodes are plain objects
 * whose identity is the hard-link relation. It shares no logic with the merger on purpose. It reads
 * the logical entries a {@link LayerBuilder} recorded, never tar bytes, so a tar reader bug cannot
 * hide here. Not modelled: sparse files, tar-level details (long-name records, PAX), and anything
 * about output order.
 *
 * <p>The rules, for layer L applied to the state S built from the older layers:
 * <ol>
 *   <li>Paths are normalised ({@link EntryPath#normalize}); one that escapes the root fails the
 *       image, naming the layer and the entry.</li>
 *   <li>All whiteouts of L first remove from S (so never entries of L): {@code D/.wh.N} removes
 *       {@code D/N} and its tree, {@code D/.wh..wh..opq} removes D's children. Other
 *       {@code .wh..wh.*} names are ignored altogether, and so is a whiteout below a
 *       non-directory entry of L (that entry replaces the lower tree anyway; umoci writes such
 *       whiteouts when a file replaces a directory). Then each whiteout implies its parents.</li>
 *   <li>L's other entries apply in tar order; each first implies its missing (or non-directory)
 *       ancestors as default directories (0755, 0:0, mtime 0).
 *       A non-directory at P with entries of L below P (whiteouts do not count) is not placed: P becomes a directory with
 *       the metadata of L's last directory entry for P (else the default), and whatever older
 *       layers had at or under P is removed. A directory over a directory changes metadata only;
 *       over anything else it replaces it, empty. Any other non-directory replaces P and its tree.
 *       A hard link binds to the inode its target holds at that moment; a missing or directory
 *       target drops the link (counted): it still replaced
 *       what was at P, so P ends up empty. The root entry only sets the root's metadata.</li>
 * </ol>
 */
public final class OverlayModel {

  /** The image is invalid under the rules (a path escapes the root). */
  public static final class ModelException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    ModelException(String message) {
      super(message);
    }
  }

  /** The merged filesystem and what was dropped on the way. */
  public record Result(FsSnapshot snapshot, long droppedLinks) {}

  /** Attributes shared by all names of one inode; identity of the object is the inode. */
  private static final class Inode {
    final EntryType type;
    final int mode;
    final long uid;
    final long gid;
    final long mtimeSeconds;
    final int mtimeNanos;
    final byte[] content;
    final byte[] symlinkTarget;
    final int devMajor;
    final int devMinor;
    final Map<String, byte[]> xattrs;

    Inode(EntryType type, int mode, long uid, long gid, long mtimeSeconds, int mtimeNanos, byte[] content,
        byte[] symlinkTarget, int devMajor, int devMinor, Map<String, byte[]> xattrs) {
      this.type = type;
      this.mode = mode & 07777;
      this.uid = uid;
      this.gid = gid;
      this.mtimeSeconds = mtimeSeconds;
      this.mtimeNanos = mtimeNanos;
      this.content = content;
      this.symlinkTarget = symlinkTarget;
      this.devMajor = devMajor;
      this.devMinor = devMinor;
      this.xattrs = xattrs;
    }

    static Inode of(LayerBuilder.Entry e) {
      return new Inode(e.type(), e.mode(), e.uid(), e.gid(), e.mtimeSeconds(), e.mtimeNanos(), e.content(),
          e.symlinkTarget(), e.devMajor(), e.devMinor(), e.xattrs());
    }

    static Inode impliedDirectory() {
      return new Inode(EntryType.DIRECTORY, 0755, 0, 0, 0, 0, null, null, 0, 0, Map.of());
    }

    boolean isDirectory() {
      return type == EntryType.DIRECTORY;
    }
  }

  /** A path of the state: its inode and the layer that put it there (for the descendant rule). */
  private record Node(Inode inode, int layer) {}

  private enum Kind { ROOT, WHITEOUT, OPAQUE, IGNORED, ENTRY }

  /** One entry of the layer being applied, classified. */
  private record Item(LayerBuilder.Entry entry, EntryPath path, Kind kind, EntryPath linkTarget) {
    /** For WHITEOUT the path it removes, for OPAQUE the directory it empties. */
    EntryPath whiteoutTarget() {
      if (kind == Kind.OPAQUE) {
        return path.parent();
      }
      byte[] name = path.name();
      return path.parent().child(Arrays.copyOfRange(name, 4, name.length));
    }
  }

  private final TreeMap<EntryPath, Node> state = new TreeMap<>();
  private long droppedLinks;

  private OverlayModel() {
    state.put(EntryPath.ROOT, new Node(Inode.impliedDirectory(), -1));
  }

  /** Applies layers (oldest first) to an empty filesystem. */
  public static Result apply(List<List<LayerBuilder.Entry>> layers) {
    OverlayModel model = new OverlayModel();
    for (int i = 0; i < layers.size(); i++) {
      model.applyLayer(i, layers.get(i));
    }
    return new Result(model.snapshot(), model.droppedLinks);
  }

  /** Applies the layers of builders (oldest first). */
  public static Result of(LayerBuilder... layers) {
    List<List<LayerBuilder.Entry>> lists = new ArrayList<>();
    for (LayerBuilder l : layers) {
      lists.add(l.entries());
    }
    return apply(lists);
  }

  private void applyLayer(int layer, List<LayerBuilder.Entry> entries) {
    List<Item> items = new ArrayList<>();
    for (LayerBuilder.Entry e : entries) {
      items.add(classify(layer, e));
    }
    // A whiteout below a non-directory entry of its own layer is void: the non-directory replaces
    // the lower tree anyway (umoci writes such whiteouts when a file replaces a directory).
    Set<EntryPath> nonDirectories = new HashSet<>();
    for (Item it : items) {
      if (it.kind() == Kind.ENTRY && it.entry().type() != EntryType.DIRECTORY) {
        nonDirectories.add(it.path());
      }
    }
    items.replaceAll(it -> (it.kind() == Kind.WHITEOUT || it.kind() == Kind.OPAQUE)
        && underAny(it.path(), nonDirectories) ? new Item(it.entry(), it.path(), Kind.IGNORED, null) : it);

    // Rule b: whiteouts remove from the older state only, all of them before any entry of L.
    for (Item it : items) {
      if (it.kind() == Kind.WHITEOUT) {
        removeTree(it.whiteoutTarget());
      } else if (it.kind() == Kind.OPAQUE) {
        removeBelow(it.whiteoutTarget());
      }
    }
    // A whiteout entry still lists its parent directories, as every entry of L does.
    for (Item it : items) {
      if (it.kind() == Kind.WHITEOUT || it.kind() == Kind.OPAQUE) {
        implyParents(it.path(), layer);
      }
    }

    // Rule c: the other entries, in tar order.
    for (Item it : items) {
      switch (it.kind()) {
        case ROOT -> {
          if (it.entry().type() == EntryType.DIRECTORY) {
            state.put(EntryPath.ROOT, new Node(Inode.of(it.entry()), layer));
          }
        }
        case ENTRY -> applyEntry(layer, it, items);
        default -> { }
      }
    }
  }

  private void applyEntry(int layer, Item it, List<Item> items) {
    EntryPath p = it.path();
    LayerBuilder.Entry e = it.entry();
    if (e.type() != EntryType.DIRECTORY && hasDescendantsInLayer(p, items)) {
      implyParents(p, layer);
      // Older layers' entries at or under P are replaced; L's own entries below P stay.
      for (EntryPath q : new ArrayList<>(state.keySet())) {
        if ((q.equals(p) || q.isStrictlyUnder(p)) && state.get(q).layer() < layer) {
          state.remove(q);
        }
      }
      LayerBuilder.Entry dirEntry = lastDirectoryEntry(p, items);
      Inode dir = dirEntry == null ? Inode.impliedDirectory() : Inode.of(dirEntry);
      state.put(p, new Node(dir, layer));
      // Directories between P and L's remaining entries may have been older ones: imply them anew.
      for (EntryPath q : new ArrayList<>(state.keySet())) {
        if (q.isStrictlyUnder(p)) {
          implyParents(q, layer);
        }
      }
      // Every entry of L below P implies its parents (dropped links included), so those
      // directories stay as well. (Whiteouts below P are void: P is a non-directory of L.)
      for (Item w : items) {
        if (w.kind() == Kind.ENTRY && w.path().isStrictlyUnder(p)) {
          implyParents(w.path(), layer);
        }
      }
      return;
    }
    if (e.type() == EntryType.DIRECTORY) {
      implyParents(p, layer);
      Node old = state.get(p);
      if (old == null || !old.inode().isDirectory()) {
        removeTree(p);
      }
      state.put(p, new Node(Inode.of(e), layer)); // over a directory: children are kept
      return;
    }
    if (e.type() == EntryType.HARDLINK) {
      // Looked up before this entry changes anything, its own implied parents included.
      Node target = state.get(it.linkTarget());
      implyParents(p, layer);
      removeTree(p); // a dropped link still replaced whatever was at P: the path ends up empty
      if (target == null || target.inode().isDirectory()) {
        droppedLinks++;
        return;
      }
      state.put(p, new Node(target.inode(), layer));
      return;
    }
    implyParents(p, layer);
    removeTree(p);
    state.put(p, new Node(Inode.of(e), layer));
  }

  private Item classify(int layer, LayerBuilder.Entry e) {
    EntryPath path = normalize(layer, e, e.rawName());
    EntryPath link = e.type() == EntryType.HARDLINK ? normalize(layer, e, e.linkTarget()) : null;
    if (path.isRoot()) {
      return new Item(e, path, Kind.ROOT, link);
    }
    String name = new String(path.name(), StandardCharsets.ISO_8859_1); // byte-for-byte, for the prefix test
    Kind kind;
    if (name.equals(".wh..wh..opq")) {
      kind = Kind.OPAQUE;
    } else if (name.startsWith(".wh..wh.")) {
      kind = Kind.IGNORED;
    } else if (name.startsWith(".wh.")) {
      kind = name.length() > 4 ? Kind.WHITEOUT : Kind.IGNORED;
    } else {
      kind = Kind.ENTRY;
    }
    return new Item(e, path, kind, link);
  }

  private static EntryPath normalize(int layer, LayerBuilder.Entry e, byte[] raw) {
    try {
      return EntryPath.normalize(raw);
    } catch (PathEscapeException ex) {
      throw new ModelException("layer " + layer + ": entry '" + e.displayName() + "': " + ex.getMessage());
    }
  }

  private static boolean underAny(EntryPath path, Set<EntryPath> ancestors) {
    for (EntryPath up = path.parent(); !up.isRoot(); up = up.parent()) {
      if (ancestors.contains(up)) {
        return true;
      }
    }
    return false;
  }

  /** Whether layer L has any entry other than a whiteout strictly below p. */
  private static boolean hasDescendantsInLayer(EntryPath p, List<Item> items) {
    for (Item it : items) {
      if (it.kind() == Kind.ENTRY && it.path().isStrictlyUnder(p)) {
        return true;
      }
    }
    return false;
  }

  private static LayerBuilder.Entry lastDirectoryEntry(EntryPath p, List<Item> items) {
    LayerBuilder.Entry last = null;
    for (Item it : items) {
      if (it.kind() == Kind.ENTRY && it.path().equals(p) && it.entry().type() == EntryType.DIRECTORY) {
        last = it.entry();
      }
    }
    return last;
  }

  /** Makes every proper ancestor of p a directory: missing or non-directory ones become default. */
  private void implyParents(EntryPath p, int layer) {
    List<EntryPath> ancestors = new ArrayList<>();
    for (EntryPath a = p.parent(); !a.isRoot(); a = a.parent()) {
      ancestors.add(0, a);
    }
    for (EntryPath a : ancestors) {
      Node n = state.get(a);
      if (n == null || !n.inode().isDirectory()) {
        state.remove(a); // a non-directory has nothing below it
        state.put(a, new Node(Inode.impliedDirectory(), layer));
      }
    }
  }

  /** Removes p and everything under it (never the root itself). */
  private void removeTree(EntryPath p) {
    if (!p.isRoot()) {
      state.remove(p);
    }
    removeBelow(p);
  }

  private void removeBelow(EntryPath p) {
    state.keySet().removeIf(q -> q.isStrictlyUnder(p));
  }

  private FsSnapshot snapshot() {
    FsSnapshot.Builder b = FsSnapshot.builder();
    Map<Inode, Object> keys = new IdentityHashMap<>();
    Map<Inode, FsSnapshot.Digested> digests = new HashMap<>();
    state.forEach((p, n) -> {
      Inode i = n.inode();
      FsSnapshot.Digested d = i.type == EntryType.FILE
          ? digests.computeIfAbsent(i, x -> new FsSnapshot.Digested(x.content.length, FsSnapshot.sha256Hex(x.content)))
          : null;
      FsSnapshot.Node node = new FsSnapshot.Node(i.type, i.mode, i.uid, i.gid, i.mtimeSeconds, i.mtimeNanos,
          d == null ? 0 : d.size(), d == null ? null : d.sha256(), i.symlinkTarget, i.devMajor, i.devMinor,
          i.xattrs);
      b.add(p, node, keys.computeIfAbsent(i, x -> new Object()));
    });
    return b.build();
  }
}
