package dev.ocirender.verify;

import dev.ocirender.image.Platform;
import dev.ocirender.io.NativePaths;
import dev.ocirender.layer.Compression;
import dev.ocirender.layer.EntryHeader;
import dev.ocirender.layer.EntryPath;
import dev.ocirender.layer.EntryType;
import dev.ocirender.layer.LayerLimits;
import dev.ocirender.layer.LayerTarReader;
import dev.ocirender.merge.MergeLimits;
import dev.ocirender.render.RenderListener;
import dev.ocirender.render.Renderer;
import dev.ocirender.source.ImageSource;
import dev.ocirender.squashfs.reader.SquashfsReader;
import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;

import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

/**
 * Reads any side of a verification into an {@link FsModel}: a directory, a tar file (plain, gzip,
 * zstd, bzip2 or xz, recognised by magic bytes), a squashfs image (magic {@code hsqs}), or an image
 * reference rendered on the fly through the overlay merge (nothing is written anywhere).
 */
public final class FsReaders {

  /** Opens an image reference; the CLI passes one that knows its registry flags. */
  public interface ImageOpener {
    ImageSource open(String spec) throws IOException;
  }

  private static final List<String> IMAGE_TRANSPORTS = List.of("oci:", "docker-archive:", "docker://");

  private FsReaders() {}

  public static boolean isImageReference(String spec) {
    return IMAGE_TRANSPORTS.stream().anyMatch(spec::startsWith);
  }

  /** Reads {@code spec}: an image reference (see {@link #isImageReference}) or a local path. */
  public static FsModel read(String spec, ImageOpener images, Platform platform) throws IOException {
    return read(spec, images, platform, MergeLimits.DEFAULT);
  }

  /**
   * As {@link #read(String, ImageOpener, Platform)}, with {@code limits} for an image rendered on
   * the fly and {@code limits.layer()} for a tar read back: a verification accepts what the render
   * it checks accepted.
   */
  public static FsModel read(String spec, ImageOpener images, Platform platform, MergeLimits limits) throws IOException {
    if (isImageReference(spec)) {
      try (ImageSource source = images.open(spec)) {
        return readImage(source, platform, limits);
      }
    }
    Path p = Path.of(spec);
    if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
      return readDirectory(p);
    }
    if (!Files.isRegularFile(p)) {
      throw new IOException(spec + ": no such file or directory (nor an image reference: " + String.join(", ", IMAGE_TRANSPORTS) + ")");
    }
    byte[] head = new byte[Compression.MAGIC_BYTES];
    int n;
    try (InputStream in = Files.newInputStream(p)) {
      n = in.readNBytes(head, 0, head.length);
    }
    return SquashfsReader.isSquashfs(head, n) ? readSquashfs(p) : readTar(p, limits.layer());
  }

  /** Renders the image through the merge into a model; content is hashed as it streams. */
  public static FsModel readImage(ImageSource source, Platform platform) throws IOException {
    return readImage(source, platform, MergeLimits.DEFAULT);
  }

  /** As {@link #readImage(ImageSource, Platform)}, failing the image when it exceeds {@code limits}. */
  public static FsModel readImage(ImageSource source, Platform platform, MergeLimits limits) throws IOException {
    ModelSink[] last = new ModelSink[1];
    new Renderer(RenderListener.NONE, limits).render(source, platform, () -> last[0] = new ModelSink(source.reference() + " (image, " + platform + ")"));
    return last[0].model();
  }

  public static FsModel readTar(Path tar) throws IOException {
    return readTar(tar, LayerLimits.DEFAULT);
  }

  public static FsModel readTar(Path tar, LayerLimits limits) throws IOException {
    try (InputStream in = Files.newInputStream(tar)) {
      return readTar(in, tar.toString(), limits);
    }
  }

  /** Reads a tar stream (plain or compressed, by magic bytes); {@code name} is for messages. */
  public static FsModel readTar(InputStream tar, String name) throws IOException {
    return readTar(tar, name, LayerLimits.DEFAULT);
  }

  /** As {@link #readTar(InputStream, String)}, refusing entries beyond {@code limits}. */
  public static FsModel readTar(InputStream tar, String name, LayerLimits limits) throws IOException {
    byte[] head = new byte[Compression.MAGIC_BYTES];
    InputStream raw = new BufferedInputStream(tar, 1 << 16);
    raw.mark(head.length);
    int n = raw.readNBytes(head, 0, head.length);
    raw.reset();
    Compression c = Compression.sniff(head, n);
    ModelSink sink = new ModelSink(name + " (" + (c == Compression.NONE ? "tar" : c.displayName() + " tar") + ")");
    try (LayerTarReader reader = new LayerTarReader(c.decoder(raw), limits)) {
      EntryHeader h;
      while ((h = reader.next()) != null) {
        sink.accept(h, h.type() == EntryType.FILE ? reader.content() : null);
      }
    } catch (IOException e) {
      throw new IOException(name + ": " + e.getMessage(), e);
    }
    sink.finish();
    return sink.model();
  }

  public static FsModel readSquashfs(Path image) throws IOException {
    try (SquashfsReader reader = SquashfsReader.open(image)) {
      ModelSink sink = new ModelSink(image + " (squashfs, " + reader.compressor() + ")");
      reader.walk(new SquashfsReader.Visitor() {
        @Override
        public void entry(EntryHeader header, InputStream content) throws IOException {
          sink.accept(header, content);
        }

        @Override
        public void socket(EntryPath path) {
          sink.socket();
        }
      });
      sink.finish();
      return sink.model();
    } catch (IOException e) {
      throw new IOException(image + ": " + e.getMessage(), e);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Directories

  /**
   * Walks a directory without following symlinks: lstat attributes (mode, owner, rdev, inode
   * numbers for hard-link groups, mtime), byte-exact names and symlink targets, content hashed while
   * read, and extended attributes from one {@code getfattr} run over the tree (without it,
   * xattrs are marked unknown and not compared).
   */
  public static FsModel readDirectory(Path dir) throws IOException {
    Path root = dir.toAbsolutePath().normalize();
    ModelSink sink = new ModelSink(dir + " (directory)");
    Map<EntryPath, Map<String, byte[]>> xattrs = getfattr(root);
    if (xattrs == null) {
      sink.xattrsUnknown();
      xattrs = Map.of();
    }
    Map<String, Long> inodeKeys = new HashMap<>();
    Map<EntryPath, Map<String, byte[]>> allXattrs = xattrs;
    Files.walkFileTree(root, new SimpleFileVisitor<>() {
      @Override
      public FileVisitResult preVisitDirectory(Path d, BasicFileAttributes attrs) throws IOException {
        add(d);
        return FileVisitResult.CONTINUE;
      }

      @Override
      public FileVisitResult visitFile(Path f, BasicFileAttributes attrs) throws IOException {
        add(f);
        return FileVisitResult.CONTINUE;
      }

      @Override
      public FileVisitResult visitFileFailed(Path f, IOException e) throws IOException {
        throw e;
      }

      private void add(Path p) throws IOException {
        EntryPath path = entryPath(root, p);
        Map<String, Object> a = Files.readAttributes(p, "unix:mode,uid,gid,rdev,ino,dev,nlink,lastModifiedTime", LinkOption.NOFOLLOW_LINKS);
        int mode = (Integer) a.get("mode");
        EntryType type = switch (mode & 0170000) {
          case 0040000 -> EntryType.DIRECTORY;
          case 0100000 -> EntryType.FILE;
          case 0120000 -> EntryType.SYMLINK;
          case 0020000 -> EntryType.CHAR_DEVICE;
          case 0060000 -> EntryType.BLOCK_DEVICE;
          case 0010000 -> EntryType.FIFO;
          default -> null;
        };
        if (type == null) {
          sink.socket();
          return;
        }
        Instant mtime = ((FileTime) a.get("lastModifiedTime")).toInstant();
        long rdev = (Long) a.get("rdev");
        EntryHeader.Builder b = EntryHeader.builder(type, path).mode(mode).uid((Integer) a.get("uid") & 0xffffffffL)
            .gid((Integer) a.get("gid") & 0xffffffffL).mtime(mtime.getEpochSecond(), mtime.getNano());
        if (type == EntryType.CHAR_DEVICE || type == EntryType.BLOCK_DEVICE) {
          // glibc's 64-bit dev_t encoding
          b.device((int) (((rdev >>> 8) & 0xfff) | ((rdev >>> 32) & ~0xfffL)), (int) ((rdev & 0xff) | ((rdev >>> 12) & ~0xffL)));
        } else if (type == EntryType.SYMLINK) {
          b.symlinkTarget(NativePaths.rawBytes(Files.readSymbolicLink(p)));
        } else if (type == EntryType.FILE) {
          b.size(Files.size(p));
        }
        allXattrs.getOrDefault(path, Map.of()).forEach(b::xattr);
        long key = 0;
        if (type != EntryType.DIRECTORY && (Integer) a.get("nlink") > 1) {
          key = inodeKeys.computeIfAbsent(a.get("dev") + ":" + a.get("ino"), k -> (long) inodeKeys.size() + 1);
        }
        EntryHeader h = b.build();
        if (type == EntryType.FILE) {
          try (InputStream in = Files.newInputStream(p, LinkOption.NOFOLLOW_LINKS)) {
            sink.accept(h, in, key);
          }
        } else {
          sink.accept(h, null, key);
        }
      }
    });
    sink.finish();
    return sink.model();
  }

  private static EntryPath entryPath(Path root, Path p) {
    if (p.equals(root)) {
      return EntryPath.ROOT;
    }
    EntryPath out = EntryPath.ROOT;
    for (Path name : root.relativize(p)) {
      out = out.child(NativePaths.rawBytes(name));
    }
    return out;
  }

  /**
   * Extended attributes of every path under {@code root} from {@code getfattr -h -R -d -m - -e hex},
   * or null when getfattr is not installed.
   */
  private static Map<EntryPath, Map<String, byte[]>> getfattr(Path root) throws IOException {
    Process p;
    try {
      p = new ProcessBuilder("getfattr", "-h", "-R", "-d", "-m", "-", "-e", "hex", ".")
          .directory(root.toFile()).redirectError(ProcessBuilder.Redirect.DISCARD).start();
    } catch (IOException e) {
      return null; // not installed
    }
    p.getOutputStream().close();
    Map<EntryPath, Map<String, byte[]>> result = new HashMap<>();
    try (InputStream in = new BufferedInputStream(p.getInputStream())) {
      Map<String, byte[]> current = null;
      ByteArrayOutputStream line = new ByteArrayOutputStream();
      int c;
      while (true) {
        c = in.read();
        if (c >= 0 && c != '\n') {
          line.write(c);
          continue;
        }
        byte[] l = line.toByteArray();
        line.reset();
        String text = new String(l, StandardCharsets.ISO_8859_1);
        if (text.startsWith("# file: ")) {
          current = new TreeMap<>();
          result.put(EntryPath.normalize(unescapeOctal(Arrays.copyOfRange(l, 8, l.length))), current);
        } else if (!text.isEmpty() && current != null && !text.startsWith("#")) {
          int eq = text.indexOf('=');
          String key = new String(unescapeOctal(eq < 0 ? l : Arrays.copyOf(l, eq)), StandardCharsets.UTF_8);
          String value = eq < 0 ? "" : text.substring(eq + 1);
          current.put(key, value.startsWith("0x") ? HexFormat.of().parseHex(value.substring(2))
              : value.getBytes(StandardCharsets.ISO_8859_1));
        }
        if (c < 0) {
          break;
        }
      }
    }
    try {
      if (!p.waitFor(10, TimeUnit.MINUTES)) {
        p.destroyForcibly();
        throw new IOException("getfattr on " + root + " timed out");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted reading xattrs of " + root, e);
    }
    // getfattr exits 1 when some file has none it may read; what it printed is still right.
    return result;
  }

  /** getfattr escapes awkward bytes of names as a backslash and three octal digits. */
  private static byte[] unescapeOctal(byte[] s) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(s.length);
    for (int i = 0; i < s.length; i++) {
      if (s[i] == '\\' && i + 3 < s.length && isOctal(s[i + 1]) && isOctal(s[i + 2]) && isOctal(s[i + 3])) {
        out.write(((s[i + 1] - '0') << 6) | ((s[i + 2] - '0') << 3) | (s[i + 3] - '0'));
        i += 3;
      } else {
        out.write(s[i]);
      }
    }
    return out.toByteArray();
  }

  private static boolean isOctal(byte b) {
    return b >= '0' && b <= '7';
  }
}
