package dev.ocirender.source.layout;

import dev.ocirender.image.Digest;
import dev.ocirender.image.Platform;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;

/**
 * Builds {@code docker save} archives for tests, in each layout that tools write, as a directory or
 * as a tar file. Layer "tars" are arbitrary bytes whose sha256 is used as their diff ID.
 */
final class DockerArchiveFixture {

  enum Layout {
    /** Classic docker save: {@code <id>/layer.tar}, config {@code <hex>.json}. */
    LEGACY,
    /** skopeo: {@code <hex>.tar}, referenced through {@code <id>/layer.tar} symlinks. */
    LINKED,
    /** Docker 25+: {@code blobs/sha256/<hex>} for configs and layers, plus an OCI index.json. */
    BLOBS
  }

  record Image(List<String> repoTags, Platform platform, List<String> layers) {
    static Image of(String tag, Platform platform, String... layers) {
      return new Image(tag == null ? List.of() : List.of(tag), platform, List.of(layers));
    }
  }

  final Map<String, byte[]> files = new LinkedHashMap<>();
  final Map<String, String> symlinks = new LinkedHashMap<>();
  final List<Map<String, Object>> manifest = new ArrayList<>();

  DockerArchiveFixture(Layout layout, Image... images) {
    for (Image image : images) {
      add(layout, image);
    }
    files.put("manifest.json", json(manifest));
  }

  private void add(Layout layout, Image image) {
    List<String> diffIds = new ArrayList<>();
    List<String> layerPaths = new ArrayList<>();
    for (int i = 0; i < image.layers().size(); i++) {
      byte[] content = image.layers().get(i).getBytes(StandardCharsets.UTF_8);
      Digest diffId = Digest.sha256Of(content);
      diffIds.add(diffId.toString());
      String v1Id = Digest.sha256Of((diffId + "/" + i).getBytes(StandardCharsets.UTF_8)).hex();
      switch (layout) {
        case LEGACY -> {
          files.put(v1Id + "/layer.tar", content);
          files.put(v1Id + "/VERSION", "1.0".getBytes(StandardCharsets.UTF_8));
          layerPaths.add(v1Id + "/layer.tar");
        }
        case LINKED -> {
          files.put(diffId.hex() + ".tar", content);
          symlinks.put(v1Id + "/layer.tar", "../" + diffId.hex() + ".tar");
          layerPaths.add(v1Id + "/layer.tar");
        }
        case BLOBS -> {
          files.put("blobs/sha256/" + diffId.hex(), content);
          layerPaths.add("blobs/sha256/" + diffId.hex());
        }
      }
    }
    Map<String, Object> config = new LinkedHashMap<>();
    if (image.platform() != null) {
      config.put("architecture", image.platform().architecture());
      config.put("os", image.platform().os());
    }
    config.put("rootfs", Map.of("type", "layers", "diff_ids", diffIds));
    byte[] configBytes = json(config);
    String configPath = layout == Layout.BLOBS
        ? "blobs/sha256/" + Digest.sha256Of(configBytes).hex()
        : Digest.sha256Of(configBytes).hex() + ".json";
    files.put(configPath, configBytes);
    if (layout == Layout.BLOBS) {
      files.put("oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}".getBytes(StandardCharsets.UTF_8));
      files.put("index.json", "{\"schemaVersion\":2,\"manifests\":[]}".getBytes(StandardCharsets.UTF_8));
    }
    Map<String, Object> entry = new LinkedHashMap<>();
    entry.put("Config", configPath);
    entry.put("RepoTags", image.repoTags());
    entry.put("Layers", layerPaths);
    manifest.add(entry);
  }

  /** The path of the config of image {@code i}, as manifest.json names it. */
  String configPath(int i) {
    return (String) manifest.get(i).get("Config");
  }

  @SuppressWarnings("unchecked")
  String layerPath(int image, int layer) {
    return ((List<String>) manifest.get(image).get("Layers")).get(layer);
  }

  DockerArchiveFixture replace(String name, byte[] content) {
    files.put(name, content);
    return this;
  }

  DockerArchiveFixture manifestJson(String json) {
    files.put("manifest.json", json.getBytes(StandardCharsets.UTF_8));
    return this;
  }

  Path writeDir(Path dir) throws IOException {
    Files.createDirectories(dir);
    for (Map.Entry<String, byte[]> f : files.entrySet()) {
      Path p = dir.resolve(f.getKey());
      Files.createDirectories(p.getParent());
      Files.write(p, f.getValue());
    }
    for (Map.Entry<String, String> l : symlinks.entrySet()) {
      Path p = dir.resolve(l.getKey());
      Files.createDirectories(p.getParent());
      Files.createSymbolicLink(p, Path.of(l.getValue()));
    }
    return dir;
  }

  Path writeTar(Path tar) throws IOException {
    Files.createDirectories(tar.toAbsolutePath().getParent());
    try (OutputStream out = Files.newOutputStream(tar);
        TarArchiveOutputStream tarOut = new TarArchiveOutputStream(out)) {
      tarOut.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
      tarOut.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
      for (Map.Entry<String, byte[]> f : files.entrySet()) {
        TarArchiveEntry e = new TarArchiveEntry(f.getKey());
        e.setSize(f.getValue().length);
        tarOut.putArchiveEntry(e);
        tarOut.write(f.getValue());
        tarOut.closeArchiveEntry();
      }
      for (Map.Entry<String, String> l : symlinks.entrySet()) {
        TarArchiveEntry e = new TarArchiveEntry(l.getKey(), TarConstants.LF_SYMLINK);
        e.setLinkName(l.getValue());
        tarOut.putArchiveEntry(e);
        tarOut.closeArchiveEntry();
      }
    }
    return tar;
  }

  Path write(Path base, boolean asTar) throws IOException {
    return asTar ? writeTar(base.resolveSibling(base.getFileName() + ".tar")) : writeDir(base);
  }

  private static byte[] json(Object value) {
    try {
      return OciLayoutFixture.JSON.writeValueAsBytes(value);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }
}
