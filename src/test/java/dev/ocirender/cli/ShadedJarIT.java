package dev.ocirender.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ocirender.store.FakeGcsServer;
import dev.ocirender.store.S3ClientFactory;
import dev.ocirender.store.S3StoreOptions;
import dev.ocirender.testing.ExternalTools;
import dev.ocirender.testing.Requires;
import dev.ocirender.testing.S3rverServer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import org.apache.beam.sdk.options.PipelineOptionsFactory;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.S3Object;

/**
 * Starts every entry point of the shaded jar ({@code target/ocirender.jar}) in a fresh JVM, as users
 * and runners do: the CLI's commands, the catalog pipeline on DirectRunner and on in-process Flink,
 * the Dataflow dry run, the pipeline with catalog, outputs and results on S3 (s3rver) and on GCS
 * ({@link FakeGcsServer}), and
 * {@link dev.ocirender.pipeline.CatalogPipeline}'s own main (the Flex Template's). A jar can build and still fail here: a dependency left out that some runner loads, a
 * {@code META-INF/services} file lost in the merge (Beam registers options, coders, runners and
 * filesystems through them), Flink's {@code reference.conf}. Run by Failsafe after {@code package}.
 */
@Requires(tools = {"tar", "unsquashfs"})
class ShadedJarIT {

  static final Path JAR = Path.of("target/ocirender.jar").toAbsolutePath();
  @TempDir static Path work;
  static String sample;
  /** The README's example catalog over images made here: the sample, a copy of it, three variants. */
  static Path catalog;

  @BeforeAll
  static void images() throws IOException {
    assertThat(JAR).as("the shaded jar (mvn package)").isRegularFile();
    sample = java("sample", work.resolve("sample")).strip();
    StringBuilder lines = new StringBuilder("{\"image\": \"" + sample + "\"}\n");
    lines.append(java("sample", work.resolve("sample-copy")).strip()).append('\n');
    for (int n = 1; n <= 3; n++) {
      lines.append(java("sample", "--variant", n, work.resolve("variant-" + n)).strip()).append('\n');
    }
    catalog = Files.writeString(work.resolve("catalog.jsonl"), lines);
    Files.writeString(work.resolve("one.jsonl"), "{\"image\": \"" + sample + "\"}\n");
  }

  static String java(Object... args) {
    List<Object> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java"), "-jar", JAR));
    command.addAll(List.of(args));
    return ExternalTools.output(command.toArray());
  }

  /**
   * Every class a {@code META-INF/services} file names is in the jar: the ServiceLoader behind Beam's
   * registrars (options, coders, filesystems, transform translators) fails on the first missing one,
   * so a shade filter that drops a class must drop the service entries naming it too.
   */
  @Test
  void serviceFiles_nameOnlyClassesThatAreInTheJar() throws IOException {
    List<String> missing = new ArrayList<>();
    int entries = 0;
    try (ZipFile jar = new ZipFile(JAR.toFile())) {
      for (ZipEntry e : Collections.list(jar.entries())) {
        if (!e.getName().startsWith("META-INF/services/") || e.isDirectory()) {
          continue;
        }
        String text = new String(jar.getInputStream(e).readAllBytes(), StandardCharsets.UTF_8);
        for (String line : text.lines().map(l -> l.replaceFirst("#.*", "").strip()).filter(l -> !l.isEmpty()).toList()) {
          entries++;
          if (jar.getEntry(line.replace('.', '/') + ".class") == null) {
            missing.add(e.getName() + " -> " + line);
          }
        }
      }
    }
    assertThat(entries).as("service entries in the jar").isGreaterThan(100);
    assertThat(missing).isEmpty();
  }

  @Test
  void version_printsTheProjectVersion() {
    assertThat(java("--version")).contains("0.1.0");
  }

  @Test
  void render_tarAndSquashfs_readBackByGnuTarAndUnsquashfs() {
    Path tar = work.resolve("sample.tar");
    java("render", sample, "--format", "tar", "--output", tar);
    String listing = ExternalTools.output("tar", "-tf", tar);
    assertThat(listing.lines().map(l -> l.replaceFirst("^\\./", ""))).contains("usr/bin/tool-alias").doesNotContain("etc/motd");

    Path sqfs = work.resolve("sample.sqfs");
    java("render", sample, "--format", "squashfs", "--output", sqfs);
    String sq = ExternalTools.output("unsquashfs", "-l", sqfs);
    assertThat(sq).contains("usr/bin/tool-alias").doesNotContain("etc/motd");
  }

  @Test
  void inspectAndVerify_agreeWithTheRender() throws IOException {
    JsonNode inspect = new ObjectMapper().readTree(java("inspect", sample, "--json"));
    assertThat(inspect.path("layers")).hasSize(3);
    Path tar = work.resolve("verify.tar");
    java("render", sample, "--output", tar);
    assertThat(java("verify", tar, "--reference", sample)).contains("equal: ");
  }

  @Test
  void pipeline_onDirectRunnerAndFlink_rendersTheExampleCatalog() throws IOException {
    for (String runner : List.of("--runner=DirectRunner", "--runner=FlinkRunner")) {
      Path out = work.resolve("out-" + runner.substring(9));
      Path results = work.resolve("results-" + runner.substring(9));
      List<Object> args = new ArrayList<>(List.of("pipeline", "--catalog=" + catalog, "--outputPrefix=" + out,
          "--resultsPrefix=" + results + "/", runner));
      if (runner.contains("Flink")) {
        args.addAll(List.of("--flinkMaster=[local]", "--parallelism=2"));
      }
      java(args.toArray());
      assertThat(statuses(results)).as(runner).containsExactlyInAnyOrder("rendered", "rendered", "rendered", "rendered", "duplicate");
    }
  }

  @Test
  void dataflowDryRun_validatesAndTranslatesTheJob() throws IOException {
    String json = java("pipeline", "--dry-run", "--runner=DataflowRunner", "--region=us-central1",
        "--project=example-project", "--tempLocation=gs://example-temp/tmp",
        "--catalog=gs://example-catalogs/catalog.jsonl", "--outputPrefix=gs://example-outputs/rootfs",
        "--resultsPrefix=gs://example-results/runs/it/");
    JsonNode job = new ObjectMapper().readTree(json);
    assertThat(job.toString()).contains("\"runner\":\"DataflowRunner\"");
  }

  @Test
  void catalogPipelineMain_theFlexTemplateEntryPoint_runsOnDirectRunner() throws IOException {
    Path results = work.resolve("results-main");
    ExternalTools.output(Path.of(System.getProperty("java.home"), "bin", "java"), "-cp", JAR,
        "dev.ocirender.pipeline.CatalogPipeline", "--catalog=" + work.resolve("one.jsonl"),
        "--outputPrefix=" + work.resolve("out-main"), "--resultsPrefix=" + results + "/", "--runner=DirectRunner");
    assertThat(statuses(results)).containsExactly("rendered");
  }

  /**
   * The catalog, the outputs and the results on {@code s3://}, against a real S3 implementation
   * (s3rver): Beam's S3 filesystem reads the catalog and writes the results, our S3 store publishes the
   * output; the jar leaves out the AWS module's other IOs and the SDK clients behind them.
   */
  @Test
  void pipeline_onS3_readsTheCatalogAndWritesOutputAndResultsThroughTheJar() throws Exception {
    String bucket = "jar-it";
    try (S3rverServer server = S3rverServer.start(work.resolve("s3rver"), bucket)) {
      PipelineOptionsFactory.register(S3StoreOptions.class);
      S3StoreOptions options = PipelineOptionsFactory.fromArgs(server.pipelineOptions().toArray(String[]::new)).as(S3StoreOptions.class);
      try (S3Client client = new S3ClientFactory().createBuilder(options).build()) {
        client.putObject(b -> b.bucket(bucket).key("catalogs/one.jsonl"), RequestBody.fromFile(work.resolve("one.jsonl")));
        List<Object> args = new ArrayList<>(List.of("pipeline", "--catalog=s3://" + bucket + "/catalogs/one.jsonl",
            "--outputPrefix=s3://" + bucket + "/out", "--resultsPrefix=s3://" + bucket + "/results/",
            "--s3ClientFactoryClass=" + S3ClientFactory.class.getName(), "--runner=DirectRunner"));
        args.addAll(server.pipelineOptions());
        java(args.toArray());

        List<String> keys = client.listObjectsV2Paginator(b -> b.bucket(bucket)).contents().stream().map(S3Object::key).sorted().toList();
        Path results = Files.createDirectories(work.resolve("s3-results"));
        for (String key : keys.stream().filter(k -> k.startsWith("results/results-")).toList()) {
          Files.write(results.resolve(key.substring("results/".length())), client.getObjectAsBytes(b -> b.bucket(bucket).key(key)).asByteArray());
        }
        assertThat(statuses(results)).containsExactly("rendered");
        List<String> tars = keys.stream().filter(k -> k.startsWith("out/") && k.endsWith(".tar")).toList();
        assertThat(tars).hasSize(1);
        Path local = work.resolve("s3-reference.tar");
        java("render", sample, "--output", local);
        assertThat(client.getObjectAsBytes(b -> b.bucket(bucket).key(tars.get(0))).asByteArray()).isEqualTo(Files.readAllBytes(local));
      }
    }
  }

  /**
   * The catalog, the outputs and the results on {@code gs://}, against {@link FakeGcsServer} (the GCS
   * JSON API on loopback): Beam's GCS filesystem (gcsio, at {@code --gcsEndpoint}) matches and reads the
   * catalog and writes the results (upload, then rename: rewrite and delete in batch requests, listing
   * of the temporary directory), our GCS store publishes the output ({@code --outputGcsHost}). The jar
   * leaves out the GCS client's gRPC transport and the Storage Control client gcsio makes only for
   * folder operations of hierarchical-namespace buckets, which this path never calls.
   */
  @Test
  void pipeline_onGcs_readsTheCatalogAndWritesOutputAndResultsThroughTheJar() throws Exception {
    String bucket = "jar-it";
    try (FakeGcsServer gcs = new FakeGcsServer()) {
      gcs.put(bucket, "catalogs/one.jsonl", Files.readAllBytes(work.resolve("one.jsonl")), Map.of());
      java("pipeline", "--catalog=gs://" + bucket + "/catalogs/one.jsonl", "--outputPrefix=gs://" + bucket + "/out",
          "--resultsPrefix=gs://" + bucket + "/results/", "--runner=DirectRunner", "--project=jar-it",
          "--gcsEndpoint=" + gcs.host() + "/storage/v1/", "--outputGcsHost=" + gcs.host(),
          "--credentialFactoryClass=org.apache.beam.sdk.extensions.gcp.auth.NoopCredentialFactory");

      List<String> names = gcs.names(bucket);
      Path results = Files.createDirectories(work.resolve("gcs-results"));
      for (String name : names.stream().filter(n -> n.startsWith("results/results-")).toList()) {
        Files.write(results.resolve(name.substring("results/".length())), gcs.get(bucket, name).content());
      }
      assertThat(statuses(results)).containsExactly("rendered");
      // Beam's rename went through: no temporary file is left behind.
      assertThat(names).as("objects in the bucket").noneMatch(n -> n.contains(".temp-beam"));
      assertThat(gcs.requests()).as("gcsio's batch requests and listing were used")
          .anyMatch(r -> r.startsWith("POST /batch/storage/v1")).anyMatch(r -> r.startsWith("GET /storage/v1/b/" + bucket + "/o "));
      List<String> tars = names.stream().filter(n -> n.startsWith("out/") && n.endsWith(".tar")).toList();
      assertThat(tars).hasSize(1);
      Path local = work.resolve("gcs-reference.tar");
      java("render", sample, "--output", local);
      assertThat(gcs.get(bucket, tars.get(0)).content()).isEqualTo(Files.readAllBytes(local));
    }
  }

  private static List<String> statuses(Path results) throws IOException {
    List<String> out = new ArrayList<>();
    ObjectMapper json = new ObjectMapper();
    try (Stream<Path> files = Files.list(results)) {
      for (Path f : files.filter(p -> p.getFileName().toString().startsWith("results-")).toList()) {
        for (String line : Files.readAllLines(f)) {
          if (!line.isBlank()) {
            out.add(json.readTree(line).path("status").asText());
          }
        }
      }
    }
    return out;
  }
}
