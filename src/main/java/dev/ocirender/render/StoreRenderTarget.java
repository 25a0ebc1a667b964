package dev.ocirender.render;

import dev.ocirender.layer.EntryHeader;
import dev.ocirender.merge.OverlayMerge;
import dev.ocirender.output.EntrySink;
import dev.ocirender.output.tar.TarEntrySink;
import dev.ocirender.store.OutputMetadata;
import dev.ocirender.store.OutputStore;
import dev.ocirender.store.StoredOutput;
import dev.ocirender.store.Upload;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;

/**
 * Renders into an {@link OutputStore}: the object-storage counterpart of {@link FileRenderTarget}.
 *
 * <p>Each {@link #open()} starts a fresh {@link Upload}, because the merge may discard its first
 * sink; a sink closed without {@code finish()} abandons its upload at once. Tar streams straight
 * into the upload. The finished attempt is published by {@link #publish()} only after the whole
 * merge returned, so a failed render publishes nothing under the final name. Formats that cannot
 * stream (squashfs, when it lands) are to be written to a local temporary file and uploaded from
 * there; directory output never goes through a store and is refused for non-local URIs.
 * Single-threaded.
 */
public final class StoreRenderTarget implements OverlayMerge.SinkOpener, Closeable {

  private final OutputStore store;
  private final String uri;
  private final OutputFormat format;
  private final OutputMetadata metadata;
  private final String replaceVersion;
  private Upload current;
  private Upload finished;

  /**
   * @param replaceVersion null to publish only where nothing exists; otherwise the version replaced
   * @throws IllegalArgumentException for a format this target cannot write to {@code uri}
   */
  public StoreRenderTarget(OutputStore store, String uri, OutputFormat format, OutputMetadata metadata, String replaceVersion) {
    checkWritable(format, uri, store.isLocal(uri));
    this.store = store;
    this.uri = uri;
    this.format = format;
    this.metadata = metadata;
    this.replaceVersion = replaceVersion;
  }

  /** Fails with a message for the user when {@code format} cannot be written to {@code uri}. */
  public static void checkWritable(OutputFormat format, String uri, boolean local) {
    switch (format) {
      case TAR -> { }
      case DIR -> throw new IllegalArgumentException(local
          ? "output format 'dir' is not supported yet"
          : "output format 'dir' writes a local directory and cannot go to " + uri + "; use tar or squashfs for object storage");
      case SQUASHFS -> throw new IllegalArgumentException("output format 'squashfs' is not supported yet");
    }
  }

  @Override
  public EntrySink open() throws IOException {
    abandon(current);
    Upload upload = store.create(uri, metadata, replaceVersion);
    current = upload;
    EntrySink sink = switch (format) {
      case TAR -> new TarEntrySink(upload.stream());
      case SQUASHFS, DIR -> throw new IllegalStateException("unreachable: checked in the constructor");
    };
    return new Attempt(upload, sink);
  }

  /** Publishes the finished output; call only after the merge returned successfully. */
  public StoredOutput publish() throws IOException {
    if (finished == null) {
      throw new IllegalStateException("no finished output to publish for " + uri);
    }
    Upload upload = finished;
    finished = null;
    return upload.commit();
  }

  @Override
  public void close() throws IOException {
    abandon(current);
    abandon(finished);
  }

  private static void abandon(Upload upload) throws IOException {
    if (upload != null) {
      upload.close();
    }
  }

  private final class Attempt implements EntrySink {
    private final Upload upload;
    private final EntrySink sink;
    private boolean done;

    Attempt(Upload upload, EntrySink sink) {
      this.upload = upload;
      this.sink = sink;
    }

    @Override
    public void accept(EntryHeader header, InputStream content) throws IOException {
      sink.accept(header, content);
    }

    @Override
    public void finish() throws IOException {
      sink.finish();
      done = true;
    }

    @Override
    public void close() throws IOException {
      boolean clean = false;
      try {
        sink.close();
        clean = true;
      } finally {
        if (done && clean) {
          if (finished != null && finished != upload) {
            abandon(finished);
          }
          finished = upload;
        } else {
          abandon(upload);
        }
        if (current == upload) {
          current = null;
        }
      }
    }
  }
}
