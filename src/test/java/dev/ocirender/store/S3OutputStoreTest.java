package dev.ocirender.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ocirender.testing.S3rverServer;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Random;
import org.apache.beam.sdk.options.PipelineOptionsFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.core.ResponseBytes;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.GetObjectResponse;
import software.amazon.awssdk.services.s3.model.HeadObjectResponse;

/**
 * {@link S3OutputStore} with the AWS SDK client that the pipeline makes ({@link S3Settings} from
 * pipeline options), against a real S3 implementation, s3rver, on 127.0.0.1: single-request and
 * multipart outputs with the same metadata as on GCS, abandoned uploads, no clobbering, replacement.
 * s3rver ignores conditional writes, so the no-clobber case here exercises the HEAD check; the
 * {@code If-None-Match}/{@code If-Match} headers, and the multipart self-copy of outputs above the
 * CopyObject limit (s3rver has no UploadPartCopy), are tested in {@link S3ConditionalWritesTest}.
 */
class S3OutputStoreTest {

  private static final OutputMetadata META = OutputMetadata.of("oci:/img:v1", "sha256:" + "ab".repeat(32), "linux/amd64", "tar");
  private static final OutputMetadata OTHER_IMAGE = OutputMetadata.of("oci:/other:v1", "sha256:" + "cd".repeat(32), "linux/amd64", "tar");

  @TempDir Path tmp;
  private S3rverServer server;
  private S3Client client;
  private S3OutputStore store;

  @BeforeEach
  void start() throws Exception {
    server = S3rverServer.start(tmp.resolve("s3"), "bucket");
    PipelineOptionsFactory.register(S3StoreOptions.class);
    S3Settings settings = S3Settings.from(PipelineOptionsFactory.fromArgs(server.pipelineOptions().toArray(String[]::new)).create());
    client = settings.newClient();
    store = new S3OutputStore(settings.newClient(), S3OutputStore.MIN_PART_SIZE);
  }

  @AfterEach
  void stop() throws Exception {
    store.close();
    client.close();
    server.close();
  }

  @Test
  void smallOutput_commit_publishesContentWithTheSameMetadataAsGcs() throws Exception {
    byte[] content = bytes(10_000, 1);
    StoredOutput out = write("s3://bucket/out/a.tar", content, null);
    assertThat(get("out/a.tar")).isEqualTo(content);
    HeadObjectResponse head = client.headObject(b -> b.bucket("bucket").key("out/a.tar"));
    assertThat(head.metadata()).isEqualTo(META.withSha256(sha256(content)).toMap());
    assertThat(store.stat("s3://bucket/out/a.tar")).contains(out);
    assertThat(out.metadata().isCompleteRenderOf(META.manifestDigest(), "linux/amd64", "tar")).isTrue();
  }

  @Test
  void multipartOutput_commit_publishesAllPartsWithSha256Metadata() throws Exception {
    byte[] content = bytes(3 * S3OutputStore.MIN_PART_SIZE + 12_345, 2);
    StoredOutput out = write("s3://bucket/big.sqfs", content, null);
    assertThat(get("big.sqfs")).isEqualTo(content);
    assertThat(out.size()).isEqualTo(content.length);
    assertThat(store.stat("s3://bucket/big.sqfs").orElseThrow().metadata()).isEqualTo(META.withSha256(sha256(content)));
  }

  @Test
  void multipartOutput_closedWithoutCommit_leavesNoObject() throws Exception {
    try (Upload upload = store.create("s3://bucket/abandoned.tar", META, null)) {
      upload.stream().write(bytes(2 * S3OutputStore.MIN_PART_SIZE + 1, 3)); // two parts already sent
    }
    assertThat(store.stat("s3://bucket/abandoned.tar")).isEmpty();
  }

  @Test
  void existingOutput_newUploadOfAnotherImage_isRefusedAndLeavesTheOldOne() throws Exception {
    byte[] first = bytes(1000, 4);
    write("s3://bucket/x.tar", first, null);
    assertThatThrownBy(() -> write("s3://bucket/x.tar", OTHER_IMAGE, bytes(1000, 5), null)).isInstanceOf(OutputExistsException.class)
        .hasMessageContaining("owned by another writer");
    assertThat(get("x.tar")).isEqualTo(first);
  }

  @Test
  void existingOutput_newUploadOfTheSameImage_answersTheExistingOutput() throws Exception {
    // A runner's retry of a publish that had succeeded: the earlier output is the result.
    StoredOutput first = write("s3://bucket/r.tar", bytes(1000, 4), null);
    assertThat(write("s3://bucket/r.tar", bytes(1000, 4), null)).isEqualTo(first);
    assertThat(get("r.tar")).isEqualTo(bytes(1000, 4));
  }

  @Test
  void existingOutput_replacedByItsVersion_isOverwritten() throws Exception {
    StoredOutput old = write("s3://bucket/y.tar", bytes(1000, 6), null);
    byte[] second = bytes(2000, 7);
    write("s3://bucket/y.tar", second, old.version());
    assertThat(get("y.tar")).isEqualTo(second);
    assertThatThrownBy(() -> write("s3://bucket/y.tar", OTHER_IMAGE, bytes(10, 8), old.version())).isInstanceOf(OutputExistsException.class);
    assertThat(get("y.tar")).isEqualTo(second);
  }

  private StoredOutput write(String uri, byte[] content, String replaceVersion) throws Exception {
    return write(uri, META, content, replaceVersion);
  }

  private StoredOutput write(String uri, OutputMetadata metadata, byte[] content, String replaceVersion) throws Exception {
    try (Upload upload = store.create(uri, metadata, replaceVersion)) {
      upload.stream().write(content);
      return upload.commit();
    }
  }

  private byte[] get(String key) {
    ResponseBytes<GetObjectResponse> r = client.getObjectAsBytes(b -> b.bucket("bucket").key(key));
    return r.asByteArray();
  }

  private static byte[] bytes(int n, long seed) {
    byte[] b = new byte[n];
    new Random(seed).nextBytes(b);
    return b;
  }

  private static String sha256(byte[] b) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
  }
}
