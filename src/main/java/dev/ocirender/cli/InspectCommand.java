package dev.ocirender.cli;

import dev.ocirender.image.Messages;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ocirender.image.Descriptor;
import dev.ocirender.image.Platform;
import dev.ocirender.layer.LayerBlob;
import dev.ocirender.layer.inflate.GzipDecoding;
import dev.ocirender.render.RenderException;
import dev.ocirender.source.ImageSource;
import dev.ocirender.source.ResolvedImage;
import java.io.IOException;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code ocirender inspect SOURCE}: what {@code render} would read, without reading any layer:
 * the chosen manifest, its platform, the config and the layers in order (oldest first). Reads only
 * the index, manifest and config, so it is cheap even for huge images.
 */
@Command(
    name = "inspect",
    mixinStandardHelpOptions = true,
    description = "Show the manifest, config and layers that render would use for SOURCE.")
final class InspectCommand implements Callable<Integer> {

  @Spec CommandSpec spec;

  @Mixin RegistryFlags registry = new RegistryFlags();

  @Parameters(index = "0", paramLabel = "SOURCE", description = "oci:DIR[:TAG], oci:DIR@sha256:DIGEST, docker-archive:PATH or docker://IMAGE[:TAG|@DIGEST].")
  String source;

  @Option(names = "--platform", paramLabel = "OS/ARCH[/VARIANT]", defaultValue = "linux/amd64",
      converter = Converters.PlatformConverter.class, description = "Default: ${DEFAULT-VALUE}.")
  Platform platform;

  @Option(names = "--json", description = "Print JSON instead of a table.")
  boolean json;

  @Override
  public Integer call() throws IOException {
    ResolvedImage image;
    try (ImageSource s = registry.open(source)) {
      image = s.resolve(platform);
    } catch (IOException e) {
      throw new IOException(source + ": " + Messages.describe(e), e);
    }
    PrintWriter out = spec.commandLine().getOut();
    if (json) {
      ObjectMapper mapper = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
      out.println(mapper.writeValueAsString(toJson(mapper, image)));
    } else {
      printTable(out, image);
    }
    out.flush();
    return 0;
  }

  static ObjectNode toJson(ObjectMapper mapper, ResolvedImage image) {
    ObjectNode root = mapper.createObjectNode();
    root.put("reference", image.reference());
    root.set("manifest", descriptor(mapper, image.manifest()));
    ObjectNode p = root.putObject("platform");
    p.put("os", image.platform().os());
    p.put("architecture", image.platform().architecture());
    if (image.platform().variant() != null) {
      p.put("variant", image.platform().variant());
    }
    root.set("config", descriptor(mapper, image.config()));
    // Which decoder this machine gives gzip layers: ISA-L or the JDK's (see GzipDecoding).
    root.put("gzipDecoder", GzipDecoding.describe());
    ArrayNode layers = root.putArray("layers");
    for (LayerBlob layer : image.layers()) {
      ObjectNode l = descriptor(mapper, layer.descriptor());
      layers.add(mapper.createObjectNode().put("index", layer.index()).setAll(l));
    }
    return root;
  }

  private static ObjectNode descriptor(ObjectMapper mapper, Descriptor d) {
    ObjectNode n = mapper.createObjectNode();
    n.put("mediaType", d.mediaType());
    n.put("digest", d.digest().toString());
    n.put("size", d.size());
    return n;
  }

  private static void printTable(PrintWriter out, ResolvedImage image) {
    out.println("reference  " + image.reference());
    out.println("manifest   " + image.manifest().digest() + "  " + image.manifest().mediaType());
    out.println("platform   " + image.platform());
    out.println("config     " + image.config().digest() + "  " + image.config().mediaType());
    out.println("gzip       " + GzipDecoding.describe());
    out.println("layers     " + image.layers().size());
    int typeWidth = "MEDIA TYPE".length();
    int sizeWidth = "SIZE".length();
    for (LayerBlob l : image.layers()) {
      typeWidth = Math.max(typeWidth, String.valueOf(l.descriptor().mediaType()).length());
      sizeWidth = Math.max(sizeWidth, Long.toString(l.descriptor().size()).length());
    }
    String row = "  %-5s  %-" + typeWidth + "s  %" + sizeWidth + "s  %s%n";
    out.printf(row, "INDEX", "MEDIA TYPE", "SIZE", "DIGEST");
    for (LayerBlob l : image.layers()) {
      out.printf(row, l.index(), l.descriptor().mediaType(), l.descriptor().size(), l.descriptor().digest());
    }
  }
}
