package dev.ocirender.render;

import dev.ocirender.io.TemporaryFiles;
import dev.ocirender.io.WorkCounters;
import dev.ocirender.merge.OverlayMerge;
import dev.ocirender.output.EntrySink;
import dev.ocirender.squashfs.writer.SquashfsEntrySink;
import dev.ocirender.squashfs.writer.SquashfsOptions;
import dev.ocirender.output.tar.TarEntrySink;
import dev.ocirender.store.OutputMetadata;
import dev.ocirender.store.OutputStore;
import dev.ocirender.store.StoredOutput;
import dev.ocirender.store.Upload;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Renders into an {@link OutputStore}: the object-storage counterpart of {@link FileRenderTarget}.
 *
 * <p>Each {@link #open()} starts a fresh {@link Upload}, because the merge may discard its first
 * sink; a sink closed without {@code finish()} abandons its upload at once. Tar streams straight
 * into the upload. The finished attempt is published by {@link #publish()} only after the whole
 * merge returned, so a failed render publishes nothing under the final name. Squashfs cannot
 * stream (its superblock is written last, at offset 0): to a store that keeps outputs as local
 * files it is written in place, into the store's temporary file ({@link OutputStore#createFile}:
 * written once, hashed by reading it back); to any other store it is written to a local spool file
 * (in {@code java.io.tmpdir}: size worker disks for it) and uploaded from there once complete.
 * Directory output never goes through a store and is refused. Single-threaded.
 */
public final class StoreRenderTarget implements OverlayMerge.SinkOpener, Closeable {

  private final OutputStore store;
  private final String uri;
  private final OutputFormat format;
  private final OutputMetadata metadata;
  private final String replaceVersion;
  private final SquashfsOptions squashfs;
  private final WorkCounters counters;
  private final Attempts<Upload> attempts = new Attempts<>(Upload::close);

  /**
   * @param replaceVersion null to publish only where nothing exists; otherwise the version replaced
   * @throws IllegalArgumentException for a format this target cannot write to {@code uri}
   */
  public StoreRenderTarget(OutputStore store, String uri, OutputFormat format, OutputMetadata metadata, String replaceVersion) {
    this(store, uri, format, metadata, replaceVersion, SquashfsOptions.defaults(), WorkCounters.NONE);
  }

  /**
   * As above, writing squashfs with {@code squashfs} (with a block cache root, to reuse compressed
   * blocks) and reporting the finished image's compression work to {@code counters}.
   */
  public StoreRenderTarget(OutputStore store, String uri, OutputFormat format, OutputMetadata metadata, String replaceVersion,
      SquashfsOptions squashfs, WorkCounters counters) {
    checkWritable(format, uri, store.isLocal(uri));
    this.squashfs = java.util.Objects.requireNonNull(squashfs, "squashfs");
    this.counters = java.util.Objects.requireNonNull(counters, "counters");
    this.store = store;
    this.uri = uri;
    this.format = format;
    this.metadata = metadata;
    this.replaceVersion = replaceVersion;
  }

  /** Fails with a message for the user when {@code format} cannot be written to {@code uri}. */
  public static void checkWritable(OutputFormat format, String uri, boolean local) {
    if (format == OutputFormat.DIR) {
      throw new IllegalArgumentException(local
          ? "output format 'dir' is rendered by the command line (render --format dir), not by the catalog pipeline"
          : "output format 'dir' writes a local directory and cannot go to " + uri + "; use tar or squashfs for object storage");
    }
  }

  @Override
  public EntrySink open() throws IOException {
    attempts.abandonCurrent();
    if (format == OutputFormat.SQUASHFS) {
      Upload inPlace = store.createFile(uri, metadata, replaceVersion);
      if (inPlace != null) {
        EntrySink sink;
        try {
          sink = new SquashfsEntrySink(inPlace.channel(), squashfs).reportingTo(counters);
        } catch (IOException | RuntimeException e) {
          inPlace.close();
          throw e;
        }
        return attempts.begin(inPlace, sink);
      }
      Path spool = TemporaryFiles.register(Files.createTempFile("ocirender-", ".sqfs"));
      try {
        return new SpooledAttempt(SquashfsEntrySink.create(spool, squashfs).reportingTo(counters), spool);
      } catch (IOException | RuntimeException e) {
        Files.deleteIfExists(spool);
        TemporaryFiles.forget(spool);
        throw e;
      }
    }
    Upload upload = store.create(uri, metadata, replaceVersion);
    EntrySink sink;
    try {
      sink = new TarEntrySink(upload.stream());
    } catch (RuntimeException e) {
      upload.close();
      throw e;
    }
    return attempts.begin(upload, sink);
  }

  /** Publishes the finished output; call only after the merge returned successfully. */
  public StoredOutput publish() throws IOException {
    StoredOutput stored = attempts.finished(uri).commit();
    attempts.published();
    return stored;
  }

  @Override
  public void close() throws IOException {
    attempts.close();
  }

  /**
   * A squashfs attempt: the image is written to a local spool file (its superblock comes last, at
   * offset 0, so it cannot stream) and uploaded from there once the sink finished.
   */
  private final class SpooledAttempt extends Attempts.Attempt {
    private final Path spool;
    private Upload upload;

    SpooledAttempt(EntrySink sink, Path spool) {
      super(sink);
      this.spool = spool;
    }

    @Override
    void afterFinish(EntrySink sink) throws IOException {
      sink.close();
      upload = store.create(uri, metadata, replaceVersion);
      attempts.begin(upload);
      try (InputStream in = Files.newInputStream(spool)) {
        in.transferTo(upload.stream());
      }
    }

    @Override
    void ended(boolean finishedCleanly) throws IOException {
      try {
        Files.deleteIfExists(spool);
        TemporaryFiles.forget(spool);
      } finally {
        if (upload != null) {
          attempts.end(upload, finishedCleanly);
        }
      }
    }
  }
}
