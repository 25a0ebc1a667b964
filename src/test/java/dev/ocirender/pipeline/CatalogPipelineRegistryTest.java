package dev.ocirender.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ocirender.image.Platform;
import dev.ocirender.render.OutputFormat;
import dev.ocirender.render.Renderer;
import dev.ocirender.source.ImageSource;
import dev.ocirender.source.ImageSources;
import dev.ocirender.source.registry.DistributionRegistry;
import dev.ocirender.source.registry.FaultProxy;
import dev.ocirender.source.registry.RegistryTestImages;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.apache.beam.sdk.PipelineResult;
import org.apache.beam.sdk.options.PipelineOptionsFactory;
import org.apache.beam.sdk.testing.TestPipeline;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The catalog pipeline on DirectRunner over {@code docker://} images in a real docker-registry on
 * 127.0.0.1 (pushed by skopeo), behind a counting proxy: two images that share their two base layers
 * are rendered with one worker-wide blob cache, so every distinct blob crosses the network once,
 * the metrics say so, and the outputs equal single-image renders of the layouts byte for byte.
 */
class CatalogPipelineRegistryTest {

  private static final Pattern BLOB_GET = Pattern.compile("^GET /v2/.+/blobs/(sha256:[0-9a-f]{64})");

  @TempDir Path root;

  @Test
  void imagesSharingBaseLayers_fetchSharedBlobsOnce_outputsEqualSingleRenders() throws Exception {
    Path one = root.resolve("layouts/one");
    Path two = root.resolve("layouts/two");
    RegistryTestImages.app("one").writeLayout(one);
    RegistryTestImages.app("two").writeLayout(two);
    try (DistributionRegistry registry = DistributionRegistry.start(root.resolve("registry"));
        FaultProxy proxy = new FaultProxy("http://" + registry.host())) {
      registry.push(one, "latest", "team/one:v1");
      registry.push(two, "latest", "team/two:v1");
      String imageOne = "docker://" + proxy.host() + "/team/one:v1";
      String imageTwo = "docker://" + proxy.host() + "/team/two:v1";
      Path catalog = root.resolve("catalog.jsonl");
      Files.write(catalog, List.of(imageOne, CatalogFixture.json("image", imageTwo)));
      Path outputs = root.resolve("outputs");
      Path cache = root.resolve("blob-cache");
      CatalogPipelineOptions options = PipelineOptionsFactory.fromArgs(
              "--catalog=" + catalog, "--outputPrefix=" + outputs, "--resultsPrefix=" + root.resolve("run") + "/",
              "--blobCacheDir=" + cache, "--layerCacheDir=" + cache.resolveSibling("layer-cache"), "--parallelDownloads=3", "--registryRetries=2")
          .withValidation().as(CatalogPipelineOptions.class);

      TestPipeline pipeline = TestPipeline.fromOptions(options).enableAbandonedNodeEnforcement(false);
      CatalogPipeline.write(CatalogPipeline.expand(pipeline, options), options.getResultsPrefix());
      PipelineResult result = pipeline.run();
      result.waitUntilFinish();
      // Downloads finish into the cache even after their image is done; let them land before @TempDir goes.
      assertThat(WorkerRegistries.of(WorkerRegistries.Settings.from(options)).context().cache()
          .awaitIdle(Duration.ofSeconds(60))).isTrue();

      assertThat(CatalogFixture.readRecords(root.resolve("run"), "dead-letters")).isEmpty();
      assertThat(CatalogFixture.readRecords(root.resolve("run"), "results")).hasSize(2)
          .allSatisfy(r -> assertThat(r.get("status").asText()).isEqualTo(Records.RENDERED));

      // Every blob GET through the proxy is of a distinct digest: shared base layers came once.
      Map<String, Long> blobGets = proxy.requests().stream().map(BLOB_GET::matcher).filter(Matcher::find)
          .collect(Collectors.groupingBy(m -> m.group(1), TreeMap::new, Collectors.counting()));
      // 2 shared base layers + 2 top layers + 2 configs
      assertThat(blobGets).hasSize(6).allSatisfy((digest, n) -> assertThat(n).as(digest).isEqualTo(1L));
      long blobBytes = 0;
      for (String digest : blobGets.keySet()) {
        String hex = digest.substring("sha256:".length());
        Path blob = Files.exists(one.resolve("blobs/sha256/" + hex)) ? one.resolve("blobs/sha256/" + hex)
            : two.resolve("blobs/sha256/" + hex);
        blobBytes += Files.size(blob);
      }

      Map<String, Long> metrics = CatalogFixture.counters(result);
      assertThat(metrics).containsEntry(PipelineMetrics.IMAGES_RENDERED, 2L)
          .containsEntry(PipelineMetrics.LAYERS, 6L)
          .containsEntry(PipelineMetrics.BLOBS_DOWNLOADED, 6L)
          .containsEntry(PipelineMetrics.BYTES_DOWNLOADED, blobBytes);
      // At least each config, downloaded while resolving and read again while rendering.
      assertThat(metrics.get(PipelineMetrics.CACHE_HITS)).isGreaterThanOrEqualTo(2L);

      Function<String, Path> output = image ->
          Path.of(OutputNames.defaultOutput(outputs.toString(), image, "linux/amd64", OutputFormat.TAR));
      assertThat(Files.readAllBytes(output.apply(imageOne))).hasSizeGreaterThan(100_000)
          .isEqualTo(renderAlone("oci:" + one + ":latest"));
      assertThat(Files.readAllBytes(output.apply(imageTwo))).isEqualTo(renderAlone("oci:" + two + ":latest"));
    }
  }

  private byte[] renderAlone(String image) throws Exception {
    Path out = Files.createTempFile(root, "alone", ".tar");
    try (ImageSource source = ImageSources.open(image)) {
      new Renderer().renderToFile(source, Platform.LINUX_AMD64, OutputFormat.TAR, out);
    }
    return Files.readAllBytes(out);
  }
}
