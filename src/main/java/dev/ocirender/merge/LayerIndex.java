package dev.ocirender.merge;

import dev.ocirender.layer.EntryHeader;
import dev.ocirender.layer.EntryPath;
import dev.ocirender.layer.LayerBlob;
import dev.ocirender.layer.LayerLimits;
import dev.ocirender.layer.LayerTarReader;
import java.io.IOException;
import java.io.InputStream;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/**
 * The look-ahead a streaming merge lacks: for one layer, which entry finally holds each path.
 *
 * <p>Only built for layers where the optimistic single pass met a conflict it cannot undo (a
 * regular file already written, then the same path again, or children under it, later in the same
 * layer). It costs one extra read of the layer's headers, which for compressed layers means
 * decoding the layer again, so it is the exception, not the rule.
 */
final class LayerIndex {

  private final Map<EntryPath, long[]> lastOrdinals = new HashMap<>();
  private final Set<EntryPath> withDescendants = new HashSet<>();
  private final Set<EntryPath> nonDirectories = new HashSet<>();

  static LayerIndex scan(LayerBlob layer, LayerLimits limits) throws IOException {
    LayerIndex index = new LayerIndex();
    try (InputStream tar = layer.openTar(); LayerTarReader reader = new LayerTarReader(tar, limits)) {
      EntryHeader h;
      while ((h = reader.next()) != null) {
        index.add(h.path(), reader.ordinal(), h.type().isDirectory());
      }
    }
    return index;
  }

  private void add(EntryPath path, long ordinal, boolean directory) {
    if (path.isRoot()) {
      return;
    }
    byte[] name = path.name();
    if (Whiteouts.isAufsInternal(name)) {
      return;
    }
    if (Whiteouts.isWhiteout(name)) {
      return; // whiteouts make no directories out of non-directories (see StreamingMerger)
    }
    for (EntryPath up = path.parent(); !up.isRoot() && withDescendants.add(up); up = up.parent()) {
      // every ancestor gains a descendant; stop where one already had one (its ancestors do too)
    }
    if (!directory) {
      nonDirectories.add(path);
    }
    long[] last = lastOrdinals.computeIfAbsent(path, p -> new long[] {-1, -1});
    last[0] = ordinal;
    if (directory) {
      last[1] = ordinal;
    }
  }

  /** Whether the layer has any entry other than a whiteout strictly below {@code path}. */
  boolean hasDescendants(EntryPath path) {
    return withDescendants.contains(path);
  }

  /** Whether the layer has a non-directory entry (placed or not) at {@code path}. */
  boolean hasNonDirectory(EntryPath path) {
    return nonDirectories.contains(path);
  }

  /**
   * Whether this entry is the one that holds {@code path} when the layer is done: the last entry
   * for the path, except that a path with descendants in the layer is a directory, held by its
   * last directory entry (or by none: an implied directory).
   */
  boolean isEffective(EntryPath path, long ordinal, boolean directory) {
    long[] last = lastOrdinals.get(path);
    if (last == null) {
      return false;
    }
    if (withDescendants.contains(path)) {
      return directory && last[1] == ordinal;
    }
    return last[0] == ordinal;
  }
}
