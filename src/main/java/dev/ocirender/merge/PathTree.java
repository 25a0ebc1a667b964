package dev.ocirender.merge;

import dev.ocirender.layer.EntryPath;
import java.util.ArrayDeque;
import java.util.Arrays;

/**
 * The paths of the merge tree: {@link PathNode}s linked to their parents, names pooled in one
 * {@link NameArena}, and per node an open-addressing table (linear probing) of its children by name.
 * Each path is stored once and shares its ancestors with its siblings, so the memory per entry is a
 * node, its name and a table slot, whatever the depth. Lookups walk the path's bytes component by
 * component without splitting them into arrays. Nodes are never removed during a pass.
 */
final class PathTree {

  private NameArena names = new NameArena();
  final PathNode root = new PathNode(null, -1);

  /**
   * Drops every node below the root and every name: for the merge once it has emitted everything,
   * so that the sink finishes (a squashfs writer builds its tables then) without the tree in heap.
   */
  void release() {
    root.children(null, 0);
    names = new NameArena();
  }

  /**
   * Sets every node's flag stamp to 0 (no layer's), walking the tree with an explicit stack: for
   * when the stamps of the layers read have used up their range and start again.
   */
  void resetFlagStamps() {
    ArrayDeque<PathNode> stack = new ArrayDeque<>();
    stack.push(root);
    while (!stack.isEmpty()) {
      PathNode n = stack.pop();
      n.flagStamp = 0;
      n.layerFlags = 0;
      PathNode[] t = n.children();
      if (t != null) {
        for (PathNode c : t) {
          if (c != null) {
            stack.push(c);
          }
        }
      }
    }
  }

  /** The child of {@code parent} named {@code b[off, off + len)}, or null. */
  PathNode child(PathNode parent, byte[] b, int off, int len) {
    PathNode[] t = parent.children();
    if (t == null) {
      return null;
    }
    int mask = t.length - 1;
    for (int i = NameArena.hash(b, off, len) & mask; t[i] != null; i = (i + 1) & mask) {
      if (names.equals(t[i].name, b, off, len)) {
        return t[i];
      }
    }
    return null;
  }

  PathNode child(PathNode parent, byte[] name) {
    return child(parent, name, 0, name.length);
  }

  PathNode childOrCreate(PathNode parent, byte[] b, int off, int len) {
    PathNode found = child(parent, b, off, len);
    if (found != null) {
      return found;
    }
    PathNode created = new PathNode(parent, names.add(b, off, len));
    // Grow at 3/4 full: linear probing stays short, and a slot costs 4 bytes.
    PathNode[] t = parent.children();
    int count = parent.childCount();
    if (t == null) {
      t = new PathNode[2];
    } else if ((count + 1) * 4 > t.length * 3) {
      PathNode[] old = t;
      t = new PathNode[old.length * 2];
      for (PathNode c : old) {
        if (c != null) {
          insert(t, c, names.hash(c.name));
        }
      }
    }
    insert(t, created, NameArena.hash(b, off, len));
    parent.children(t, count + 1);
    return created;
  }

  PathNode childOrCreate(PathNode parent, byte[] name) {
    return childOrCreate(parent, name, 0, name.length);
  }

  private static void insert(PathNode[] t, PathNode n, int hash) {
    int mask = t.length - 1;
    int i = hash & mask;
    while (t[i] != null) {
      i = (i + 1) & mask;
    }
    t[i] = n;
  }

  /** The node of {@code path}, or null when the tree does not hold it. */
  PathNode find(EntryPath path) {
    PathNode n = deepestExisting(path);
    return depthOf(n) == componentCount(path) ? n : null;
  }

  /** The node of the longest prefix of {@code path} that the tree holds (the root at least). */
  PathNode deepestExisting(EntryPath path) {
    byte[] b = path.bytes();
    PathNode n = root;
    int start = 0;
    while (start < b.length) {
      int end = nextSlash(b, start);
      PathNode next = child(n, b, start, end - start);
      if (next == null) {
        return n;
      }
      n = next;
      start = end + 1;
    }
    return n;
  }

  /** The node of {@code path}, made with all its missing ancestors if need be. */
  PathNode intern(EntryPath path) {
    byte[] b = path.bytes();
    PathNode n = root;
    for (int start = 0; start < b.length; ) {
      int end = nextSlash(b, start);
      n = childOrCreate(n, b, start, end - start);
      start = end + 1;
    }
    return n;
  }

  /**
   * Interns {@code path} and fills {@code chain} (length {@link #componentCount} + 1) with the
   * nodes from the root ({@code chain[0]}) down to the path's own node.
   *
   * @return how many of the path's components the tree held before
   */
  int internChain(EntryPath path, PathNode[] chain) {
    byte[] b = path.bytes();
    PathNode n = root;
    chain[0] = n;
    int existing = 0;
    boolean creating = false;
    int i = 0;
    for (int start = 0; start < b.length; ) {
      int end = nextSlash(b, start);
      PathNode next = creating ? null : child(n, b, start, end - start);
      if (next == null) {
        creating = true;
        next = childOrCreate(n, b, start, end - start);
      } else {
        existing++;
      }
      chain[++i] = n = next;
      start = end + 1;
    }
    return existing;
  }

  static int componentCount(EntryPath path) {
    byte[] b = path.bytes();
    if (b.length == 0) {
      return 0;
    }
    int count = 1;
    for (byte c : b) {
      if (c == '/') {
        count++;
      }
    }
    return count;
  }

  private static int depthOf(PathNode n) {
    int d = 0;
    for (PathNode p = n; p.parent != null; p = p.parent) {
      d++;
    }
    return d;
  }

  private static int nextSlash(byte[] b, int from) {
    int i = from;
    while (i < b.length && b[i] != '/') {
      i++;
    }
    return i;
  }

  /** The node's last path component. */
  byte[] name(PathNode n) {
    return names.copy(n.name);
  }

  /**
   * The path from the root, built in two passes up the parent chain (length, then bytes from the
   * end): linear in the path's length, and no recursion, whatever the depth.
   */
  byte[] pathBytes(PathNode node) {
    int length = -1;
    for (PathNode n = node; n.parent != null; n = n.parent) {
      length += names.length(n.name) + 1;
    }
    if (length <= 0) {
      return new byte[0];
    }
    byte[] out = new byte[length];
    int end = length;
    for (PathNode n = node; n.parent != null; n = n.parent) {
      int len = names.length(n.name);
      end -= len;
      System.arraycopy(names.chunk(n.name), names.start(n.name), out, end, len);
      if (end > 0) {
        out[--end] = '/';
      }
    }
    return out;
  }

  /** The node's children in unsigned byte order of their names (the order outputs list them in). */
  PathNode[] sortedChildren(PathNode n) {
    PathNode[] t = n.children();
    if (t == null) {
      return new PathNode[0];
    }
    PathNode[] out = new PathNode[n.childCount()];
    int k = 0;
    for (PathNode c : t) {
      if (c != null) {
        out[k++] = c;
      }
    }
    Arrays.sort(out, (a, b) -> names.compare(a.name, b.name));
    return out;
  }
}
