package dev.ocirender.pipeline;

import static dev.ocirender.testing.LayerBuilder.layer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ocirender.image.Digest;
import dev.ocirender.image.Platform;
import dev.ocirender.render.OutputFormat;
import dev.ocirender.render.Renderer;
import dev.ocirender.source.ImageSource;
import dev.ocirender.source.ImageSources;
import dev.ocirender.testing.Compression;
import dev.ocirender.testing.ImageBuilder;
import dev.ocirender.testing.LayerBuilder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.apache.beam.sdk.PipelineResult;
import org.apache.beam.sdk.metrics.MetricQueryResults;
import org.apache.beam.sdk.metrics.MetricResult;
import org.apache.beam.sdk.metrics.MetricNameFilter;
import org.apache.beam.sdk.metrics.MetricsFilter;

/**
 * The mixed catalog the pipeline tests run on every runner: three good images (two OCI layouts, one
 * docker-archive directory), a duplicate of the first by digest, a malformed line, the first image
 * again as squashfs, a dir output aimed at an object store, an image whose layer has one corrupted byte
 * (digest mismatch), and a layout that does not exist. Blank and comment lines are not image lines.
 */
final class CatalogFixture {

  static final ObjectMapper JSON = new ObjectMapper();

  final Path root;
  final Path catalog;
  final Path outputs;
  final String imageA;
  /** The digests of A's layer blobs, base first. */
  final List<String> layersOfA;
  final String imageADigestForm;
  final String imageB;
  final String imageC;
  final String customOutputA;
  /** Lines 10 (a corrupt blob) and 11 (no such layout): their renders fail. */
  final String badImage;
  final String missingImage;

  /** Lines of the catalog that end as results (line number -> status) and as dead letters (line -> stage). */
  final Map<Long, String> expectedResults = new TreeMap<>();
  final Map<Long, String> expectedDeadLetters = new TreeMap<>();

  CatalogFixture(Path root) throws IOException {
    this.root = root;
    this.outputs = root.resolve("outputs");
    ImageBuilder.Layout a = ImageBuilder.image()
        .layer(layer().dir("etc", 0755).file("etc/os-release", "ID=base\n", 0644).file("etc/motd", "hello\n", 0644))
        .layer(layer().whiteout("etc/motd").file("app/run.sh", "#!/bin/sh\necho a\n", 0755).hardlink("app/run", "app/run.sh"),
            Compression.ZSTD)
        .tag("v1").writeLayout(root.resolve("images/a"));
    ImageBuilder.image()
        .layer(layer().dir("etc", 0755).file("etc/os-release", "ID=base\n", 0644).symlink("bin", "usr/bin"))
        .layer(layer().dir("var/cache", 0755).file("var/cache/x", "cached", 0600), Compression.NONE)
        .layer(layer().opaque("var/cache").file("var/cache/fresh", "new", 0644))
        .tag("v2").writeLayout(root.resolve("images/b"));
    writeDockerArchive(root.resolve("images/c"),
        layer().dir("usr", 0755).file("usr/lib.so", "library", 0644),
        layer().file("usr/lib.so", "library v2", 0644).file("README", "docker archive image", 0644));
    ImageBuilder.Layout bad = ImageBuilder.image()
        .layer(layer().file("data/blob.bin", "0123456789".repeat(200), 0644), Compression.NONE)
        .tag("v1").writeLayout(root.resolve("images/bad"));
    corruptOneByte(bad);

    layersOfA = a.layers().stream().map(l -> l.descriptor().digest().toString()).toList();
    imageA = "oci:" + root.resolve("images/a") + ":v1";
    imageADigestForm = "oci:" + root.resolve("images/a") + "@" + a.manifest().digest();
    imageB = "oci:" + root.resolve("images/b") + ":v2";
    imageC = "docker-archive:" + root.resolve("images/c");
    customOutputA = outputs.resolve("custom/a.tar").toString();
    badImage = "oci:" + root.resolve("images/bad") + ":v1";
    missingImage = "oci:" + root.resolve("images/missing") + ":v1";

    List<String> lines = new ArrayList<>();
    lines.add("# the test catalog");                                                       // 1
    lines.add(json("image", imageA, "output", customOutputA));                             // 2
    expectedResults.put(2L, Records.RENDERED);
    lines.add(imageB);                                                                     // 3
    expectedResults.put(3L, Records.RENDERED);
    lines.add(json("image", imageC, "platform", "linux/amd64", "format", "tar"));         // 4
    expectedResults.put(4L, Records.RENDERED);
    lines.add("");                                                                         // 5
    lines.add(json("image", imageADigestForm));                                            // 6
    expectedResults.put(6L, Records.DUPLICATE);
    lines.add("{\"image\": \"oci:broken");                                                 // 7
    expectedDeadLetters.put(7L, "parse");
    lines.add(json("image", imageA, "format", "squashfs"));                                // 8
    expectedResults.put(8L, Records.RENDERED); // same image, another format: not a duplicate
    lines.add(json("image", imageA, "format", "dir", "output", "gs://bucket/a"));          // 9
    expectedDeadLetters.put(9L, "parse");
    lines.add(badImage);                                                                   // 10
    expectedDeadLetters.put(10L, "render");
    lines.add(missingImage);                                                               // 11
    expectedDeadLetters.put(11L, "resolve");
    catalog = root.resolve("catalog.jsonl");
    Files.write(catalog, lines);
  }

  /** Options for a run writing its records under {@code results}. */
  String[] args(String results, String... extra) {
    List<String> args = new ArrayList<>(List.of(
        "--catalog=" + catalog, "--outputPrefix=" + outputs, "--resultsPrefix=" + root.resolve(results) + "/"));
    if (java.util.Arrays.stream(extra).noneMatch(a -> a.startsWith("--layerCacheDir="))) {
      // The layer cache is on by default; one per fixture, so no run sees another test's layers.
      args.add("--layerCacheDir=" + root.resolve("layer-cache"));
    }
    args.addAll(List.of(extra));
    return args.toArray(String[]::new);
  }

  /** The default output of a reference (what a line without "output" gets). */
  String defaultOutput(String image) {
    return defaultOutput(image, OutputFormat.TAR);
  }

  String defaultOutput(String image, OutputFormat format) {
    return OutputNames.defaultOutput(outputs.toString(), image, "linux/amd64", format);
  }

  /** Renders {@code image} to tar with the single-image renderer, as the CLI does. */
  byte[] renderAlone(String image) throws IOException {
    return renderAlone(image, OutputFormat.TAR);
  }

  byte[] renderAlone(String image, OutputFormat format) throws IOException {
    Path out = Files.createTempFile(root, "alone", "." + format.cliName());
    try (ImageSource source = ImageSources.open(image)) {
      new Renderer().renderToFile(source, Platform.LINUX_AMD64, format, out);
    }
    return Files.readAllBytes(out);
  }

  /** Renders {@code image} to a tar file at {@code out} with the single-image renderer, as the CLI does, and returns its bytes. */
  static byte[] renderAloneTo(Path out, String image) throws IOException {
    try (ImageSource source = ImageSources.open(image)) {
      new Renderer().renderToFile(source, Platform.LINUX_AMD64, OutputFormat.TAR, out);
    }
    return Files.readAllBytes(out);
  }

  /** Every JSON line of the files {@code prefix*} in {@code dir}. */
  static List<JsonNode> readRecords(Path dir, String prefix) throws IOException {
    List<JsonNode> out = new ArrayList<>();
    try (Stream<Path> files = Files.list(dir)) {
      for (Path f : files.filter(p -> p.getFileName().toString().startsWith(prefix)).sorted().toList()) {
        for (String line : Files.readAllLines(f)) {
          if (!line.isBlank()) {
            out.add(JSON.readTree(line));
          }
        }
      }
    }
    return out;
  }

  /**
   * Records keyed by line number, without the fields that measure time (which differ run to run) and
   * {@code bytesFetched}, which depends on which layers the worker's layer cache held already (the
   * first of two images sharing a layer fetches it, and which one is first is up to the runner).
   */
  static Map<Long, String> comparable(List<JsonNode> records) {
    Map<Long, String> out = new TreeMap<>();
    for (JsonNode n : records) {
      ObjectNode copy = n.deepCopy();
      copy.remove(List.of("resolveMillis", "renderMillis", "stackTrace", "bytesFetched"));
      if (out.put(n.get("line").asLong(), copy.toString()) != null) {
        throw new AssertionError("two records for line " + n.get("line"));
      }
    }
    return out;
  }

  /** The committed (or, where a runner has none, attempted) counters of the ocirender namespace. */
  static Map<String, Long> counters(PipelineResult result) {
    MetricQueryResults q = result.metrics().queryMetrics(MetricsFilter.builder()
        .addNameFilter(MetricNameFilter.inNamespace(PipelineMetrics.NAMESPACE)).build());
    Map<String, Long> out = new TreeMap<>();
    for (MetricResult<Long> c : q.getCounters()) {
      out.merge(c.getName().getName(), attempted(c), Long::sum);
    }
    for (var d : q.getDistributions()) {
      out.merge(d.getName().getName() + ".count", d.getAttempted().getCount(), Long::sum);
    }
    return out;
  }

  private static long attempted(MetricResult<Long> c) {
    try {
      return c.getCommitted();
    } catch (UnsupportedOperationException e) {
      return c.getAttempted();
    }
  }

  static String json(String... pairs) {
    ObjectNode n = JSON.createObjectNode();
    for (int i = 0; i < pairs.length; i += 2) {
      n.put(pairs[i], pairs[i + 1]);
    }
    return n.toString();
  }

  private static void corruptOneByte(ImageBuilder.Layout layout) throws IOException {
    Digest digest = layout.layers().get(0).descriptor().digest();
    Path blob = layout.dir().resolve("blobs/sha256/" + digest.hex());
    byte[] bytes = Files.readAllBytes(blob);
    bytes[700] ^= 0x01; // inside the file's content, so the tar still parses and only the digest is wrong
    Files.write(blob, bytes);
  }

  /** A {@code docker save} directory with uncompressed layers, for the docker-archive transport. */
  private static void writeDockerArchive(Path dir, LayerBuilder... layers) throws IOException {
    Files.createDirectories(dir);
    List<String> diffIds = new ArrayList<>();
    List<String> paths = new ArrayList<>();
    for (int i = 0; i < layers.length; i++) {
      byte[] tar = layers[i].tar();
      Digest d = Digest.sha256Of(tar);
      Path layerDir = Files.createDirectories(dir.resolve("layer" + i));
      Files.write(layerDir.resolve("layer.tar"), tar);
      diffIds.add(d.toString());
      paths.add("layer" + i + "/layer.tar");
    }
    Map<String, Object> config = new LinkedHashMap<>();
    config.put("architecture", "amd64");
    config.put("os", "linux");
    config.put("rootfs", Map.of("type", "layers", "diff_ids", diffIds));
    byte[] configBytes = JSON.writeValueAsBytes(config);
    String configName = Digest.sha256Of(configBytes).hex() + ".json";
    Files.write(dir.resolve(configName), configBytes);
    Map<String, Object> entry = new LinkedHashMap<>();
    entry.put("Config", configName);
    entry.put("RepoTags", List.of("example/c:latest"));
    entry.put("Layers", paths);
    Files.write(dir.resolve("manifest.json"), JSON.writeValueAsBytes(List.of(entry)));
  }

  static String text(Path p) {
    try {
      return Files.readString(p, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
