package dev.ocirender.store;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.awscore.exception.AwsServiceException;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.AbortMultipartUploadRequest;
import software.amazon.awssdk.services.s3.model.CompleteMultipartUploadResponse;
import software.amazon.awssdk.services.s3.model.CompletedPart;
import software.amazon.awssdk.services.s3.model.CopyObjectRequest;
import software.amazon.awssdk.services.s3.model.HeadObjectResponse;
import software.amazon.awssdk.services.s3.model.MetadataDirective;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;
import software.amazon.awssdk.services.s3.model.S3Exception;

/**
 * Outputs as objects in S3-compatible storage (AWS S3, MinIO, Ceph RGW), written with the AWS SDK v2
 * that Beam's own S3 filesystem uses.
 *
 * <p>Atomic publish: an output smaller than one part is sent with one PutObject at commit; a larger one
 * goes up as a multipart upload whose parts are sent while the render streams, and which is completed
 * only at commit (an abandoned one is aborted). Neither makes anything visible under the name before
 * the render succeeded. The {@code ocirender-*} metadata is the same as on GCS ({@link OutputMetadata});
 * S3 metadata cannot be patched, so for a multipart output the sha256 is added by a server-side
 * self-copy with the full metadata, guarded by the completed object's ETag: one CopyObject up to S3's
 * 5 GiB copy limit, above it a multipart copy (UploadPartCopy of ranges of at most 5 GiB, completed
 * with {@code If-Match} on that ETag, aborted on failure). An object without {@code ocirender-sha256}
 * is an interrupted publish and is rendered again by the next run (as on GCS).
 *
 * <p>No clobbering: the final request carries {@code If-None-Match: *} (new output) or
 * {@code If-Match: ETAG} (replacing exactly that version), which AWS S3 and MinIO enforce; a failed
 * condition (412, or 409 ConditionalRequestConflict for a concurrent writer, or 404 for a replaced
 * version that is gone) is an {@link OutputExistsException}. Servers that ignore conditional writes
 * (s3rver) are still checked by a HEAD just before, which narrows but does not close the race. The
 * version token is the ETag. A publish whose condition failed answers the output there if it is a
 * complete render of the same image ({@link #adoptEarlierPublish}: a runner's retry of a publish that
 * had succeeded), and refuses otherwise. Not here: server-side encryption options, storage classes.
 */
public final class S3OutputStore implements OutputStore {

  /** S3's smallest part (except the last) is 5 MiB. */
  static final int MIN_PART_SIZE = 5 << 20;
  /** S3's largest CopyObject source, and largest UploadPartCopy range. */
  static final long MAX_COPY_SIZE = 5L << 30;
  private static final Logger LOG = LoggerFactory.getLogger(S3OutputStore.class);

  private final S3Client s3;
  private final int partSize;
  private final long copyLimit;

  public S3OutputStore(S3Client s3, int partSize) {
    this(s3, partSize, MAX_COPY_SIZE);
  }

  /** With a lower copy limit than S3's, so that a test reaches the multipart self-copy with a small object. */
  S3OutputStore(S3Client s3, int partSize, long copyLimit) {
    if (partSize < MIN_PART_SIZE) {
      throw new IllegalArgumentException("S3 part size " + partSize + " is below S3's minimum of 5 MiB");
    }
    if (copyLimit < MIN_PART_SIZE || copyLimit > MAX_COPY_SIZE) {
      throw new IllegalArgumentException("S3 copy limit " + copyLimit + " is outside S3's part sizes (5 MiB to 5 GiB)");
    }
    this.s3 = s3;
    this.partSize = partSize;
    this.copyLimit = copyLimit;
  }

  public S3OutputStore(S3Client s3) {
    this(s3, 16 << 20);
  }

  @Override
  public boolean isLocal(String uri) {
    return false;
  }

  @Override
  public Optional<StoredOutput> stat(String uri) throws IOException {
    Key key = Key.of(uri);
    try {
      HeadObjectResponse head = s3.headObject(b -> b.bucket(key.bucket).key(key.name));
      return Optional.of(new StoredOutput(uri, head.contentLength(), head.eTag(), OutputMetadata.fromMap(head.metadata())));
    } catch (NoSuchKeyException e) {
      return Optional.empty();
    } catch (S3Exception e) {
      if (e.statusCode() == 404) {
        return Optional.empty();
      }
      throw new IOException("reading metadata of " + uri + ": " + e.getMessage(), e);
    } catch (SdkException e) {
      throw new IOException("reading metadata of " + uri + ": " + e.getMessage(), e);
    }
  }

  @Override
  public Upload create(String uri, OutputMetadata metadata, String replaceVersion) throws IOException {
    Key key = Key.of(uri);
    Parts parts = new Parts(key, uri, metadata);
    return new Upload(uri, metadata, parts) {
      @Override
      protected StoredOutput publish(long size, OutputMetadata complete) throws IOException {
        try {
          checkPrecondition(uri, replaceVersion);
          try {
            boolean multipart = parts.uploadId != null;
            String etag = multipart ? parts.complete(replaceVersion) : parts.putWhole(complete, replaceVersion);
            if (multipart) {
              etag = recordSha256(key, uri, size, etag, complete);
            }
            return new StoredOutput(uri, size, etag, complete);
          } catch (AwsServiceException e) {
            throw translate(uri, e);
          } catch (SdkException e) {
            throw new IOException("uploading " + uri + ": " + e.getMessage(), e);
          }
        } catch (OutputExistsException lost) {
          parts.abort(); // answered or refused, this upload publishes nothing: drop its parts now
          return adoptEarlierPublish(uri, complete, lost); // a retry of our own publish, or a refusal
        }
      }

      @Override
      protected void abort() {
        parts.abort();
      }
    };
  }

  @Override
  public void close() {
    s3.close();
  }

  /** Best effort for servers without conditional writes; the conditional request itself is the real guard. */
  private void checkPrecondition(String uri, String replaceVersion) throws IOException {
    Optional<StoredOutput> now = stat(uri);
    if (replaceVersion == null ? now.isPresent() : now.isEmpty() || !now.get().version().equals(replaceVersion)) {
      throw new OutputExistsException(uri + " already exists or changed; not overwriting it", null);
    }
  }

  /** Adds the sha256 to a completed multipart object's metadata by copying it onto itself. */
  private String recordSha256(Key key, String uri, long size, String etag, OutputMetadata complete) {
    if (size > copyLimit) {
      return multipartSelfCopy(key, uri, size, etag, complete);
    }
    return s3.copyObject(CopyObjectRequest.builder()
            .sourceBucket(key.bucket).sourceKey(key.name).destinationBucket(key.bucket).destinationKey(key.name)
            .copySourceIfMatch(etag).metadataDirective(MetadataDirective.REPLACE).metadata(complete.toMap())
            .contentType("application/octet-stream").build())
        .copyObjectResult().eTag();
  }

  /**
   * The self-copy of an object above the CopyObject limit: a multipart upload with the full metadata
   * whose parts are server-side copies of ranges of the object (version {@code etag}), completed only
   * if the object is still that version. Nothing changes under the name unless it completes.
   */
  private String multipartSelfCopy(Key key, String uri, long size, String etag, OutputMetadata complete) {
    String uploadId = s3.createMultipartUpload(r -> r.bucket(key.bucket).key(key.name)
        .metadata(complete.toMap()).contentType("application/octet-stream")).uploadId();
    try {
      List<CompletedPart> parts = new ArrayList<>();
      for (long start = 0; start < size; start += copyLimit) {
        int number = parts.size() + 1;
        String range = "bytes=" + start + "-" + (Math.min(size, start + copyLimit) - 1);
        String partEtag = s3.uploadPartCopy(r -> r.sourceBucket(key.bucket).sourceKey(key.name)
                .destinationBucket(key.bucket).destinationKey(key.name).uploadId(uploadId).partNumber(number)
                .copySourceRange(range).copySourceIfMatch(etag))
            .copyPartResult().eTag();
        parts.add(CompletedPart.builder().partNumber(number).eTag(partEtag).build());
      }
      return s3.completeMultipartUpload(b -> b.bucket(key.bucket).key(key.name).uploadId(uploadId)
              .multipartUpload(m -> m.parts(parts)).overrideConfiguration(o -> condition(o, etag)))
          .eTag();
    } catch (RuntimeException e) {
      abort(key, uri, uploadId);
      throw e;
    }
  }

  private static IOException translate(String uri, AwsServiceException e) {
    String code = e.awsErrorDetails() == null ? null : e.awsErrorDetails().errorCode();
    // 409 ConditionalRequestConflict: a concurrent conditional write won; NoSuchKey on If-Match: the version to replace is gone.
    if (e.statusCode() == 412 || "ConditionalRequestConflict".equals(code) || "NoSuchKey".equals(code)) {
      return new OutputExistsException(uri + " already exists or changed (S3 " + (code == null ? e.statusCode() : code)
          + "); not overwriting it", e);
    }
    return new IOException("uploading " + uri + ": " + e.getMessage(), e);
  }

  /** Best-effort abort of a multipart upload (see {@link Parts#abort}). */
  private void abort(Key key, String uri, String uploadId) {
    try {
      s3.abortMultipartUpload(AbortMultipartUploadRequest.builder().bucket(key.bucket).key(key.name).uploadId(uploadId).build());
    } catch (SdkException e) {
      // Nothing is visible under the name either way; what stays is invisible parts, which a bucket's
      // AbortIncompleteMultipartUpload lifecycle rule removes. Not worth failing the caller's clean-up.
      LOG.warn("aborting the multipart upload of {} failed; its parts stay until the bucket's "
          + "AbortIncompleteMultipartUpload lifecycle rule removes them: {}", uri, e.getMessage());
    }
  }

  /** The bytes of one upload: buffered up to a part, then sent as parts of a multipart upload. */
  private final class Parts extends OutputStream {
    private final Key key;
    private final String uri;
    private final OutputMetadata metadata;
    private final ByteArrayOutputStream buffer = new ByteArrayOutputStream();
    private final List<CompletedPart> done = new ArrayList<>();
    String uploadId;

    Parts(Key key, String uri, OutputMetadata metadata) {
      this.key = key;
      this.uri = uri;
      this.metadata = metadata;
    }

    @Override
    public void write(int b) throws IOException {
      write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      while (len > 0) {
        int n = Math.min(len, partSize - buffer.size());
        buffer.write(b, off, n);
        off += n;
        len -= n;
        if (buffer.size() == partSize) {
          sendPart();
        }
      }
    }

    private void sendPart() throws IOException {
      try {
        if (uploadId == null) {
          uploadId = s3.createMultipartUpload(r -> r.bucket(key.bucket).key(key.name)
              .metadata(metadata.toMap()).contentType("application/octet-stream")).uploadId();
        }
        int number = done.size() + 1;
        String etag = s3.uploadPart(r -> r.bucket(key.bucket).key(key.name).uploadId(uploadId).partNumber(number),
            RequestBody.fromBytes(buffer.toByteArray())).eTag();
        done.add(CompletedPart.builder().partNumber(number).eTag(etag).build());
        buffer.reset();
      } catch (SdkException e) {
        throw new IOException("uploading part " + (done.size() + 1) + " of " + uri + ": " + e.getMessage(), e);
      }
    }

    /** The whole output in one conditional PutObject, metadata and sha256 included. */
    String putWhole(OutputMetadata complete, String replaceVersion) {
      return s3.putObject(r -> r.bucket(key.bucket).key(key.name).metadata(complete.toMap())
              .contentType("application/octet-stream")
              .overrideConfiguration(o -> condition(o, replaceVersion)),
          RequestBody.fromBytes(buffer.toByteArray())).eTag();
    }

    String complete(String replaceVersion) throws IOException {
      if (buffer.size() > 0) {
        sendPart();
      }
      CompleteMultipartUploadResponse r = s3.completeMultipartUpload(b -> b.bucket(key.bucket).key(key.name)
          .uploadId(uploadId).multipartUpload(m -> m.parts(done))
          .overrideConfiguration(o -> condition(o, replaceVersion)));
      uploadId = null; // completed: nothing left to abort if the self-copy fails
      return r.eTag();
    }

    void abort() {
      if (uploadId != null) {
        S3OutputStore.this.abort(key, uri, uploadId);
      }
    }
  }

  private static void condition(software.amazon.awssdk.awscore.AwsRequestOverrideConfiguration.Builder o, String replaceVersion) {
    if (replaceVersion == null) {
      o.putHeader("If-None-Match", "*");
    } else {
      o.putHeader("If-Match", replaceVersion);
    }
  }

  /** {@code s3://bucket/key}. */
  private record Key(String bucket, String name) {
    static Key of(String uri) throws IOException {
      if (!uri.startsWith("s3://")) {
        throw new IOException(uri + ": not an s3:// URI");
      }
      String rest = uri.substring("s3://".length());
      int slash = rest.indexOf('/');
      if (slash <= 0 || slash == rest.length() - 1) {
        throw new IOException(uri + ": want s3://BUCKET/KEY");
      }
      return new Key(rest.substring(0, slash), rest.substring(slash + 1));
    }
  }
}
