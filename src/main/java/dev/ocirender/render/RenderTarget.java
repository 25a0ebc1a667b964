package dev.ocirender.render;

import dev.ocirender.merge.OverlayMerge;
import java.io.Closeable;
import java.io.IOException;
import java.nio.file.Path;

/**
 * Where one render goes and how it is published: each {@link #open()} starts a fresh attempt
 * (the merge may discard the first and start again), {@link #publish()} makes the finished
 * attempt appear under {@link #output()} at once, and {@link #close()} removes whatever was not
 * published. Implementations: {@link FileRenderTarget} (tar, squashfs) and
 * {@link DirectoryRenderTarget}.
 */
public interface RenderTarget extends OverlayMerge.SinkOpener, Closeable {

  /** The final location. */
  Path output();

  /** Publishes the finished attempt; called only after the whole merge returned successfully. */
  void publish() throws IOException;
}
