package dev.ocirender.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.ocirender.render.OutputFormat;
import dev.ocirender.store.OutputMetadata;
import dev.ocirender.store.S3ClientFactory;
import dev.ocirender.store.S3StoreOptions;
import dev.ocirender.testing.S3rverServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.beam.sdk.PipelineResult;
import org.apache.beam.sdk.options.PipelineOptionsFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;
import software.amazon.awssdk.services.s3.model.S3Object;

/**
 * The mixed catalog with its catalog, default outputs and records on {@code s3://}, against a real S3
 * implementation (s3rver on 127.0.0.1), through Beam's S3 filesystem and the S3 output store, with
 * endpoint, region, path-style access and credentials given as pipeline options. Compared with the
 * same catalog on local files: the same records and byte-identical outputs; a re-run skips everything;
 * a failed render leaves no object.
 */
class CatalogPipelineS3Test {

  private static final String BUCKET = "ocirender";

  @TempDir Path localRoot;
  @TempDir Path s3Root;
  @TempDir Path serverDir;
  private S3rverServer server;
  private S3Client client;

  @BeforeEach
  void start() throws Exception {
    server = S3rverServer.start(serverDir.resolve("data"), BUCKET);
    PipelineOptionsFactory.register(S3StoreOptions.class);
    client = new S3ClientFactory().createBuilder(PipelineOptionsFactory.fromArgs(server.pipelineOptions().toArray(String[]::new))
        .as(S3StoreOptions.class)).build();
  }

  @AfterEach
  void stop() throws Exception {
    client.close();
    server.close();
  }

  @Test
  void catalogOutputsAndResultsOnS3_sameRecordsAndOutputsAsLocal_reRunSkipsEverything_failedRenderLeavesNoObject() throws Exception {
    CatalogFixture local = new CatalogFixture(localRoot);
    CatalogFixture s3 = new CatalogFixture(s3Root);
    CatalogPipelineDirectRunnerTest.run(local, local.args("run"));

    client.putObject(b -> b.bucket(BUCKET).key("catalogs/catalog.jsonl"), RequestBody.fromFile(s3.catalog));
    String outputs = "s3://" + BUCKET + "/outputs";
    PipelineResult first = CatalogPipelineDirectRunnerTest.run(s3, args(outputs, "runs/1/"));
    assertThat(CatalogFixture.counters(first)).containsEntry(PipelineMetrics.IMAGES_RENDERED, 4L);

    Map<Long, String> s3Results = normalised(s3, outputs, records("runs/1/results"));
    Map<Long, String> localResults = normalised(local, local.outputs.toString(), CatalogFixture.readRecords(localRoot.resolve("run"), "results"));
    assertThat(s3Results).isEqualTo(localResults);
    assertThat(normalised(s3, outputs, records("runs/1/dead-letters")).keySet())
        .isEqualTo(local.expectedDeadLetters.keySet());

    // Byte-identical outputs, with the ocirender-* metadata that GCS outputs carry.
    for (String image : List.of("B", "C")) {
      String s3Image = image.equals("B") ? s3.imageB : s3.imageC;
      String localImage = image.equals("B") ? local.imageB : local.imageC;
      String key = key(OutputNames.defaultOutput(outputs, s3Image, "linux/amd64", OutputFormat.TAR));
      byte[] bytes = client.getObjectAsBytes(b -> b.bucket(BUCKET).key(key)).asByteArray();
      assertThat(bytes).isEqualTo(Files.readAllBytes(Path.of(local.defaultOutput(localImage))));
      OutputMetadata meta = OutputMetadata.fromMap(client.headObject(b -> b.bucket(BUCKET).key(key)).metadata());
      assertThat(meta.source()).isEqualTo(s3Image);
      assertThat(meta.sha256()).isEqualTo(CatalogPipelineDirectRunnerTest.sha256(bytes));
    }
    String squashfsKey = key(OutputNames.defaultOutput(outputs, s3.imageA, "linux/amd64", OutputFormat.SQUASHFS));
    assertThat(client.getObjectAsBytes(b -> b.bucket(BUCKET).key(squashfsKey)).asByteArray())
        .isEqualTo(Files.readAllBytes(Path.of(local.defaultOutput(local.imageA, OutputFormat.SQUASHFS))));

    // The image with a corrupted layer: a dead letter and no object under its name.
    String badKey = key(OutputNames.defaultOutput(outputs, "oci:" + s3Root.resolve("images/bad") + ":v1", "linux/amd64", OutputFormat.TAR));
    assertThat(exists(badKey)).isFalse();
    List<String> before = keys("outputs/");

    // A re-run renders nothing and publishes nothing new.
    PipelineResult second = CatalogPipelineDirectRunnerTest.run(s3, args(outputs, "runs/2/"));
    Map<String, Long> counters = CatalogFixture.counters(second);
    assertThat(counters.getOrDefault(PipelineMetrics.IMAGES_RENDERED, 0L)).isZero();
    assertThat(counters).containsEntry(PipelineMetrics.IMAGES_SKIPPED, 4L);
    List<JsonNode> again = records("runs/2/results");
    assertThat(again).extracting(r -> r.path("status").asText()).doesNotContain(Records.RENDERED).contains(Records.SKIPPED);
    assertThat(keys("outputs/")).isEqualTo(before);
  }

  private String[] args(String outputs, String run) {
    List<String> args = new ArrayList<>(List.of("--catalog=s3://" + BUCKET + "/catalogs/*.jsonl", "--outputPrefix=" + outputs,
        "--resultsPrefix=s3://" + BUCKET + "/" + run, "--s3ClientFactoryClass=" + S3ClientFactory.class.getName()));
    args.addAll(server.pipelineOptions());
    return args.toArray(String[]::new);
  }

  /** Every record of the objects {@code prefix*}, downloaded into a directory and read like local ones. */
  private List<JsonNode> records(String prefix) throws Exception {
    Path dir = Files.createTempDirectory(s3Root, "records");
    for (String key : keys(prefix)) {
      Files.write(dir.resolve(key.replace('/', '_')), client.getObjectAsBytes(b -> b.bucket(BUCKET).key(key)).asByteArray());
    }
    return CatalogFixture.readRecords(dir, "");
  }

  private List<String> keys(String prefix) {
    return client.listObjectsV2Paginator(b -> b.bucket(BUCKET).prefix(prefix)).contents().stream().map(S3Object::key).sorted().toList();
  }

  private boolean exists(String key) {
    try {
      client.headObject(b -> b.bucket(BUCKET).key(key));
      return true;
    } catch (NoSuchKeyException e) {
      return false;
    }
  }

  private static String key(String uri) {
    return uri.substring(("s3://" + BUCKET + "/").length());
  }

  /** Records by line, timings dropped; default outputs named by which image they are for, the run's root and catalog replaced. */
  private static Map<Long, String> normalised(CatalogFixture f, String outputs, List<JsonNode> records) {
    Map<Long, String> out = CatalogFixture.comparable(records);
    out.replaceAll((line, json) -> json
        .replace(OutputNames.defaultOutput(outputs, f.imageB, "linux/amd64", OutputFormat.TAR), "DEFAULT-OUTPUT-B")
        .replace(OutputNames.defaultOutput(outputs, f.imageC, "linux/amd64", OutputFormat.TAR), "DEFAULT-OUTPUT-C")
        .replace(OutputNames.defaultOutput(outputs, f.imageA, "linux/amd64", OutputFormat.SQUASHFS), "DEFAULT-OUTPUT-A-SQUASHFS")
        .replace("s3://" + BUCKET + "/catalogs/catalog.jsonl", "CATALOG")
        .replace(f.catalog.toString(), "CATALOG")
        .replace(f.root.toString(), "ROOT"));
    return out;
  }
}
