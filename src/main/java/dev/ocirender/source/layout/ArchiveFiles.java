package dev.ocirender.source.layout;

import dev.ocirender.source.ImageSourceException;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarFile;
import org.apache.commons.compress.utils.BoundedSeekableByteChannelInputStream;

/**
 * Read-only access by name to the files of a {@code docker save} archive, whether it is still a tar
 * file or was extracted to a directory, so that {@link DockerArchiveSource} does not care which.
 *
 * <p>Names are archive paths such as {@code abc/layer.tar}. A name that is absolute or has a
 * {@code ..} component is refused, and links are followed only while they stay inside the archive
 * (skopeo and {@code docker save} write {@code <id>/layer.tar} as a symlink to a shared file). It
 * never extracts anything: a tar archive is indexed once, and every {@link #open} reads the entry's
 * bytes in place through a channel of its own, so several layers can be read at once.
 */
abstract class ArchiveFiles {

  /** A regular file of the archive; {@code name} is where it really is, after following links. */
  record Entry(String name, long size) {}

  // Enough for any chain of layer links that docker or skopeo writes; stops link loops.
  private static final int MAX_LINK_HOPS = 16;

  protected final String reference;

  ArchiveFiles(String reference) {
    this.reference = reference;
  }

  /** Opens {@code path} as an extracted directory or as a tar file. */
  static ArchiveFiles open(String reference, Path path) throws ImageSourceException {
    if (Files.isDirectory(path)) {
      try {
        return new Dir(reference, path.toRealPath());
      } catch (IOException e) {
        throw new ImageSourceException(reference + ": opening " + path + ": " + e.getMessage(), e);
      }
    }
    if (Files.isRegularFile(path)) {
      return Tar.index(reference, path);
    }
    throw new ImageSourceException(reference + ": " + path + " does not exist (want a docker save tarball or directory)");
  }

  /** The file at archive path {@code name}, or null when there is none. */
  abstract Entry find(String name) throws IOException;

  /** The bytes of {@code entry}, unverified (callers add verification where a digest is known). */
  abstract InputStream open(Entry entry) throws IOException;

  /**
   * Checks and normalises an archive path: drops {@code ./} and empty components, refuses absolute
   * paths and {@code ..}.
   */
  String safeName(String name) throws ImageSourceException {
    if (name == null || name.isEmpty()) {
      throw new ImageSourceException(reference + ": empty path in manifest.json");
    }
    if (name.startsWith("/")) {
      throw new ImageSourceException(reference + ": path '" + name + "' in manifest.json is absolute; it must stay inside the archive");
    }
    List<String> parts = new ArrayList<>();
    for (String part : name.split("/")) {
      if (part.equals("..")) {
        throw new ImageSourceException(reference + ": path '" + name + "' in manifest.json uses '..'; it must stay inside the archive");
      }
      if (!part.isEmpty() && !part.equals(".")) {
        parts.add(part);
      }
    }
    if (parts.isEmpty()) {
      throw new ImageSourceException(reference + ": path '" + name + "' in manifest.json names no file");
    }
    return String.join("/", parts);
  }

  /**
   * Resolves a link target written in the archive, relative to the link's directory; {@code ..} is
   * allowed as long as it does not climb above the archive root.
   */
  String resolveLink(String linkName, String target) throws ImageSourceException {
    if (target.startsWith("/")) {
      throw new ImageSourceException(reference + ": link " + linkName + " -> " + target + " leaves the archive");
    }
    List<String> parts = new ArrayList<>(List.of(linkName.split("/")));
    parts.remove(parts.size() - 1);
    for (String part : target.split("/")) {
      if (part.equals("..")) {
        if (parts.isEmpty()) {
          throw new ImageSourceException(reference + ": link " + linkName + " -> " + target + " leaves the archive");
        }
        parts.remove(parts.size() - 1);
      } else if (!part.isEmpty() && !part.equals(".")) {
        parts.add(part);
      }
    }
    return String.join("/", parts);
  }

  /** An extracted archive: plain files, links checked against the real path of the root. */
  static final class Dir extends ArchiveFiles {
    private final Path root;

    Dir(String reference, Path realRoot) {
      super(reference);
      this.root = realRoot;
    }

    @Override
    Entry find(String name) throws IOException {
      Path path = root.resolve(name);
      if (!Files.exists(path)) {
        return null;
      }
      Path real = path.toRealPath();
      if (!real.startsWith(root)) {
        throw new ImageSourceException(reference + ": " + name + " is a link to " + real + ", outside the archive " + root);
      }
      if (!Files.isRegularFile(real)) {
        throw new ImageSourceException(reference + ": " + name + " is not a regular file");
      }
      return new Entry(root.relativize(real).toString(), Files.size(real));
    }

    @Override
    InputStream open(Entry entry) throws IOException {
      return Files.newInputStream(root.resolve(entry.name()));
    }
  }

  /**
   * A tar archive, indexed once with commons-compress {@link TarFile}. Reads do not go through
   * {@link TarFile#getInputStream}: its entry streams share one channel (seek, then read) and would
   * interleave when layers are read concurrently; each open here gets its own channel instead.
   */
  static final class Tar extends ArchiveFiles {
    private record Region(long offset, long size) {}

    private final Path path;
    private final Map<String, Region> files = new HashMap<>();
    private final Map<String, String> symlinks = new HashMap<>();
    private final Map<String, String> hardlinks = new HashMap<>();

    private Tar(String reference, Path path) {
      super(reference);
      this.path = path;
    }

    static Tar index(String reference, Path path) throws ImageSourceException {
      Tar tar = new Tar(reference, path);
      try (TarFile tarFile = new TarFile(path)) {
        long archiveSize = Files.size(path);
        for (TarArchiveEntry e : tarFile.getEntries()) {
          String name = normalizeEntryName(e.getName());
          if (name.isEmpty() || e.isDirectory()) {
            continue;
          }
          if (e.isSymbolicLink()) {
            tar.symlinks.put(name, e.getLinkName());
          } else if (e.isLink()) {
            tar.hardlinks.put(name, normalizeEntryName(e.getLinkName()));
          } else if (e.isFile() && !e.isSparse()) {
            if (e.getDataOffset() + e.getSize() > archiveSize) {
              throw new ImageSourceException(reference + ": " + path + " is truncated inside " + name);
            }
            tar.files.put(name, new Region(e.getDataOffset(), e.getSize()));
          }
          // Sparse files, devices and FIFOs have no place in a docker save archive: left out, so a
          // reference to one reads as missing.
        }
      } catch (ImageSourceException e) {
        throw e;
      } catch (IOException e) {
        throw new ImageSourceException(reference + ": " + path + " is not a readable tar archive: " + e.getMessage(), e);
      }
      return tar;
    }

    private static String normalizeEntryName(String name) {
      String n = name;
      while (n.startsWith("./")) {
        n = n.substring(2);
      }
      while (n.endsWith("/")) {
        n = n.substring(0, n.length() - 1);
      }
      return n;
    }

    @Override
    Entry find(String name) throws IOException {
      String current = name;
      for (int hop = 0; hop <= MAX_LINK_HOPS; hop++) {
        Region region = files.get(current);
        if (region != null) {
          return new Entry(current, region.size());
        }
        String hard = hardlinks.get(current);
        String soft = symlinks.get(current);
        if (hard != null) {
          current = safeLinkTarget(current, hard);
        } else if (soft != null) {
          current = resolveLink(current, soft);
        } else {
          return null;
        }
      }
      throw new ImageSourceException(reference + ": too many links from " + name + " in " + path);
    }

    private String safeLinkTarget(String linkName, String target) throws ImageSourceException {
      // Hard link targets are archive paths already; they get the same checks as manifest paths.
      for (String part : target.split("/")) {
        if (part.equals("..")) {
          throw new ImageSourceException(reference + ": link " + linkName + " -> " + target + " leaves the archive");
        }
      }
      return target;
    }

    @Override
    InputStream open(Entry entry) throws IOException {
      Region region = files.get(entry.name());
      SeekableByteChannel channel = Files.newByteChannel(path);
      return new FilterInputStream(new BoundedSeekableByteChannelInputStream(region.offset(), region.size(), channel)) {
        @Override
        public void close() throws IOException {
          try {
            super.close();
          } finally {
            channel.close();
          }
        }
      };
    }
  }
}
