package dev.ocirender.layer;

import java.io.IOException;
import java.io.InputStream;

/**
 * The content stream of a sparse tar entry, as {@link LayerTarReader#content()} yields it, seen as
 * its map: where the data segments lie in the file of {@link #realSize()} bytes, and their bytes
 * back to back. An output that can keep holes (the tar output writes a GNU sparse 1.0 entry) reads
 * the map and {@link #segmentData()} instead of the expanded stream, so a 60 GB file of holes costs
 * the size of its data, not 60 GB of zeros. Read either the expanded stream or the segment data,
 * not both. The map is the one the reader {@link SparseMap#validate validated}: in order, not
 * overlapping, within the file, and its lengths add up to the bytes stored.
 */
public interface SparseContent {

  /** The expanded file's size. */
  long realSize();

  int segmentCount();

  long segmentOffset(int i);

  long segmentLength(int i);

  /** The sum of the segments' lengths: how many bytes {@link #segmentData()} yields. */
  default long storedSize() {
    long total = 0;
    for (int i = 0; i < segmentCount(); i++) {
      total += segmentLength(i);
    }
    return total;
  }

  /** The segments' bytes, back to back, as the archive stores them; valid while the entry is. */
  InputStream segmentData() throws IOException;
}
