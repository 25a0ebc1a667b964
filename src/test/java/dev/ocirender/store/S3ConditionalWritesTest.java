package dev.ocirender.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import dev.ocirender.testing.ConditionalS3Server;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.apache.beam.sdk.options.PipelineOptionsFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.HeadObjectResponse;

/**
 * {@link S3OutputStore}'s guards that only the server can enforce, through the AWS SDK client the
 * pipeline makes: conditional writes ({@code If-None-Match: *}, {@code If-Match: ETAG}) deciding a
 * race between publishers that both passed the store's HEAD check, and the multipart self-copy that
 * records the sha256 of outputs above the CopyObject limit (with {@code x-amz-copy-source-if-match}).
 *
 * <p>Why not against s3rver, the real S3 implementation of {@link S3OutputStoreTest}: s3rver ignores
 * {@code If-None-Match}, {@code If-Match} and {@code x-amz-copy-source-if-match} (both writers would
 * "win", the second silently overwriting the first) and answers UploadPartCopy with NotImplemented.
 * So these run against {@link ConditionalS3Server}, a small in-repo server that speaks the S3 REST
 * protocol for just these requests, with AWS's documented answers (412 PreconditionFailed, 409
 * ConditionalRequestConflict, S3's XML error bodies and ETags). The races are made deterministic by
 * the server holding the conditional writes until both publishers have sent theirs.
 */
class S3ConditionalWritesTest {

  private static final String URI = "s3://bucket/out/image.tar";
  private static final OutputMetadata META = OutputMetadata.of("oci:/img:v1", "sha256:" + "ab".repeat(32), "linux/amd64", "tar");
  private static final OutputMetadata OTHER_IMAGE = OutputMetadata.of("oci:/other:v1", "sha256:" + "cd".repeat(32), "linux/amd64", "tar");

  private ConditionalS3Server server;
  private S3Client client;
  private S3OutputStore store;
  private final ExecutorService publishers = Executors.newFixedThreadPool(2);

  @BeforeEach
  void start() throws Exception {
    server = ConditionalS3Server.start(S3OutputStore.MIN_PART_SIZE);
    PipelineOptionsFactory.register(S3StoreOptions.class);
    S3Settings settings = S3Settings.from(PipelineOptionsFactory.fromArgs(server.pipelineOptions().toArray(String[]::new)).create());
    client = settings.newClient();
    // The server's CopyObject limit is 5 MiB here, like the store's: a CopyObject of more fails as on AWS above 5 GiB.
    store = new S3OutputStore(settings.newClient(), S3OutputStore.MIN_PART_SIZE, S3OutputStore.MIN_PART_SIZE);
  }

  @AfterEach
  void stop() throws Exception {
    publishers.shutdownNow();
    store.close();
    client.close();
    server.close();
  }

  @Test
  void twoPublishersOfTheSameRender_bothPastTheHeadCheck_exactlyOneWrites_theOtherAdoptsTheWinnersOutput() throws Exception {
    // A runner's retry racing the attempt it replaces: the same image, the same output.
    byte[] content = bytes(10_000, 1);
    server.holdConditionalWrites(2);
    List<Object> outcomes = race(() -> publish(URI, META, content, null), () -> publish(URI, META, content, null));

    assertThat(server.operations()).filteredOn("PutObject"::equals).hasSize(2); // both passed the HEAD check
    assertThat(server.operations()).filteredOn("PreconditionFailed"::equals).hasSize(1); // the server refused one
    assertThat(outcomes.get(0)).isInstanceOf(StoredOutput.class).isEqualTo(outcomes.get(1)); // the loser answers the winner's
    assertThat(get("out/image.tar")).isEqualTo(content);
    assertThat(store.stat(URI)).contains((StoredOutput) outcomes.get(0));
  }

  @Test
  void twoPublishersOfDifferentImages_multipart_exactlyOneCompletes_theOtherGetsOutputExists_andItsUploadIsAborted()
      throws Exception {
    byte[] first = bytes(2 * S3OutputStore.MIN_PART_SIZE + 100, 2);
    byte[] second = bytes(2 * S3OutputStore.MIN_PART_SIZE + 200, 3);
    server.holdConditionalWrites(2);
    List<Object> outcomes = race(() -> publish(URI, META, first, null), () -> publish(URI, OTHER_IMAGE, second, null));

    // Both publishers' completions reached the server; the third is the winner's multipart self-copy.
    assertThat(server.operations()).filteredOn("CompleteMultipartUpload"::equals).hasSize(3);
    StoredOutput winner = onlyWinner(outcomes);
    assertRefusedBecause(onlyLoser(outcomes), "PreconditionFailed");
    assertThat(onlyLoser(outcomes)).hasMessageContaining("owned by another writer");
    byte[] expected = winner.metadata().manifestDigest().equals(META.manifestDigest()) ? first : second;
    assertThat(get("out/image.tar")).isEqualTo(expected);
    assertThat(winner.metadata().sha256()).isEqualTo(sha256(expected));
    assertThat(store.stat(URI).orElseThrow().metadata()).isEqualTo(winner.metadata());
    assertThat(server.openUploads()).as("the loser's upload is aborted, not left behind").isZero();
  }

  @Test
  void concurrentWriterAnsweredWith409ConditionalRequestConflict_isOutputExists() throws Exception {
    server.holdConditionalWrites(2);
    server.answerConflictsWith409(true);
    List<Object> outcomes = race(() -> publish(URI, META, bytes(1000, 4), null), () -> publish(URI, OTHER_IMAGE, bytes(1000, 4), null));

    onlyWinner(outcomes);
    assertRefusedBecause(onlyLoser(outcomes), "ConditionalRequestConflict");
  }

  @Test
  void twoReplacersOfTheSameVersion_exactlyOneWins_theStaleEtagIsRefusedByTheServer() throws Exception {
    StoredOutput old = publish(URI, META, bytes(1000, 5), null);
    byte[] a = bytes(3000, 6);
    byte[] b = bytes(4000, 7);
    server.holdConditionalWrites(2);
    List<Object> outcomes = race(() -> publish(URI, META, a, old.version()), () -> publish(URI, OTHER_IMAGE, b, old.version()));

    StoredOutput winner = onlyWinner(outcomes);
    assertRefusedBecause(onlyLoser(outcomes), "PreconditionFailed");
    assertThat(get("out/image.tar")).isEqualTo(winner.size() == a.length ? a : b);
    assertThat(winner.version()).isNotEqualTo(old.version());
  }

  @Test
  void replacingAVersionOverwrittenAfterTheHeadCheck_isRefusedByIfMatch() throws Exception {
    StoredOutput old = publish(URI, META, bytes(1000, 8), null);
    byte[] theirs = bytes(10, 10);
    server.beforeNext("PutObject", () -> client.putObject(r -> r.bucket("bucket").key("out/image.tar"), RequestBody.fromBytes(theirs)));

    Throwable refused = catchThrowable(() -> publish(URI, META, bytes(500, 9), old.version()));
    assertRefusedBecause(refused, "PreconditionFailed");
    assertThat(get("out/image.tar")).isEqualTo(theirs);
  }

  @Test
  void replacingAVersionDeletedAfterTheHeadCheck_isOutputExists() throws Exception {
    // If-Match on a key that is gone: S3 answers 404 NoSuchKey.
    StoredOutput old = publish(URI, META, bytes(1000, 8), null);
    server.beforeNext("PutObject", () -> client.deleteObject(r -> r.bucket("bucket").key("out/image.tar")));

    assertRefusedBecause(catchThrowable(() -> publish(URI, META, bytes(500, 9), old.version())), "NoSuchKey");
    assertThat(store.stat(URI)).isEmpty();
  }

  @Test
  void outputAboveTheCopyLimit_getsItsSha256ByAMultipartSelfCopy() throws Exception {
    byte[] content = bytes(3 * S3OutputStore.MIN_PART_SIZE + 12_345, 11);
    StoredOutput out = publish(URI, META, content, null);

    List<String> ops = server.operations();
    assertThat(ops).doesNotContain("CopyObject"); // the server refuses sources above its copy limit, as AWS does above 5 GiB
    assertThat(ops).filteredOn("UploadPartCopy"::equals).hasSize(4); // ranges of at most the copy limit
    assertThat(ops).filteredOn("CompleteMultipartUpload"::equals).hasSize(2); // the upload, then the copy
    assertThat(get("out/image.tar")).isEqualTo(content);
    HeadObjectResponse head = client.headObject(r -> r.bucket("bucket").key("out/image.tar"));
    assertThat(head.metadata()).isEqualTo(META.withSha256(sha256(content)).toMap());
    assertThat(head.eTag()).isEqualTo(out.version()).endsWith("-4\"");
    assertThat(out.metadata().isCompleteRenderOf(META.manifestDigest(), "linux/amd64", "tar")).isTrue();
    assertThat(server.openUploads()).isZero();
  }

  @Test
  void multipartOutputBelowTheCopyLimit_whenTheObjectChangesBeforeItsCopyObject_isOutputExistsAndLeavesTheOtherWritersObject()
      throws Exception {
    byte[] content = bytes(2 * S3OutputStore.MIN_PART_SIZE + 7, 15);
    byte[] theirs = bytes(100, 16);
    try (ConditionalS3Server aws = ConditionalS3Server.start(S3OutputStore.MAX_COPY_SIZE)) {
      S3Settings settings = S3Settings.from(PipelineOptionsFactory.fromArgs(aws.pipelineOptions().toArray(String[]::new)).create());
      try (S3OutputStore defaults = new S3OutputStore(settings.newClient(), S3OutputStore.MIN_PART_SIZE);
          S3Client other = settings.newClient()) {
        aws.beforeNext("CopyObject", () -> other.putObject(r -> r.bucket("bucket").key("out/image.tar"), RequestBody.fromBytes(theirs)));
        assertRefusedBecause(catchThrowable(() -> {
          try (Upload upload = defaults.create(URI, META, null)) {
            upload.stream().write(content);
            upload.commit();
          }
        }), "PreconditionFailed");
        assertThat(aws.operations()).contains("CopyObject").doesNotContain("UploadPartCopy");
        assertThat(other.getObjectAsBytes(r -> r.bucket("bucket").key("out/image.tar")).asByteArray()).isEqualTo(theirs);
      }
    }
  }

  @Test
  void multipartSelfCopy_whenTheObjectChangesMeanwhile_isAbortedAndLeavesTheOtherWritersObject() throws Exception {
    byte[] content = bytes(2 * S3OutputStore.MIN_PART_SIZE + 7, 13);
    byte[] theirs = bytes(100, 14);
    server.beforeNext("UploadPartCopy", () -> client.putObject(r -> r.bucket("bucket").key("out/image.tar"), RequestBody.fromBytes(theirs)));

    assertRefusedBecause(catchThrowable(() -> publish(URI, META, content, null)), "PreconditionFailed");
    assertThat(get("out/image.tar")).isEqualTo(theirs);
    assertThat(server.openUploads()).as("the copy's upload is aborted").isZero();
  }

  /** An OutputExistsException whose cause chain carries the server's error code. */
  private static void assertRefusedBecause(Throwable t, String code) {
    assertThat(t).isInstanceOf(OutputExistsException.class);
    List<String> messages = new ArrayList<>();
    for (Throwable c = t; c != null; c = c.getCause()) {
      messages.add(c.getMessage());
    }
    assertThat(messages).as("the cause chain").anyMatch(m -> m != null && m.contains(code));
  }

  private interface Publish {
    StoredOutput run() throws Exception;
  }

  /** Runs both at once; each outcome is the StoredOutput or the exception. */
  private List<Object> race(Publish a, Publish b) throws Exception {
    List<Future<StoredOutput>> futures = List.of(publishers.submit(a::run), publishers.submit(b::run));
    List<Object> outcomes = new ArrayList<>();
    for (Future<StoredOutput> f : futures) {
      try {
        outcomes.add(f.get(2, TimeUnit.MINUTES));
      } catch (ExecutionException e) {
        outcomes.add(e.getCause());
      }
    }
    return outcomes;
  }

  private static StoredOutput onlyWinner(List<Object> outcomes) {
    assertThat(outcomes).as("exactly one publisher wins").filteredOn(StoredOutput.class::isInstance).hasSize(1);
    return (StoredOutput) outcomes.stream().filter(StoredOutput.class::isInstance).findFirst().orElseThrow();
  }

  private static OutputExistsException onlyLoser(List<Object> outcomes) {
    assertThat(outcomes).as("the other gets OutputExistsException").filteredOn(OutputExistsException.class::isInstance).hasSize(1);
    return (OutputExistsException) outcomes.stream().filter(OutputExistsException.class::isInstance).findFirst().orElseThrow();
  }

  private StoredOutput publish(String uri, OutputMetadata metadata, byte[] content, String replaceVersion) throws Exception {
    try (Upload upload = store.create(uri, metadata, replaceVersion)) {
      upload.stream().write(content);
      return upload.commit();
    }
  }

  private byte[] get(String key) {
    return client.getObjectAsBytes(b -> b.bucket("bucket").key(key)).asByteArray();
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
