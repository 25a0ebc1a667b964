package dev.ocirender.store;

import dev.ocirender.io.TempNames;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.WritableByteChannel;
import java.util.List;
import java.util.Optional;
import org.apache.beam.sdk.io.FileSystems;
import org.apache.beam.sdk.io.fs.EmptyMatchTreatment;
import org.apache.beam.sdk.io.fs.MatchResult;
import org.apache.beam.sdk.io.fs.MoveOptions;
import org.apache.beam.sdk.io.fs.ResourceId;

/**
 * Outputs on any filesystem Beam knows ({@code s3://}, {@code hdfs://}, {@code gs://} through
 * Beam's own GCS filesystem, ...): written under a temporary name beside the target, then renamed,
 * with the metadata in a sidecar {@code NAME.ocirender.json} written afterwards.
 *
 * <p>What "rename" costs and guarantees is the filesystem's: on object stores it is a copy and a
 * delete, so it is atomic for readers of the final name (the object appears whole) but not against
 * a concurrent writer; the "only if absent" precondition is checked just before the rename. Use
 * {@link GcsOutputStore} for GCS, which has real preconditions. The filesystem must be registered
 * (Beam does so from the pipeline options on every worker).
 */
public final class FileSystemsOutputStore implements OutputStore {


  @Override
  public boolean isLocal(String uri) {
    return false;
  }

  @Override
  public Optional<StoredOutput> stat(String uri) throws IOException {
    MatchResult.Metadata meta = find(uri);
    if (meta == null) {
      return Optional.empty();
    }
    MatchResult.Metadata side = find(Sidecar.nameFor(uri));
    OutputMetadata metadata = null;
    if (side != null) {
      try (InputStream in = Channels.newInputStream(FileSystems.open(side.resourceId()))) {
        metadata = Sidecar.decode(in.readAllBytes(), meta.sizeBytes());
      }
    }
    return Optional.of(new StoredOutput(uri, meta.sizeBytes(), version(meta), metadata));
  }

  @Override
  public Upload create(String uri, OutputMetadata metadata, String replaceVersion) throws IOException {
    ResourceId target = FileSystems.matchNewResource(uri, false);
    ResourceId temp = FileSystems.matchNewResource(uri + TempNames.TMP + TempNames.randomSuffix(), false);
    WritableByteChannel channel = FileSystems.create(temp, "application/octet-stream");
    OutputStream raw = Channels.newOutputStream(channel);
    return new Upload(uri, metadata, raw) {
      @Override
      protected StoredOutput publish(long size, OutputMetadata complete) throws IOException {
        try {
          channel.close();
          MatchResult.Metadata now = find(uri);
          if (replaceVersion == null && now != null) {
            throw new OutputExistsException(uri + " already exists; not overwriting it", null);
          }
          if (replaceVersion != null && now != null && !version(now).equals(replaceVersion)) {
            throw new OutputExistsException(uri + " changed while it was rendered; not overwriting it", null);
          }
          FileSystems.rename(List.of(temp), List.of(target), MoveOptions.StandardMoveOptions.IGNORE_MISSING_FILES);
        } catch (OutputExistsException lost) {
          deleteQuietly(temp);
          return adoptEarlierPublish(uri, complete, lost); // a retry of our own publish, or a refusal
        } catch (IOException | RuntimeException e) {
          deleteQuietly(temp);
          throw e;
        }
        writeSmall(Sidecar.nameFor(uri), Sidecar.encode(complete, size));
        MatchResult.Metadata published = find(uri);
        return new StoredOutput(uri, size, published == null ? "" : version(published), complete);
      }

      @Override
      protected void abort() throws IOException {
        try {
          channel.close();
        } finally {
          deleteQuietly(temp);
        }
      }
    };
  }

  @Override
  public void close() {}

  private static void writeSmall(String uri, byte[] content) throws IOException {
    ResourceId temp = FileSystems.matchNewResource(uri + TempNames.TMP + TempNames.randomSuffix(), false);
    try (WritableByteChannel ch = FileSystems.create(temp, "application/json")) {
      Channels.newOutputStream(ch).write(content);
    }
    FileSystems.rename(List.of(temp), List.of(FileSystems.matchNewResource(uri, false)));
  }

  private static MatchResult.Metadata find(String uri) throws IOException {
    MatchResult result = FileSystems.match(uri, EmptyMatchTreatment.ALLOW);
    if (result.status() != MatchResult.Status.OK) {
      return null;
    }
    for (MatchResult.Metadata m : result.metadata()) {
      if (m.resourceId().toString().equals(uri)) {
        return m;
      }
    }
    return result.metadata().size() == 1 ? result.metadata().get(0) : null;
  }

  private static void deleteQuietly(ResourceId id) {
    try {
      FileSystems.delete(List.of(id), MoveOptions.StandardMoveOptions.IGNORE_MISSING_FILES);
    } catch (IOException e) {
      // the temporary name is never read; leaving it is untidy, not wrong
    }
  }

  private static String version(MatchResult.Metadata m) {
    return m.sizeBytes() + "@" + m.lastModifiedMillis();
  }
}
