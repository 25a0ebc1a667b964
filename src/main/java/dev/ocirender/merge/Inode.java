package dev.ocirender.merge;

import dev.ocirender.layer.EntryHeader;
import dev.ocirender.layer.EntryPath;

/**
 * A layer entry that hard links are bound to: the (layer, ordinal) that first held the content.
 * If that entry itself survives the merge, links become hard links to its path; if it was hidden,
 * the first surviving link path is promoted to carry the content (re-read from the layer for
 * regular files) and the others link to it.
 */
final class Inode {
  final int layer;
  final long ordinal;
  /** Header of a content-less source (symlink, device, FIFO); null for regular files. */
  final EntryHeader contentlessHeader;
  /** The source entry's own path if it is visible in the merged result, else null. */
  EntryPath visiblePath;
  /** The path that carries the inode in the output once decided (visible or promoted). */
  EntryPath primaryPath;

  Inode(int layer, long ordinal, EntryHeader contentlessHeader) {
    this.layer = layer;
    this.ordinal = ordinal;
    this.contentlessHeader = contentlessHeader;
  }
}
