package dev.ocirender.image.json;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;

/**
 * The one place that turns image JSON into templates and back, so that every template is read with
 * the same lenient-but-typed settings.
 *
 * <p>Unknown properties are ignored (the specs add fields over time and tools add their own); wrong
 * types and syntax errors are not. It does not validate meaning (digests, sizes): that happens when a
 * template is converted to the value types in {@code dev.ocirender.image}.
 */
public final class JsonTemplates {

  private static final ObjectMapper MAPPER = JsonMapper.builder()
      .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
      .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
      .build();

  private JsonTemplates() {}

  /**
   * Parses {@code json} as {@code type}.
   *
   * @throws IOException Jackson's own exception for syntax and type errors (its message says where),
   *     or {@link MalformedTemplateException} when the document is {@code null} rather than an object
   */
  public static <T> T read(byte[] json, Class<T> type) throws IOException {
    T value = MAPPER.readValue(json, type);
    if (value == null) {
      throw new MalformedTemplateException("expected a JSON object, got null");
    }
    return value;
  }

  /** Serialises a template compactly, fields in declaration order (so the bytes are stable). */
  public static byte[] write(Object template) {
    try {
      return MAPPER.writeValueAsBytes(template);
    } catch (IOException e) {
      // Templates are plain fields of strings, numbers, lists and maps; this cannot happen.
      throw new IllegalStateException("serialising " + template.getClass().getSimpleName(), e);
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
