package dev.ocirender.pipeline;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ocirender.image.Platform;
import dev.ocirender.render.OutputFormat;
import dev.ocirender.render.StoreRenderTarget;
import dev.ocirender.store.OutputStores;
import java.io.Serializable;
import java.util.Iterator;
import java.util.Set;

/**
 * Parses one catalog line into an {@link ImageRequest}, filling in the defaults.
 *
 * <p>A line is either a JSON object with {@code image} (required) and optional {@code platform},
 * {@code format}, {@code output}, or a bare image reference. Blank lines and lines starting with
 * {@code #} are not image lines ({@link #isImageLine}). Everything else that does not parse, names
 * an unknown field, or asks for a format that cannot be written to its output is rejected with an
 * {@link IllegalArgumentException} whose message is meant for the dead-letter record. It does not
 * look at the image itself: resolving happens later, in parallel.
 */
public final class CatalogParser implements Serializable {
  private static final long serialVersionUID = 1L;

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Set<String> FIELDS = Set.of("image", "platform", "format", "output");

  private final String outputPrefix;
  private final String defaultPlatform;
  private final String defaultFormat;

  /** @throws IllegalArgumentException when a default itself is invalid */
  public CatalogParser(String outputPrefix, String defaultPlatform, String defaultFormat) {
    this.outputPrefix = outputPrefix;
    this.defaultPlatform = Platform.parse(defaultPlatform).toString();
    this.defaultFormat = format(defaultFormat).cliName();
  }

  public static boolean isImageLine(String text) {
    String t = text.strip();
    return !t.isEmpty() && !t.startsWith("#");
  }

  public ImageRequest parse(String catalog, long line, String text) {
    String t = text.strip();
    String image;
    String platform = defaultPlatform;
    String formatName = defaultFormat;
    String output = null;
    if (t.startsWith("{")) {
      JsonNode node;
      try {
        node = JSON.readTree(t);
      } catch (JsonProcessingException e) {
        throw new IllegalArgumentException("not valid JSON: " + e.getOriginalMessage(), e);
      }
      for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
        String f = it.next();
        if (!FIELDS.contains(f)) {
          throw new IllegalArgumentException("unknown field '" + f + "' (known: image, platform, format, output)");
        }
      }
      image = text(node, "image");
      if (image == null) {
        throw new IllegalArgumentException("no \"image\" field");
      }
      String p = text(node, "platform");
      if (p != null) {
        platform = Platform.parse(p).toString();
      }
      String f = text(node, "format");
      if (f != null) {
        formatName = f;
      }
      output = text(node, "output");
    } else {
      if (t.contains(" ") || t.contains("\t")) {
        throw new IllegalArgumentException("a plain line must hold one image reference and nothing else");
      }
      image = t;
    }
    if (!image.contains(":")) {
      throw new IllegalArgumentException("'" + image + "' is not an image reference (want docker://…, oci:…, docker-archive:…)");
    }
    OutputFormat format = format(formatName);
    if (output == null) {
      output = OutputNames.defaultOutput(outputPrefix, image, platform, format);
    }
    StoreRenderTarget.checkWritable(format, output, OutputStores.isLocal(output));
    return new ImageRequest(catalog, line, text, image, platform, format.cliName(), output);
  }

  /** A format by name; unlike {@link OutputFormat#parse}, planned formats are returned too (the target refuses them with its own message). */
  static OutputFormat format(String name) {
    for (OutputFormat f : OutputFormat.values()) {
      if (f.cliName().equalsIgnoreCase(name.strip())) {
        return f;
      }
    }
    return OutputFormat.parse(name); // throws the "unknown format" message
  }

  private static String text(JsonNode node, String field) {
    JsonNode v = node.get(field);
    if (v == null || v.isNull()) {
      return null;
    }
    if (!v.isTextual() || v.asText().isBlank()) {
      throw new IllegalArgumentException("\"" + field + "\" must be a non-empty string");
    }
    return v.asText().strip();
  }
}
