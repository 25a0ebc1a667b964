package dev.ocirender.layer;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ocirender.image.Digest;
import dev.ocirender.testing.ImageBuilder;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes a one-layer OCI image layout around a layer blob given byte for byte, including blobs that
 * {@link dev.ocirender.testing.LayerBuilder} cannot make on purpose (malformed headers, odd PAX
 * records, zstd skippable frames). The layout has the same shape as {@link ImageBuilder}'s.
 */
final class RawLayerImage {

  private static final ObjectMapper JSON = new ObjectMapper();

  private RawLayerImage() {}

  /** Writes the layout into {@code dir}; returns the {@code oci:DIR:latest} reference. */
  static String write(Path dir, byte[] blob, String mediaType, byte[] uncompressedTar) throws IOException {
    Path blobs = Files.createDirectories(dir.resolve("blobs").resolve("sha256"));
    Files.write(blobs.resolve(Digest.sha256Of(blob).hex()), blob);
    Map<String, Object> config = new LinkedHashMap<>();
    config.put("architecture", "amd64");
    config.put("os", "linux");
    config.put("rootfs", Map.of("type", "layers", "diff_ids", List.of(Digest.sha256Of(uncompressedTar).toString())));
    byte[] configBytes = JSON.writeValueAsBytes(config);
    Files.write(blobs.resolve(Digest.sha256Of(configBytes).hex()), configBytes);
    Map<String, Object> manifest = new LinkedHashMap<>();
    manifest.put("schemaVersion", 2);
    manifest.put("mediaType", ImageBuilder.MANIFEST_MEDIA_TYPE);
    manifest.put("config", descriptor(ImageBuilder.CONFIG_MEDIA_TYPE, configBytes));
    manifest.put("layers", List.of(descriptor(mediaType, blob)));
    byte[] manifestBytes = JSON.writeValueAsBytes(manifest);
    Files.write(blobs.resolve(Digest.sha256Of(manifestBytes).hex()), manifestBytes);
    Map<String, Object> entry = descriptor(ImageBuilder.MANIFEST_MEDIA_TYPE, manifestBytes);
    entry.put("annotations", Map.of(ImageBuilder.REF_NAME, "latest"));
    Map<String, Object> index = new LinkedHashMap<>();
    index.put("schemaVersion", 2);
    index.put("mediaType", ImageBuilder.INDEX_MEDIA_TYPE);
    index.put("manifests", List.of(entry));
    Files.write(dir.resolve("index.json"), JSON.writeValueAsBytes(index));
    Files.write(dir.resolve("oci-layout"), JSON.writeValueAsBytes(Map.of("imageLayoutVersion", "1.0.0")));
    return "oci:" + dir + ":latest";
  }

  private static Map<String, Object> descriptor(String mediaType, byte[] content) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("mediaType", mediaType);
    m.put("digest", Digest.sha256Of(content).toString());
    m.put("size", content.length);
    return m;
  }
}
