package dev.ocirender.source;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ocirender.image.Descriptor;
import dev.ocirender.image.Digest;
import dev.ocirender.image.Platform;
import dev.ocirender.image.VerifyingInputStream;
import dev.ocirender.image.json.ImageConfigTemplate;
import dev.ocirender.layer.LayerBlob;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * STUB (h-cli): just enough of {@code oci:DIR[:TAG]} (single-level index, no nested indexes, no
 * docker-archive) for the CLI's own tests to run before the source work lands. Replaced at merge.
 */
public final class ImageSources {
  private static final ObjectMapper JSON = new ObjectMapper();

  private ImageSources() {}

  public static ImageSource open(String spec) throws IOException {
    int colon = spec.indexOf(':');
    String transport = colon < 0 ? "" : spec.substring(0, colon);
    if (!transport.equals("oci")) {
      throw new IllegalArgumentException("unknown transport in '" + spec + "' (want oci:, docker-archive:)");
    }
    String rest = spec.substring(colon + 1);
    int tagColon = rest.lastIndexOf(':');
    Path dir = Path.of(tagColon < 0 ? rest : rest.substring(0, tagColon));
    String tag = tagColon < 0 ? null : rest.substring(tagColon + 1);
    return new StubOciLayout(spec, dir, tag);
  }

  private record StubOciLayout(String reference, Path dir, String tag) implements ImageSource {
    @Override
    public ResolvedImage resolve(Platform platform) throws IOException {
      JsonNode index = JSON.readTree(dir.resolve("index.json").toFile());
      for (JsonNode m : index.path("manifests")) {
        String name = m.path("annotations").path("org.opencontainers.image.ref.name").asText(null);
        JsonNode p = m.path("platform");
        Platform mp = p.isMissingNode() ? null : new Platform(p.path("os").asText(), p.path("architecture").asText(), p.path("variant").asText(null));
        if ((tag == null || tag.equals(name)) && (mp == null || platform.matches(mp))) {
          Descriptor manifest = descriptor(m);
          JsonNode mj = JSON.readTree(readAll(manifest));
          Descriptor config = descriptor(mj.path("config"));
          List<LayerBlob> layers = new ArrayList<>();
          for (JsonNode l : mj.path("layers")) {
            Descriptor d = descriptor(l);
            layers.add(new LayerBlob(layers.size(), d, null, () -> openBlob(d)));
          }
          return new ResolvedImage(reference, manifest, platform, config, new ImageConfigTemplate(), layers);
        }
      }
      throw new IOException("no manifest for " + platform + " in " + reference);
    }

    private byte[] readAll(Descriptor d) throws IOException {
      try (InputStream in = openBlob(d)) {
        return in.readAllBytes();
      }
    }

    private static Descriptor descriptor(JsonNode n) {
      return new Descriptor(n.path("mediaType").asText(), Digest.parse(n.path("digest").asText()), n.path("size").asLong());
    }

    @Override
    public InputStream openBlob(Descriptor d) throws IOException {
      Path blob = dir.resolve("blobs").resolve(d.digest().algorithm()).resolve(d.digest().hex());
      return new VerifyingInputStream(Files.newInputStream(blob), d.digest(), d.size(), "blob " + d.digest() + " in " + reference);
    }

    @Override
    public void close() {}
  }
}
