package dev.ocirender.store;

import java.io.Closeable;
import java.io.IOException;
import java.util.Optional;

/**
 * Where rendered outputs are published: a local directory, a GCS bucket, or anything Beam
 * FileSystems can write. Every store publishes all-or-nothing: an {@link Upload} that is closed
 * without {@link Upload#commit()} leaves nothing under the final name, and a committed one carries
 * its {@link OutputMetadata}, so re-runs can skip outputs that are already there.
 *
 * <p>Deliberately small: no listing, no deletion, no reads of content (a store only needs to say
 * what is there and to write new things). Directory outputs are not stored through this interface;
 * they are local-only and written by the directory writer itself. Implementations are safe for use
 * by several threads, each with its own uploads. Pick one with {@link OutputStores}.
 */
public interface OutputStore extends Closeable {

  /** The output at {@code uri} with its metadata, or empty when there is none. */
  Optional<StoredOutput> stat(String uri) throws IOException;

  /**
   * Starts writing {@code uri}.
   *
   * @param metadata recorded with the output; its sha256 is filled in by the upload
   * @param replaceVersion null to publish only if nothing is at {@code uri} (no clobbering of a
   *     concurrent writer); otherwise the {@link StoredOutput#version()} that this output replaces
   */
  Upload create(String uri, OutputMetadata metadata, String replaceVersion) throws IOException;

  /** Whether {@code uri} names a local file (for formats written through a local file first). */
  boolean isLocal(String uri);
}
