package dev.ocirender.verify;

import dev.ocirender.layer.EntryPath;
import dev.ocirender.layer.EntryType;
import java.util.Collections;
import java.util.HashMap;
import java.util.Map;
import java.util.NavigableMap;
import java.util.TreeMap;

/**
 * A whole filesystem as verification compares it: every path with its {@link FsNode}. Holds
 * metadata and digests only, so a model of a multi-gigabyte image costs a few hundred bytes per
 * path. Built by {@link ModelSink} from any source of entries.
 */
public final class FsModel {

  private final String description;
  private final NavigableMap<EntryPath, FsNode> nodes;
  private final Map<Long, EntryPath> groupLeaders;
  private final boolean xattrsKnown;
  private final long sockets;

  FsModel(String description, NavigableMap<EntryPath, FsNode> nodes, boolean xattrsKnown, long sockets) {
    this.description = description;
    this.nodes = Collections.unmodifiableNavigableMap(nodes);
    this.xattrsKnown = xattrsKnown;
    this.sockets = sockets;
    Map<Long, EntryPath> leaders = new HashMap<>();
    Map<Long, Integer> counts = new HashMap<>();
    for (Map.Entry<EntryPath, FsNode> e : nodes.entrySet()) { // ascending: the first path seen is the smallest
      if (e.getValue().type() != EntryType.DIRECTORY) {
        leaders.putIfAbsent(e.getValue().inode(), e.getKey());
        counts.merge(e.getValue().inode(), 1, Integer::sum);
      }
    }
    leaders.keySet().removeIf(k -> counts.get(k) < 2);
    this.groupLeaders = leaders;
  }

  /** What was read (a path and its format, or an image reference). */
  public String description() {
    return description;
  }

  public NavigableMap<EntryPath, FsNode> nodes() {
    return nodes;
  }

  /** False when this side's xattrs could not be read (e.g. a directory without getfattr). */
  public boolean xattrsKnown() {
    return xattrsKnown;
  }

  /** Sockets seen and left out (no image or tar can hold one). */
  public long sockets() {
    return sockets;
  }

  /**
   * The smallest path of {@code path}'s hard-link group when that is another path; null when the
   * path is the smallest of its group or not hard-linked. Comparing this per path reports a broken
   * or extra link once, at the path that lost or gained it.
   */
  public EntryPath linkedTo(EntryPath path) {
    FsNode n = nodes.get(path);
    if (n == null || n.type() == EntryType.DIRECTORY) {
      return null;
    }
    EntryPath leader = groupLeaders.get(n.inode());
    return leader == null || leader.equals(path) ? null : leader;
  }

  public int size() {
    return nodes.size();
  }
}
