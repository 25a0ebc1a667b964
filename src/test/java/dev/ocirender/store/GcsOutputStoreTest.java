package dev.ocirender.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.cloud.NoCredentials;
import com.google.cloud.storage.BlobId;
import com.google.cloud.storage.BlobInfo;
import com.google.cloud.storage.Storage;
import com.google.cloud.storage.StorageOptions;
import java.io.IOException;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@link GcsOutputStore} through the real google-cloud-storage client, against
 * {@link FakeGcsServer} on 127.0.0.1: resumable uploads with metadata, the no-clobber precondition,
 * replacement by generation, abandoned uploads, and a chunk retried after a 503. No real GCS
 * emulator can run here (no network beyond package registries, no containers), so the wire
 * protocol is the fake's reading of the JSON API; the client's own behaviour (retries, chunking,
 * preconditions as query parameters) is real.
 */
class GcsOutputStoreTest {

  private static final OutputMetadata META = OutputMetadata.of("oci:/img:v1", "sha256:" + "ab".repeat(32), "linux/amd64", "tar");

  private FakeGcsServer server;
  private Storage storage;
  private GcsOutputStore store;

  @BeforeEach
  void start() throws IOException {
    server = new FakeGcsServer();
    storage = StorageOptions.newBuilder().setHost(server.host()).setProjectId("test")
        .setCredentials(NoCredentials.getInstance())
        // Real retries, with short waits: a failed test should fail in seconds, not in 50.
        .setRetrySettings(StorageOptions.getDefaultRetrySettings().toBuilder()
            .setMaxAttempts(4).setInitialRetryDelayDuration(Duration.ofMillis(10)).setMaxRetryDelayDuration(Duration.ofMillis(100))
            .setTotalTimeoutDuration(Duration.ofSeconds(20)).build())
        .build().getService();
    store = new GcsOutputStore(storage, 256 * 1024);
  }

  @AfterEach
  void stop() throws IOException {
    store.close();
    server.close();
  }

  @Test
  void commit_publishesContentWithMetadataAndSha256() throws Exception {
    byte[] content = bytes(10_000);
    StoredOutput out;
    try (Upload upload = store.create("gs://bucket/out/a.tar", META, null)) {
      upload.stream().write(content);
      out = upload.commit();
    }
    FakeGcsServer.StoredObject o = server.get("bucket", "out/a.tar");
    assertThat(o.content()).isEqualTo(content);
    assertThat(o.metadata()).containsEntry("ocirender-source", "oci:/img:v1")
        .containsEntry("ocirender-manifest-digest", META.manifestDigest())
        .containsEntry("ocirender-format", "tar")
        .containsEntry("ocirender-sha256", sha256(content))
        .containsKey("ocirender-version");
    assertThat(out.size()).isEqualTo(content.length);
    assertThat(store.stat("gs://bucket/out/a.tar")).hasValueSatisfying(s -> {
      assertThat(s.metadata().isCompleteRenderOf(META.manifestDigest(), "linux/amd64", "tar")).isTrue();
      assertThat(s.version()).isEqualTo(Long.toString(o.generation()));
    });
    assertThat(server.requests).anyMatch(r -> r.startsWith("POST /upload/storage/v1/b/bucket/o") && r.contains("ifGenerationMatch"));
    // The client reads the object back through the same API.
    assertThat(storage.readAllBytes(BlobId.of("bucket", "out/a.tar"))).isEqualTo(content);
  }

  @Test
  void existingObject_preconditionFails_nothingOverwritten() throws Exception {
    server.put("bucket", "out/a.tar", "other writer".getBytes(), Map.of());
    assertThatThrownBy(() -> {
      try (Upload upload = store.create("gs://bucket/out/a.tar", META, null)) {
        upload.stream().write(bytes(1000));
        upload.commit();
      }
    }).isInstanceOf(OutputExistsException.class).hasMessageContaining("gs://bucket/out/a.tar");
    assertThat(server.get("bucket", "out/a.tar").content()).isEqualTo("other writer".getBytes());
  }

  @Test
  void replaceByGeneration_replacesOnlyThatVersion() throws Exception {
    server.put("bucket", "a.tar", "old".getBytes(), Map.of());
    String version = store.stat("gs://bucket/a.tar").orElseThrow().version();
    try (Upload upload = store.create("gs://bucket/a.tar", META, version)) {
      upload.stream().write("new".getBytes());
      upload.commit();
    }
    assertThat(server.get("bucket", "a.tar").content()).isEqualTo("new".getBytes());
    long generation = server.get("bucket", "a.tar").generation();
    OutputMetadata otherImage = OutputMetadata.of("oci:/img:v2", "sha256:" + "cd".repeat(32), "linux/amd64", "tar");
    assertThatThrownBy(() -> {
      try (Upload upload = store.create("gs://bucket/a.tar", otherImage, version)) { // stale generation
        upload.stream().write("newer".getBytes());
        upload.commit();
      }
    }).isInstanceOf(OutputExistsException.class).hasMessageContaining("owned by another writer")
        .hasMessageContaining(META.manifestDigest());
    assertThat(server.get("bucket", "a.tar").content()).isEqualTo("new".getBytes());
    assertThat(server.get("bucket", "a.tar").generation()).isEqualTo(generation);
  }

  @Test
  void retriedPublishOfTheSameRender_answersTheEarlierObject_withoutOverwriting() throws Exception {
    StoredOutput first;
    try (Upload upload = store.create("gs://bucket/r.tar", META, null)) {
      upload.stream().write("rendered once".getBytes());
      first = upload.commit();
    }
    long generation = server.get("bucket", "r.tar").generation();
    StoredOutput retried;
    try (Upload upload = store.create("gs://bucket/r.tar", META, null)) { // the runner re-ran the render
      upload.stream().write("rendered once".getBytes());
      retried = upload.commit();
    }
    assertThat(retried.size()).isEqualTo(first.size());
    assertThat(retried.metadata().sha256()).isEqualTo(sha256("rendered once".getBytes()));
    assertThat(retried.version()).isEqualTo(Long.toString(generation));
    assertThat(server.get("bucket", "r.tar").generation()).isEqualTo(generation);
  }

  @Test
  void abandonedUpload_publishesNothing() throws Exception {
    try (Upload upload = store.create("gs://bucket/partial.tar", META, null)) {
      upload.stream().write(bytes(600_000)); // more than two chunks reach the server
    }
    assertThat(server.get("bucket", "partial.tar")).isNull();
    assertThat(store.stat("gs://bucket/partial.tar")).isEmpty();
  }

  @Test
  void chunkAnswered503_isRetriedByTheClient_andTheObjectIsComplete() throws Exception {
    byte[] content = bytes(700_000);
    server.failNextChunks.set(1);
    try (Upload upload = store.create("gs://bucket/retried.tar", META, null)) {
      upload.stream().write(content);
      upload.commit();
    }
    assertThat(server.served503.get()).isEqualTo(1);
    assertThat(server.get("bucket", "retried.tar").content()).isEqualTo(content);
    assertThat(server.get("bucket", "retried.tar").metadata()).containsEntry("ocirender-sha256", sha256(content));
  }

  @Test
  void mediaUploadAndRead_throughTheClient() throws Exception {
    // The client's single-request (multipart media) path, as used for small objects.
    storage.create(BlobInfo.newBuilder("bucket", "small.json").setMetadata(Map.of("k", "v")).build(), "{}".getBytes(),
        Storage.BlobTargetOption.doesNotExist());
    assertThat(server.get("bucket", "small.json").metadata()).containsEntry("k", "v");
    assertThat(storage.readAllBytes(BlobId.of("bucket", "small.json"))).isEqualTo("{}".getBytes());
    assertThatThrownBy(() -> storage.create(BlobInfo.newBuilder("bucket", "small.json").build(), "x".getBytes(),
        Storage.BlobTargetOption.doesNotExist())).hasMessageContaining("conditionNotMet");
  }

  private static byte[] bytes(int n) {
    byte[] b = new byte[n];
    new Random(n).nextBytes(b);
    return b;
  }

  private static String sha256(byte[] b) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
  }
}
