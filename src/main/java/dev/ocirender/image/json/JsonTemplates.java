package dev.ocirender.image.json;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.Collection;
import java.util.List;
import java.util.Map;

/**
 * The one place that turns image JSON into templates and back, so that every template is read with
 * the same lenient-but-typed settings.
 *
 * <p>Unknown properties are ignored (the specs add fields over time and tools add their own); wrong
 * types, syntax errors and trailing content are not. It does not validate meaning (digests, sizes):
 * that happens when a template is converted to the value types in {@code dev.ocirender.image}.
 *
 * <p>The templates read and write themselves over jackson-core's streaming API (see
 * {@link TemplateParser} for why); databind is used only for documents read as a tree
 * ({@code JsonNode}: registry errors, tokens, credentials, blobs of unknown shape), and only built
 * when one is first read.
 */
public final class JsonTemplates {

  static final JsonFactory FACTORY = new JsonFactory();

  /** Databind, for trees only; a holder so that a render that reads none never builds it. */
  private static final class Databind {
    static final ObjectMapper MAPPER = JsonMapper.builder()
        .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
        .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
        .build();
  }

  private JsonTemplates() {}

  /**
   * Parses {@code json} as {@code type}: one of the templates in this package (or an array of
   * {@link DockerArchiveManifestTemplate}), or any type databind can read, such as {@code JsonNode}.
   *
   * @throws IOException Jackson's own exception for syntax and type errors (its message says where),
   *     or {@link MalformedTemplateException} when the document is {@code null} rather than an object
   */
  public static <T> T read(byte[] json, Class<T> type) throws IOException {
    TemplateParser.ValueReader<?> reader = templateReader(type);
    Object value;
    if (reader == null) {
      value = Databind.MAPPER.readValue(json, type);
    } else {
      try (JsonParser parser = FACTORY.createParser(json)) {
        if (parser.nextToken() == null) {
          throw new JsonParseException(parser, "empty document, expected a JSON value");
        }
        value = reader.read(new TemplateParser(parser), "document");
        if (parser.nextToken() != null) {
          throw new JsonParseException(parser, "trailing content after the JSON value");
        }
      }
    }
    if (value == null) {
      throw new MalformedTemplateException("expected a JSON object, got null");
    }
    return type.cast(value);
  }

  private static TemplateParser.ValueReader<?> templateReader(Class<?> type) {
    if (type == IndexTemplate.class) {
      return IndexTemplate::read;
    } else if (type == ManifestTemplate.class) {
      return ManifestTemplate::read;
    } else if (type == ImageConfigTemplate.class) {
      return ImageConfigTemplate::read;
    } else if (type == DescriptorTemplate.class) {
      return DescriptorTemplate::read;
    } else if (type == OciLayoutTemplate.class) {
      return OciLayoutTemplate::read;
    } else if (type == DockerArchiveManifestTemplate[].class) {
      return (p, what) -> {
        List<DockerArchiveManifestTemplate> images = p.list(what, DockerArchiveManifestTemplate::read);
        return images == null ? null : images.toArray(DockerArchiveManifestTemplate[]::new);
      };
    }
    return null;
  }

  /** Serialises a manifest compactly, fields in a fixed order (so the bytes, and their digest, are stable). */
  public static byte[] write(ManifestTemplate manifest) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (JsonGenerator g = FACTORY.createGenerator(out)) {
      manifest.write(g);
    } catch (IOException e) {
      // Writing strings and numbers to memory: this cannot happen.
      throw new IllegalStateException("serialising a manifest", e);
    }
    return out.toByteArray();
  }

  /** Writes a string field unless it is null or empty (databind's NON_EMPTY, which the bytes were made with). */
  static void writeIfNotEmpty(JsonGenerator g, String name, String value) throws IOException {
    if (value != null && !value.isEmpty()) {
      g.writeStringField(name, value);
    }
  }

  static void writeIfNotEmpty(JsonGenerator g, String name, Collection<String> values) throws IOException {
    if (values != null && !values.isEmpty()) {
      g.writeArrayFieldStart(name);
      for (String v : values) {
        g.writeString(v);
      }
      g.writeEndArray();
    }
  }

  static void writeIfNotEmpty(JsonGenerator g, String name, Map<String, String> values) throws IOException {
    if (values != null && !values.isEmpty()) {
      g.writeObjectFieldStart(name);
      for (Map.Entry<String, String> e : values.entrySet()) {
        g.writeStringField(e.getKey(), e.getValue());
      }
      g.writeEndObject();
    }
  }

  /**
   * A one-line description of a parse failure for messages: Jackson's own message without the
   * source excerpt it appends, plus the line and column.
   */
  public static String describeError(IOException e) {
    if (e instanceof JsonProcessingException jpe) {
      JsonLocation where = jpe.getLocation();
      String message = jpe.getOriginalMessage().lines().findFirst().orElse("");
      return where == null ? message : message + " (line " + where.getLineNr() + ", column " + where.getColumnNr() + ")";
    }
    return e.getMessage();
  }
}
