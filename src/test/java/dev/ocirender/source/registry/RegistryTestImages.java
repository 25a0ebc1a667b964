package dev.ocirender.source.registry;

import static dev.ocirender.testing.LayerBuilder.layer;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ocirender.image.Descriptor;
import dev.ocirender.image.Digest;
import dev.ocirender.image.Platform;
import dev.ocirender.output.tar.TarEntrySink;
import dev.ocirender.render.Renderer;
import dev.ocirender.source.ImageSource;
import dev.ocirender.source.ImageSources;
import dev.ocirender.testing.ImageBuilder;
import dev.ocirender.testing.LayerBuilder;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/** Images for the registry tests, and rendering to tar bytes for comparisons. */
public final class RegistryTestImages {

  private static final ObjectMapper JSON = new ObjectMapper();

  private RegistryTestImages() {}

  /** A base image of two layers, a hard link, a whiteout and an opaque directory, with {@code salt} in the top layer. */
  public static ImageBuilder app(String salt) {
    return ImageBuilder.of(base(), baseTools(), layer()
        .dir("app", 0755)
        .file("app/main", "#!/bin/sh\necho " + salt + "\n", 0755)
        .hardlink("app/main-link", "app/main")
        .whiteout("etc/motd")
        .opaque("var/cache")
        .file("var/cache/new", salt, 0644));
  }

  static LayerBuilder base() {
    LayerBuilder l = layer().dir("etc", 0755).file("etc/motd", "hello\n", 0644).file("etc/os-release", "ID=test\n", 0644)
        .dir("var/cache", 0755).file("var/cache/old", "stale", 0644);
    // Some bulk, so that blobs take more than one read and a break mid-body has something to break.
    StringBuilder big = new StringBuilder();
    for (int i = 0; i < 40000; i++) {
      big.append("line ").append(i).append(" of the base layer's big file\n");
    }
    return l.dir("usr/share", 0755).file("usr/share/big.txt", big.toString(), 0644);
  }

  static LayerBuilder baseTools() {
    return layer().dir("usr/bin", 0755).file("usr/bin/tool", "tool v1\n", 0755).symlink("usr/bin/alias", "tool");
  }

  /**
   * Writes a layout whose tag {@code tag} is an OCI index of one image per platform (each built by
   * its builder), for {@code skopeo copy --all}.
   */
  static Path multiPlatformLayout(Path dir, String tag, Map<Platform, ImageBuilder> images) throws IOException {
    Path blobs = Files.createDirectories(dir.resolve("blobs/sha256"));
    List<Map<String, Object>> manifests = new ArrayList<>();
    int n = 0;
    for (Map.Entry<Platform, ImageBuilder> e : images.entrySet()) {
      Path single = dir.resolveSibling(dir.getFileName() + "-part" + n++);
      ImageBuilder.Layout layout = e.getValue().writeLayout(single);
      try (Stream<Path> files = Files.list(single.resolve("blobs/sha256"))) {
        for (Path f : (Iterable<Path>) files::iterator) {
          Path target = blobs.resolve(f.getFileName());
          if (!Files.exists(target)) {
            Files.copy(f, target);
          }
        }
      }
      Descriptor m = layout.manifest();
      Map<String, Object> entry = new LinkedHashMap<>();
      entry.put("mediaType", ImageBuilder.MANIFEST_MEDIA_TYPE);
      entry.put("digest", m.digest().toString());
      entry.put("size", m.size());
      Map<String, Object> p = new LinkedHashMap<>();
      p.put("architecture", e.getKey().architecture());
      p.put("os", e.getKey().os());
      if (e.getKey().variant() != null) {
        p.put("variant", e.getKey().variant());
      }
      entry.put("platform", p);
      manifests.add(entry);
    }
    // The per-platform configs all say amd64 (ImageBuilder's default); the index is what selects.
    Map<String, Object> index = new LinkedHashMap<>();
    index.put("schemaVersion", 2);
    index.put("mediaType", ImageBuilder.INDEX_MEDIA_TYPE);
    index.put("manifests", manifests);
    byte[] indexBytes = JSON.writeValueAsBytes(index);
    Digest indexDigest = Digest.sha256Of(indexBytes);
    Files.write(blobs.resolve(indexDigest.hex()), indexBytes);
    Map<String, Object> root = new LinkedHashMap<>();
    root.put("schemaVersion", 2);
    root.put("manifests", List.of(Map.of("mediaType", ImageBuilder.INDEX_MEDIA_TYPE, "digest", indexDigest.toString(),
        "size", indexBytes.length, "annotations", Map.of(ImageBuilder.REF_NAME, tag))));
    Files.write(dir.resolve("index.json"), JSON.writeValueAsBytes(root));
    Files.writeString(dir.resolve("oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}");
    return dir;
  }

  /** Renders {@code spec} for {@code platform} to tar bytes through the real renderer. */
  static byte[] renderTar(String spec, Platform platform, RegistryContext context) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (ImageSource source = ImageSources.open(spec, context)) {
      new Renderer().render(source, platform, () -> {
        out.reset();
        return new TarEntrySink(out);
      });
    }
    return out.toByteArray();
  }
}
