package dev.ocirender.testing;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.ocirender.image.Descriptor;
import dev.ocirender.image.Digest;
import dev.ocirender.layer.LayerBlob;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Turns test layers into an image: an OCI image layout directory (for source, CLI, umoci and
 * end-to-end tests) and, directly, the {@link LayerBlob}s the merge takes, so merge tests do not
 * depend on the source package.
 *
 * <p>Layers are given oldest first. The layout has {@code oci-layout}, an {@code index.json} whose one
 * manifest carries {@code org.opencontainers.image.ref.name}, the manifest, a config with
 * {@code rootfs.diff_ids}, and every blob under {@code blobs/sha256/}. Deliberately not here:
 * multi-platform indexes, Docker archives, and any invalid layout; tests that need those write them
 * themselves.
 */
public final class ImageBuilder {

  public static final String MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json";
  public static final String CONFIG_MEDIA_TYPE = "application/vnd.oci.image.config.v1+json";
  public static final String INDEX_MEDIA_TYPE = "application/vnd.oci.image.index.v1+json";
  public static final String REF_NAME = "org.opencontainers.image.ref.name";

  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  private record Layer(LayerBuilder builder, Compression compression) {}

  private final List<Layer> layers = new ArrayList<>();
  private String tag = "latest";

  private ImageBuilder() {}

  public static ImageBuilder image() {
    return new ImageBuilder();
  }

  /** An image of gzip layers, oldest first. */
  public static ImageBuilder of(LayerBuilder... layers) {
    ImageBuilder image = image();
    for (LayerBuilder l : layers) {
      image.layer(l);
    }
    return image;
  }

  /** Adds the next (newer) layer, gzip-compressed. */
  public ImageBuilder layer(LayerBuilder layer) {
    return layer(layer, Compression.GZIP);
  }

  public ImageBuilder layer(LayerBuilder layer, Compression compression) {
    layers.add(new Layer(layer, compression));
    return this;
  }

  public ImageBuilder tag(String value) {
    this.tag = value;
    return this;
  }

  /** The logical entries of each layer, oldest first: the input of {@link OverlayModel}. */
  public List<List<LayerBuilder.Entry>> logicalLayers() {
    List<List<LayerBuilder.Entry>> out = new ArrayList<>();
    for (Layer l : layers) {
      out.add(l.builder().entries());
    }
    return out;
  }

  /** What {@link #writeLayout} produced. */
  public record Layout(Path dir, String tag, Descriptor manifest, List<LayerBlob> layers) {}

  /** Writes an OCI image layout into {@code dir} (created if missing). */
  public Layout writeLayout(Path dir) throws IOException {
    Path blobs = dir.resolve("blobs").resolve("sha256");
    Files.createDirectories(blobs);
    List<LayerBlob> blobList = new ArrayList<>();
    List<Map<String, Object>> layerDescriptors = new ArrayList<>();
    List<String> diffIds = new ArrayList<>();
    for (int i = 0; i < layers.size(); i++) {
      Layer l = layers.get(i);
      byte[] tar = l.builder().tar();
      byte[] blob = l.compression().compress(tar);
      Descriptor d = new Descriptor(l.compression().mediaType(), Digest.sha256Of(blob), blob.length);
      Path file = writeBlob(blobs, blob);
      blobList.add(new LayerBlob(i, d, null, () -> Files.newInputStream(file)));
      layerDescriptors.add(descriptorJson(d));
      diffIds.add(Digest.sha256Of(tar).toString());
    }
    Map<String, Object> config = new LinkedHashMap<>();
    config.put("architecture", "amd64");
    config.put("os", "linux");
    config.put("config", Map.of());
    config.put("rootfs", Map.of("type", "layers", "diff_ids", diffIds));
    byte[] configBytes = JSON.writeValueAsBytes(config);
    writeBlob(blobs, configBytes);

    Map<String, Object> manifest = new LinkedHashMap<>();
    manifest.put("schemaVersion", 2);
    manifest.put("mediaType", MANIFEST_MEDIA_TYPE);
    manifest.put("config", descriptorJson(
        new Descriptor(CONFIG_MEDIA_TYPE, Digest.sha256Of(configBytes), configBytes.length)));
    manifest.put("layers", layerDescriptors);
    byte[] manifestBytes = JSON.writeValueAsBytes(manifest);
    writeBlob(blobs, manifestBytes);
    Descriptor manifestDescriptor = new Descriptor(MANIFEST_MEDIA_TYPE, Digest.sha256Of(manifestBytes),
        manifestBytes.length, null, Map.of(REF_NAME, tag));

    Map<String, Object> indexEntry = descriptorJson(manifestDescriptor);
    indexEntry.put("annotations", Map.of(REF_NAME, tag));
    indexEntry.put("platform", Map.of("architecture", "amd64", "os", "linux"));
    Map<String, Object> index = new LinkedHashMap<>();
    index.put("schemaVersion", 2);
    index.put("mediaType", INDEX_MEDIA_TYPE);
    index.put("manifests", List.of(indexEntry));
    Files.write(dir.resolve("index.json"), JSON.writeValueAsBytes(index));
    Files.write(dir.resolve("oci-layout"), JSON.writeValueAsBytes(Map.of("imageLayoutVersion", "1.0.0")));
    return new Layout(dir, tag, manifestDescriptor, List.copyOf(blobList));
  }

  /** The layers as in-memory blobs, oldest first: for merge tests that need no files. */
  public List<LayerBlob> inMemoryBlobs() {
    List<LayerBlob> out = new ArrayList<>();
    for (int i = 0; i < layers.size(); i++) {
      Layer l = layers.get(i);
      byte[] blob = l.builder().blob(l.compression());
      Descriptor d = new Descriptor(l.compression().mediaType(), Digest.sha256Of(blob), blob.length);
      out.add(new LayerBlob(i, d, null, () -> new ByteArrayInputStream(blob)));
    }
    return out;
  }

  private static Path writeBlob(Path blobs, byte[] content) throws IOException {
    Path file = blobs.resolve(Digest.sha256Of(content).hex());
    Files.write(file, content);
    return file;
  }

  private static Map<String, Object> descriptorJson(Descriptor d) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("mediaType", d.mediaType());
    m.put("digest", d.digest().toString());
    m.put("size", d.size());
    return m;
  }
}
