package dev.ocirender.render;

import dev.ocirender.merge.OverlayMerge;
import dev.ocirender.output.EntrySink;
import dev.ocirender.squashfs.writer.SquashfsEntrySink;
import dev.ocirender.squashfs.writer.SquashfsOptions;
import dev.ocirender.output.tar.TarEntrySink;
import dev.ocirender.store.AtomicFileOutput;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Path;
import java.util.Objects;
import java.util.function.Function;

/**
 * Renders into one local file that is published atomically: the glue between the merge's
 * {@link OverlayMerge.SinkOpener} and {@link AtomicFileOutput}.
 *
 * <p>Each {@link #open()} starts a fresh temporary file with a fresh sink, because the merge may
 * discard its first sink and start again. A sink the merge closes without finishing has its
 * temporary file deleted at once. The finished attempt stays unpublished until {@link #publish()},
 * which the caller invokes only after the whole merge returned successfully, so no failure at any
 * point, including one after the sink's {@code finish()}, leaves anything at the output path.
 * {@link #close()} deletes whatever was not published.
 *
 * <p>Not for directory outputs (a directory cannot be renamed into place over an existing one
 * atomically) and not for object storage; those get targets of their own. Single-threaded.
 */
public final class FileRenderTarget implements RenderTarget {

  private final Path output;
  private final SinkFactory sinkFactory;
  private final Attempts<AtomicFileOutput> attempts = new Attempts<>(AtomicFileOutput::close);

  /**
   * @param sinkFactory makes the format's sink over the temporary file's stream; the sink may close
   *     the stream, which only flushes it
   */
  public FileRenderTarget(Path output, Function<OutputStream, EntrySink> sinkFactory) {
    this(overStream(Objects.requireNonNull(sinkFactory, "sinkFactory")), output);
  }

  private static SinkFactory overStream(Function<OutputStream, EntrySink> streamSinks) {
    return file -> streamSinks.apply(file.stream());
  }

  /**
   * A target whose sinks get the whole temporary file (its channel or path), for formats that
   * write out of order (squashfs) or through another program.
   */
  public static FileRenderTarget withFileSinks(Path output, SinkFactory sinkFactory) {
    return new FileRenderTarget(Objects.requireNonNull(sinkFactory, "sinkFactory"), output);
  }

  private FileRenderTarget(SinkFactory sinkFactory, Path output) {
    this.output = Objects.requireNonNull(output, "output");
    this.sinkFactory = sinkFactory;
  }

  /** Makes one attempt's sink over one temporary file; the file (not the sink) owns the channel. */
  @FunctionalInterface
  public interface SinkFactory {
    EntrySink open(AtomicFileOutput file) throws IOException;
  }

  /** A target writing {@code format} to {@code output}; a directory is not a file and fails. */
  public static FileRenderTarget of(Path output, OutputFormat format) {
    return switch (format) {
      case TAR -> new FileRenderTarget(output, TarEntrySink::new);
      case SQUASHFS -> withFileSinks(output, file -> new SquashfsEntrySink(file.channel(), SquashfsOptions.defaults()));
      case DIR -> throw new IllegalArgumentException("output format 'dir' is a directory, not a file: use a DirectoryRenderTarget");
    };
  }

  public Path output() {
    return output;
  }

  @Override
  public EntrySink open() throws IOException {
    // The merge closes a sink before asking for the next one; if it did not, the abandoned temp
    // file must still go.
    attempts.abandonCurrent();
    AtomicFileOutput file = AtomicFileOutput.create(output);
    EntrySink sink;
    try {
      sink = sinkFactory.open(file);
    } catch (IOException | RuntimeException e) {
      file.close();
      throw e;
    }
    return attempts.begin(file, sink);
  }

  /**
   * Moves the finished output into place. Call only after the merge returned successfully.
   *
   * @throws IllegalStateException if no sink was finished
   */
  public void publish() throws IOException {
    attempts.finished(output).publish();
    attempts.published();
  }

  /** Deletes every temporary file that was not published. */
  @Override
  public void close() throws IOException {
    attempts.close();
  }
}
