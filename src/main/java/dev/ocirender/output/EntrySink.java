package dev.ocirender.output;

import dev.ocirender.layer.EntryHeader;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;

/**
 * Receives the merged filesystem, one entry at a time: the interface between the merge and every
 * output format (tar, squashfs, directory).
 *
 * <p>What the merge guarantees to a sink:
 * <ul>
 *   <li>each path arrives at most once, and no whiteout ever arrives;</li>
 *   <li>the root directory arrives exactly once, as a {@code DIRECTORY} with the root path;</li>
 *   <li>a {@code HARDLINK} names a path that has already arrived as a non-directory;</li>
 *   <li>the order is deterministic for a given image, but not sorted: first the regular files, as
 *       the layers stream past (newest layer first); then the root and every directory, symlink,
 *       device and FIFO in path order (parents before children); then entries that carry a hard
 *       link's content after the link's target was hidden (promoted, possibly read again from an
 *       older layer); last the hard links, in path order. So a file may arrive before its parent
 *       directory's entry: a sink that needs parents first must arrange it itself.</li>
 * </ul>
 * A sink that fails throws; the caller then {@link #close() closes} it without {@link #finish()},
 * and the sink must leave nothing behind under its final name.
 */
public interface EntrySink extends Closeable {

  /**
   * Takes one entry. For {@code FILE} entries {@code content} yields exactly {@code header.size()}
   * bytes and is valid only during this call; for every other type it is null.
   */
  void accept(EntryHeader header, InputStream content) throws IOException;

  /**
   * Takes one entry, with where its content comes from when the merge knows it ({@code origin} may
   * be null). A sink that reuses work per content overrides this; the others ignore the origin.
   * A sink that wraps another forwards the origin.
   */
  default void accept(EntryHeader header, InputStream content, ContentOrigin origin) throws IOException {
    accept(header, content);
  }

  /** Every entry has arrived: complete the output (trailers, tables, atomic publish). */
  void finish() throws IOException;

  /** Releases resources; after a failure (no {@link #finish()}), discards partial output. */
  @Override
  void close() throws IOException;
}
