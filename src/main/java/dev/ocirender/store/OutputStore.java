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

  /**
   * Starts writing {@code uri} as a local file that the caller fills in place through
   * {@link Upload#channel()} (a format that writes out of order, such as squashfs), or null when
   * this store does not keep its outputs as local files: the caller then writes a file of its own
   * and copies it into {@link #create}. Same guarantees as {@link #create}.
   */
  default Upload createFile(String uri, OutputMetadata metadata, String replaceVersion) throws IOException {
    return null;
  }

  /** Whether {@code uri} names a local file (for formats written through a local file first). */
  boolean isLocal(String uri);

  /**
   * What a publish does when its precondition failed. Runners re-run bundles (a lost worker, a
   * failed task), so the render being published may be a retry whose earlier attempt already
   * published this very output. When the output at {@code uri} is a complete render of the same
   * manifest digest, platform and format as {@code wanted}, it is the result (with its own size and
   * sha256); anything else there belongs to another writer and is left alone.
   *
   * @param lost the precondition failure, kept as the cause
   * @throws OutputExistsException when the output there is not a complete render of the same image
   */
  default StoredOutput adoptEarlierPublish(String uri, OutputMetadata wanted, OutputExistsException lost) throws IOException {
    Optional<StoredOutput> there = stat(uri);
    if (there.isEmpty()) {
      throw lost; // the precondition failed on something that is gone again: report what happened
    }
    OutputMetadata theirs = there.get().metadata();
    if (theirs != null && theirs.isCompleteRenderOf(wanted.manifestDigest(), wanted.platform(), wanted.format())) {
      return there.get();
    }
    String holds = theirs == null ? "an object without ocirender metadata"
        : theirs.sha256() == null ? "an unfinished publish of " + theirs.manifestDigest()
        : "a render of " + theirs.manifestDigest() + " " + theirs.platform() + " " + theirs.format();
    throw new OutputExistsException(uri + " is owned by another writer: it holds " + holds + ", not "
        + wanted.manifestDigest() + " " + wanted.platform() + " " + wanted.format() + "; not overwriting it", lost);
  }
}
