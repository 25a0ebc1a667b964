package dev.ocirender.io;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;

/**
 * The temporary outputs of this process (a render's {@code .NAME.tmp-…} file or staging directory,
 * a squashfs spool file), so that none outlives it: each is registered while it exists, and a JVM
 * shutdown hook (which runs on SIGTERM, SIGINT and a normal exit, not on SIGKILL) removes those
 * still registered. For what a SIGKILL or a crash leaves, {@link #removeStale} clears temporaries
 * of our own naming patterns older than a threshold when a run starts in the same directory.
 *
 * <p>The naming patterns are those the writers use today ({@code AtomicFileOutput},
 * {@code DirectoryRenderTarget}, {@code FileSystemsOutputStore}: {@code .NAME.tmp-HEX},
 * {@code .NAME.old-HEX}; {@code StoreRenderTarget}'s spool: {@code ocirender-DIGITS.sqfs}).
 * The names are made, and their pattern defined, in {@link TempNames}. Never removed: any path of
 * another program; only names of our exact shapes are.
 */
public final class TemporaryFiles {

  /** How old a leftover must be before a new run removes it: no render of ours takes a day. */
  public static final Duration DEFAULT_STALE_AGE = Duration.ofHours(24);

  /** {@code .NAME.tmp-HEX} and {@code .NAME.old-HEX}: an atomic output's temporary file or tree. */
  public static final Pattern OUTPUT_TEMPORARY = TempNames.HIDDEN;
  /** A squashfs spool file in the temporary directory ({@code Files.createTempFile("ocirender-", ".sqfs")}). */
  public static final Pattern SPOOL_FILE = Pattern.compile("ocirender-[0-9]+\\.sqfs");

  private static final Set<Path> LIVE = ConcurrentHashMap.newKeySet();
  private static volatile boolean hookInstalled;

  private TemporaryFiles() {}

  /** Notes {@code path} (a file or a directory tree) as this process's until {@link #forget}; returns it. */
  public static Path register(Path path) {
    installHook();
    LIVE.add(path.toAbsolutePath());
    return path;
  }

  /** {@code path} was published or removed: the shutdown hook leaves it alone. */
  public static void forget(Path path) {
    LIVE.remove(path.toAbsolutePath());
  }

  /** What is registered now (for tests and diagnostics). */
  public static Set<Path> live() {
    return Set.copyOf(LIVE);
  }

  private static synchronized void installHook() {
    if (hookInstalled) {
      return;
    }
    Runtime.getRuntime().addShutdownHook(new Thread(TemporaryFiles::removeLive, "ocirender temporary files"));
    hookInstalled = true;
  }

  private static void removeLive() {
    for (Path p : List.copyOf(LIVE)) {
      try {
        deleteTree(p);
      } catch (IOException | RuntimeException e) {
        // Best effort at exit: a render thread may still be writing into a staging tree.
      }
    }
  }

  /**
   * Removes the entries of {@code dir} whose names match {@code pattern} and that were last
   * modified more than {@code olderThan} ago; returns how many. Entries are looked at without
   * following symlinks, and a symlink is removed as a link, never followed.
   */
  public static int removeStale(Path dir, Pattern pattern, Duration olderThan) throws IOException {
    if (!Files.isDirectory(dir)) {
      return 0;
    }
    Instant cutoff = Instant.now().minus(olderThan);
    int removed = 0;
    try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir)) {
      for (Path p : entries) {
        if (!pattern.matcher(p.getFileName().toString()).matches() || LIVE.contains(p.toAbsolutePath())) {
          continue;
        }
        BasicFileAttributes a;
        try {
          a = Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        } catch (NoSuchFileException e) {
          continue;
        }
        if (a.lastModifiedTime().toInstant().isBefore(cutoff)) {
          deleteTree(p);
          removed++;
        }
      }
    }
    return removed;
  }

  /**
   * Deletes a file, or a directory tree depth first, without following symlinks: an explicit stack,
   * not recursion (a rendered tree is as deep as an image makes it). A directory is made writable
   * before it is opened, since a rendered tree may hold read-only or unreadable ones, and deleted
   * when met the second time, after its children.
   */
  public static void deleteTree(Path top) throws IOException {
    // Depth first with an explicit stack (a rendered tree can be as deep as an image makes it): a
    // directory is deleted when met the second time, after its children.
    ArrayDeque<Path> stack = new ArrayDeque<>();
    Set<Path> opened = new HashSet<>();
    stack.push(top);
    while (!stack.isEmpty()) {
      Path p = stack.peek();
      if (opened.remove(p)) {
        stack.pop();
        Files.deleteIfExists(p);
        continue;
      }
      BasicFileAttributes a;
      try {
        a = Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
      } catch (NoSuchFileException e) {
        stack.pop();
        continue;
      }
      if (!a.isDirectory()) {
        stack.pop();
        Files.deleteIfExists(p);
        continue;
      }
      // chmod by path: lstat just said this is a directory, not a symlink; a no-follow chmod would
      // have to open it, which an unreadable directory refuses.
      try {
        Files.setAttribute(p, "unix:mode", 0700);
      } catch (IOException e) {
        // not ours to change; deleting may still work
      }
      opened.add(p);
      try (DirectoryStream<Path> s = Files.newDirectoryStream(p)) {
        for (Path child : s) {
          stack.push(child);
        }
      }
    }
  }}
