package dev.ocirender.render;

import dev.ocirender.io.TemporaryFiles;
import dev.ocirender.io.TempNames;
import dev.ocirender.merge.OverlayMerge;
import dev.ocirender.output.BackgroundEntrySink;
import dev.ocirender.output.EntrySink;
import dev.ocirender.output.dir.DirStats;
import dev.ocirender.output.dir.DirectoryEntrySink;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Objects;

/**
 * Renders into a local directory that appears only when the render succeeded: the directory
 * counterpart of {@link FileRenderTarget}.
 *
 * <p>Each {@link #open()} makes a fresh staging directory beside the target
 * ({@code .NAME.tmp-RANDOM}, mode 0700, so nobody else can write into it while the image is
 * unpacked) with a fresh {@link DirectoryEntrySink}; the merge may discard a sink and start again,
 * and a sink closed without finishing has its staging tree deleted at once. {@link #publish()}
 * renames the finished tree onto the target. The sink's calls run on writer threads of their own
 * ({@link BackgroundEntrySink}): two with direct calls (entries spread by parent directory, see
 * {@link DirectoryEntrySink}), {@code -Docirender.dir.writerThreads=N} for another number (1: one
 * writer thread), one for the fallback; {@code -Docirender.dir.writerThread=false} makes the calls
 * on the merge thread. An existing
 * target that is not an empty directory is refused, already at {@link #open()} so no work is
 * wasted, unless {@code force}: then the old target is moved aside only once the new tree is
 * complete, the new one renamed in, and the old one deleted. {@link #close()} deletes whatever was
 * not published (after the writer thread stopped: the sink's {@code close()} waits for it).
 *
 * <p>Not atomic against a concurrent reader with {@code force}: between the two renames the target
 * name is briefly absent (Linux's {@code RENAME_EXCHANGE} would avoid that but has no Java API).
 * Deleting a tree never follows symlinks. Single-threaded.
 */
public final class DirectoryRenderTarget implements RenderTarget {


  /**
   * Whether the directory writer runs on a thread of its own ({@link BackgroundEntrySink}), the
   * default; {@code -Docirender.dir.writerThread=false} makes its calls on the merge thread.
   */
  static final boolean WRITER_THREAD = !"false".equals(System.getProperty("ocirender.dir.writerThread"));

  /** Writer threads with direct calls ({@code -Docirender.dir.writerThreads}, default 2). */
  static final int WRITER_THREADS = Math.max(1, Integer.getInteger("ocirender.dir.writerThreads", 2));

  /**
   * Entries written by the first writer thread before the others get any (a diagnostic setting,
   * {@code -Docirender.dir.firstLaneEntries}).
   */
  static final int FIRST_LANE_ENTRIES = Math.max(0, Integer.getInteger("ocirender.dir.firstLaneEntries",
      DirectoryEntrySink.FIRST_LANE_ENTRIES));

  private final Path output;
  private final boolean force;
  private final DirectoryEntrySink.Options options;
  private final int writerThreads;
  private final int firstLaneEntries;
  private final Attempts<Path> attempts = new Attempts<>(DirectoryRenderTarget::deleteTree);
  private DirStats stats;

  public DirectoryRenderTarget(Path output, boolean force, DirectoryEntrySink.Options options) {
    this(output, force, options, WRITER_THREAD ? WRITER_THREADS : 0, FIRST_LANE_ENTRIES);
  }

  /**
   * @param writerThreads how many threads write the tree with direct calls (one without them); 0
   *     for none: the calls on the merge thread
   * @param firstLaneEntries how many entries the first writer thread writes before the others get
   *     any (see {@link DirectoryEntrySink})
   */
  public DirectoryRenderTarget(Path output, boolean force, DirectoryEntrySink.Options options, int writerThreads,
      int firstLaneEntries) {
    this.output = Objects.requireNonNull(output, "output").toAbsolutePath().normalize();
    this.force = force;
    this.options = Objects.requireNonNull(options, "options");
    if (writerThreads < 0 || firstLaneEntries < 0) {
      throw new IllegalArgumentException("writer threads " + writerThreads + ", first-lane entries " + firstLaneEntries);
    }
    this.writerThreads = writerThreads;
    this.firstLaneEntries = firstLaneEntries;
  }

  public DirectoryRenderTarget(Path output, boolean force) {
    this(output, force, DirectoryEntrySink.Options.detect());
  }

  public Path output() {
    return output;
  }

  @Override
  public EntrySink open() throws IOException {
    attempts.abandonCurrent();
    checkTarget();
    Path staging = createStaging();
    DirectoryEntrySink sink;
    try {
      sink = new DirectoryEntrySink(staging, options, Math.max(1, writerThreads), firstLaneEntries);
    } catch (IOException | RuntimeException e) {
      deleteTree(staging);
      throw e;
    }
    attempts.begin(staging);
    // The file system work on a thread of its own, beside the merge thread; its close() waits for
    // that thread, so the staging tree is deleted only after the writer stopped.
    EntrySink writer = writerThreads > 0 ? new BackgroundEntrySink(sink, "directory output") : sink;
    return new Attempts.Attempt(writer) {
      @Override
      void ended(boolean finishedCleanly) throws IOException {
        if (finishedCleanly) {
          stats = sink.stats();
        }
        attempts.end(staging, finishedCleanly);
      }
    };
  }

  /** What the finished sink wrote; null until a sink has finished. */
  public DirStats stats() {
    return stats;
  }

  /**
   * Renames the finished tree onto the target. Call only after the merge returned successfully.
   *
   * @throws IllegalStateException if no sink was finished
   */
  public void publish() throws IOException {
    Path finished = attempts.finished(output);
    checkTarget();
    Path old = null;
    if (Files.exists(output, LinkOption.NOFOLLOW_LINKS) && !isEmptyDirectory(output)) {
      old = sibling(TempNames.OLD);
      Files.move(output, old, StandardCopyOption.ATOMIC_MOVE);
      TemporaryFiles.register(old);
    }
    try {
      // rename(2) also replaces an empty directory.
      Files.move(finished, output, StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      if (old != null) {
        Files.move(old, output, StandardCopyOption.ATOMIC_MOVE);
      }
      throw e;
    }
    TemporaryFiles.forget(finished);
    attempts.published();
    if (old != null) {
      deleteTree(old);
    }
  }

  /** Deletes every staging tree that was not published. */
  @Override
  public void close() throws IOException {
    attempts.close();
  }

  private void checkTarget() throws IOException {
    Path parent = output.getParent();
    if (parent == null || output.getFileName() == null) {
      throw new IOException("cannot render into " + output + ": not a directory path");
    }
    if (!Files.isDirectory(parent)) {
      throw new IOException("cannot render into " + output + ": directory " + parent + " does not exist");
    }
    if (!force && Files.exists(output, LinkOption.NOFOLLOW_LINKS) && !isEmptyDirectory(output)) {
      throw new IOException("output " + output + " exists and is not an empty directory; use --force to replace it");
    }
  }

  private Path createStaging() throws IOException {
    for (int attempt = 0; ; attempt++) {
      Path p = sibling(TempNames.TMP);
      try {
        Files.createDirectory(p, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        return TemporaryFiles.register(p); // removed by a shutdown hook if the process is stopped
      } catch (FileAlreadyExistsException e) {
        if (attempt >= 10) {
          throw e;
        }
      }
    }
  }

  private Path sibling(String kind) {
    return output.resolveSibling(TempNames.hidden(output.getFileName().toString(), kind));
  }

  private static boolean isEmptyDirectory(Path p) throws IOException {
    BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
    if (!a.isDirectory()) {
      return false;
    }
    try (DirectoryStream<Path> s = Files.newDirectoryStream(p)) {
      return !s.iterator().hasNext();
    }
  }

  /**
   * Deletes a tree without following symlinks. Directories are made accessible first, since a
   * rootless render may have left some read-only (0555) or unreadable.
   */
  public static void deleteTree(Path top) throws IOException {
    TemporaryFiles.deleteTree(top);
    TemporaryFiles.forget(top);
  }

}
