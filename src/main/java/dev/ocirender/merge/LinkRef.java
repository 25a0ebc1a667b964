package dev.ocirender.merge;

/**
 * What a hard-link entry is bound to: an inode (the entry that first held the content), another
 * link's binding (links to links), or nothing (target missing or a directory). Bindings are made
 * as the layers stream past, newest first, so a link may wait ({@link #unresolved}) until its
 * target shows up in an older layer.
 */
final class LinkRef {
  Inode inode;
  LinkRef forward;
  boolean dropped;

  /** Follows forwards to the binding that decides. */
  LinkRef resolve() {
    LinkRef r = this;
    while (r.forward != null) {
      r = r.forward;
    }
    return r;
  }

  boolean unresolved() {
    LinkRef r = resolve();
    return r.inode == null && !r.dropped;
  }

  void bindTo(Inode target) {
    inode = target;
    forward = null;
    dropped = false;
  }

  void forwardTo(LinkRef other) {
    if (other.resolve() == this) {
      dropped = true; // a cycle can only come from a malformed layer; treat as a missing target
      return;
    }
    inode = null;
    forward = other;
    dropped = false;
  }

  void drop() {
    inode = null;
    forward = null;
    dropped = true;
  }
}
