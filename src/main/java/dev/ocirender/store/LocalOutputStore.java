package dev.ocirender.store;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Optional;

/**
 * Outputs as local files (a plain path or a {@code file:} URI), published with
 * {@link AtomicFileOutput}: temporary file beside the target, fsync, rename. The metadata goes into
 * a sidecar {@code NAME.ocirender.json}, written after the output. Missing parent directories are
 * created.
 *
 * <p>The "publish only if absent" precondition is checked just before the rename, not atomically
 * with it: two processes racing for the same local file can both publish (the last rename wins, and
 * each published file is complete). The pipeline renders each output once, so this only matters
 * for hand-made catalogs that send two images to one file. Object stores give the real guarantee.
 */
public final class LocalOutputStore implements OutputStore {

  /** The local path of {@code uri}: a {@code file:} URI or a plain path. */
  public static Path pathOf(String uri) {
    return uri.startsWith("file:") ? Path.of(URI.create(uri)) : Path.of(uri);
  }

  @Override
  public boolean isLocal(String uri) {
    return true;
  }

  @Override
  public Optional<StoredOutput> stat(String uri) throws IOException {
    Path path = pathOf(uri);
    BasicFileAttributes attrs;
    try {
      attrs = Files.readAttributes(path, BasicFileAttributes.class);
    } catch (NoSuchFileException e) {
      return Optional.empty();
    }
    OutputMetadata metadata = null;
    try {
      metadata = Sidecar.decode(Files.readAllBytes(sidecar(path)), attrs.size());
    } catch (NoSuchFileException e) {
      // an output without a record: present, but not known to be ours
    }
    return Optional.of(new StoredOutput(uri, attrs.size(), version(attrs), metadata));
  }

  @Override
  public Upload create(String uri, OutputMetadata metadata, String replaceVersion) throws IOException {
    return upload(uri, metadata, replaceVersion, false);
  }

  /** The temporary file beside the output, written in place: squashfs is written once, not spooled and copied. */
  @Override
  public Upload createFile(String uri, OutputMetadata metadata, String replaceVersion) throws IOException {
    return upload(uri, metadata, replaceVersion, true);
  }

  private Upload upload(String uri, OutputMetadata metadata, String replaceVersion, boolean inPlace) throws IOException {
    Path path = pathOf(uri).toAbsolutePath();
    Files.createDirectories(path.getParent());
    AtomicFileOutput file = AtomicFileOutput.create(path);
    if (inPlace) {
      return new LocalUpload(uri, metadata, replaceVersion, path, file, file.channel());
    }
    return new LocalUpload(uri, metadata, replaceVersion, path, file, file.stream());
  }

  /** An upload into an {@link AtomicFileOutput}: published by its rename, the sidecar written after. */
  private final class LocalUpload extends Upload {
    private final String replaceVersion;
    private final Path path;
    private final AtomicFileOutput file;

    LocalUpload(String uri, OutputMetadata metadata, String replaceVersion, Path path, AtomicFileOutput file,
        java.io.OutputStream stream) {
      super(uri, metadata, stream);
      this.replaceVersion = replaceVersion;
      this.path = path;
      this.file = file;
    }

    LocalUpload(String uri, OutputMetadata metadata, String replaceVersion, Path path, AtomicFileOutput file,
        java.nio.channels.FileChannel channel) {
      super(uri, metadata, channel);
      this.replaceVersion = replaceVersion;
      this.path = path;
      this.file = file;
    }

    @Override
    protected StoredOutput publish(long size, OutputMetadata complete) throws IOException {
      try {
        checkPrecondition(path, uri(), replaceVersion);
        file.publish();
      } catch (OutputExistsException lost) {
        file.close();
        return adoptEarlierPublish(uri(), complete, lost); // a retry of our own publish, or a refusal
      } finally {
        file.close();
      }
      try (AtomicFileOutput side = AtomicFileOutput.create(sidecar(path))) {
        side.stream().write(Sidecar.encode(complete, size));
        side.publish();
      }
      return new StoredOutput(uri(), size, version(Files.readAttributes(path, BasicFileAttributes.class)), complete);
    }

    @Override
    protected void abort() throws IOException {
      file.close();
    }
  }

  @Override
  public void close() {}

  private static void checkPrecondition(Path path, String uri, String replaceVersion) throws IOException {
    Optional<String> now;
    try {
      now = Optional.of(version(Files.readAttributes(path, BasicFileAttributes.class)));
    } catch (NoSuchFileException e) {
      now = Optional.empty();
    }
    if (replaceVersion == null && now.isPresent()) {
      throw new OutputExistsException(uri + " already exists; not overwriting it", null);
    }
    if (replaceVersion != null && now.isPresent() && !now.get().equals(replaceVersion)) {
      throw new OutputExistsException(uri + " changed while it was rendered; not overwriting it", null);
    }
  }

  private static Path sidecar(Path output) {
    return output.resolveSibling(Sidecar.nameFor(output.getFileName().toString()));
  }

  private static String version(BasicFileAttributes attrs) {
    return attrs.size() + "@" + attrs.lastModifiedTime().toMillis();
  }
}
