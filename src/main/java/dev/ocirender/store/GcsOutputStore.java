package dev.ocirender.store;

import com.google.cloud.WriteChannel;
import com.google.cloud.storage.Blob;
import com.google.cloud.storage.BlobId;
import com.google.cloud.storage.BlobInfo;
import com.google.cloud.storage.Storage;
import com.google.cloud.storage.StorageException;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.zip.CRC32C;

/**
 * Outputs as GCS objects, written with the google-cloud-storage client: one resumable upload per
 * output (the client retries failed chunks), CRC32C computed while streaming and checked against
 * what GCS stored, and a generation precondition on the upload: {@code ifGenerationMatch=0} for a
 * new output, so two workers never clobber each other, or the replaced object's generation.
 *
 * <p>An upload that is abandoned is never finalised, so nothing appears under the name. The
 * object's metadata ({@code ocirender-source}, {@code -manifest-digest}, {@code -platform},
 * {@code -format}, {@code -version}) is set with the upload; the output's sha256 is known only at
 * the end, so it is added by a metadata patch guarded by the new generation and metageneration.
 * An object without {@code ocirender-sha256} is therefore an interrupted publish, and is rendered
 * again by the next run. Not here: composite/parallel uploads, customer-managed keys, retention.
 */
public final class GcsOutputStore implements OutputStore {

  /** Chunk size for resumable uploads: the client's minimum granularity is 256 KiB. */
  private final int chunkSize;
  private final Storage storage;

  public GcsOutputStore(Storage storage, int chunkSize) {
    this.storage = storage;
    this.chunkSize = chunkSize;
  }

  public GcsOutputStore(Storage storage) {
    this(storage, 8 << 20);
  }

  @Override
  public boolean isLocal(String uri) {
    return false;
  }

  @Override
  public Optional<StoredOutput> stat(String uri) throws IOException {
    BlobId id = blobId(uri);
    Blob blob;
    try {
      blob = storage.get(id);
    } catch (StorageException e) {
      throw new IOException("reading metadata of " + uri + ": " + e.getMessage(), e);
    }
    if (blob == null) {
      return Optional.empty();
    }
    return Optional.of(new StoredOutput(uri, blob.getSize(), Long.toString(blob.getGeneration()),
        OutputMetadata.fromMap(blob.getMetadata())));
  }

  @Override
  public Upload create(String uri, OutputMetadata metadata, String replaceVersion) throws IOException {
    BlobId id = blobId(uri);
    BlobInfo info = BlobInfo.newBuilder(id)
        .setContentType("application/octet-stream")
        .setMetadata(metadata.toMap())
        .build();
    Storage.BlobWriteOption precondition = replaceVersion == null
        ? Storage.BlobWriteOption.doesNotExist()
        : Storage.BlobWriteOption.generationMatch(Long.parseLong(replaceVersion));
    WriteChannel channel;
    try {
      channel = storage.writer(info, precondition, Storage.BlobWriteOption.disableGzipContent());
    } catch (StorageException e) {
      IOException t = translate(uri, e);
      if (t instanceof OutputExistsException lost) {
        // Checked when the session starts: a retry finds its own earlier output (rendered again
        // for nothing, but answered as that output), anything else fails before the render.
        return Upload.alreadyPublished(adoptEarlierPublish(uri, metadata, lost), metadata);
      }
      throw t;
    }
    channel.setChunkSize(chunkSize);
    CRC32C crc = new CRC32C();
    OutputStream raw = new OutputStream() {
      private final OutputStream out = Channels.newOutputStream(channel);

      @Override
      public void write(int b) throws IOException {
        write(new byte[] {(byte) b}, 0, 1);
      }

      @Override
      public void write(byte[] b, int off, int len) throws IOException {
        crc.update(b, off, len);
        try {
          out.write(b, off, len);
        } catch (StorageException e) {
          throw translate(uri, e);
        }
      }
    };
    return new Upload(uri, metadata, raw) {
      @Override
      protected StoredOutput publish(long size, OutputMetadata complete) throws IOException {
        Blob blob;
        try {
          try {
            channel.close(); // finalises the upload; the precondition is checked now at the latest
            blob = storage.get(id);
          } catch (StorageException e) {
            throw translate(uri, e);
          } catch (IOException e) {
            if (e.getCause() instanceof StorageException se) {
              throw translate(uri, se);
            }
            throw e;
          }
        } catch (OutputExistsException lost) {
          return adoptEarlierPublish(uri, complete, lost); // a retry of our own publish, or a refusal
        }
        if (blob == null) {
          throw new IOException("uploading " + uri + ": the finished upload is not there");
        }
        String expected = crc32cBase64(crc.getValue());
        if (!expected.equals(blob.getCrc32c()) || blob.getSize() != size) {
          storage.delete(id.getBucket(), id.getName(), Storage.BlobSourceOption.generationMatch(blob.getGeneration()));
          throw new IOException("uploading " + uri + ": GCS stored crc32c " + blob.getCrc32c() + " and " + blob.getSize()
              + " bytes, but " + expected + " and " + size + " bytes were sent; the object was deleted");
        }
        Map<String, String> full = new LinkedHashMap<>(complete.toMap());
        Blob patched;
        try {
          patched = storage.update(blob.toBuilder().setMetadata(full).build(),
              Storage.BlobTargetOption.generationMatch(), Storage.BlobTargetOption.metagenerationMatch());
        } catch (StorageException e) {
          throw new IOException("recording the sha256 of " + uri + ": " + e.getMessage(), e);
        }
        return new StoredOutput(uri, size, Long.toString(patched.getGeneration()), complete);
      }

      @Override
      protected void abort() {
        // Not closing the channel leaves the resumable session unfinalised: no object appears.
      }
    };
  }

  @Override
  public void close() throws IOException {
    try {
      storage.close();
    } catch (Exception e) {
      throw new IOException("closing the GCS client", e);
    }
  }

  /** {@code gs://bucket/name} as a blob id. */
  static BlobId blobId(String uri) throws IOException {
    if (!uri.startsWith("gs://")) {
      throw new IOException(uri + ": not a gs:// URI");
    }
    String rest = uri.substring("gs://".length());
    int slash = rest.indexOf('/');
    if (slash <= 0 || slash == rest.length() - 1) {
      throw new IOException(uri + ": want gs://BUCKET/OBJECT");
    }
    return BlobId.of(rest.substring(0, slash), rest.substring(slash + 1));
  }

  static String crc32cBase64(long value) {
    return Base64.getEncoder().encodeToString(ByteBuffer.allocate(4).putInt((int) value).array());
  }

  private static IOException translate(String uri, StorageException e) {
    if (e.getCode() == 412) {
      return new OutputExistsException(uri + " already exists or changed (GCS precondition failed); not overwriting it", e);
    }
    return new IOException("uploading " + uri + ": " + e.getMessage(), e);
  }
}
