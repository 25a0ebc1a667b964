package dev.ocirender.image.json;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.io.StringWriter;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Typed reads of one JSON document over jackson-core's streaming parser, for the templates' own
 * {@code read} methods.
 *
 * <p>Why not databind: building an {@code ObjectMapper} and a bean deserializer per template costs
 * a CLI process about 100 ms (some 500 classes, annotation introspection, date-format and locale
 * set-up), a fifth of rendering a small image. The templates are small and fixed, so each reads its
 * own fields here, with the rules databind applied to them: unknown fields are skipped, JSON null
 * is an absent value, scalars are accepted where a string is expected, integral floats where an
 * integer is, and anything else of the wrong type is an error that names the field and its
 * position. Nothing here recurses on the input: unknown values are skipped by the parser, which
 * also bounds the nesting depth.
 */
final class TemplateParser {

  /** Reads one value (or returns null for JSON null) with the parser on its first token. */
  @FunctionalInterface
  interface ValueReader<T> {
    T read(TemplateParser p, String what) throws IOException;
  }

  private final JsonParser parser;

  TemplateParser(JsonParser parser) {
    this.parser = parser;
  }

  /**
   * At the start of a value: true for an object (then read its fields with {@link #nextField}),
   * false for JSON null; anything else is an error naming {@code what}.
   */
  boolean beginObject(String what) throws IOException {
    JsonToken t = parser.currentToken();
    if (t == JsonToken.VALUE_NULL) {
      return false;
    }
    if (t != JsonToken.START_OBJECT) {
      throw typeError(what, "an object");
    }
    return true;
  }

  /** The next field's name with the parser on its value, or null at the end of the object. */
  String nextField() throws IOException {
    if (parser.nextToken() == JsonToken.END_OBJECT) {
      return null;
    }
    // Inside an object the parser only ever yields a field name or the end.
    String name = parser.currentName();
    parser.nextToken();
    return name;
  }

  /** Skips the current value, however deep (an unknown field's). */
  void skip() throws IOException {
    parser.skipChildren();
  }

  String string(String what) throws IOException {
    return switch (parser.currentToken()) {
      case VALUE_STRING, VALUE_NUMBER_INT, VALUE_NUMBER_FLOAT, VALUE_TRUE, VALUE_FALSE -> parser.getText();
      case VALUE_NULL -> null;
      default -> throw typeError(what, "a string");
    };
  }

  Long integer(String what) throws IOException {
    return switch (parser.currentToken()) {
      case VALUE_NUMBER_INT -> parser.getLongValue(); // out of range: the parser's own error
      case VALUE_NUMBER_FLOAT -> integral(parser.getDecimalValue(), what);
      case VALUE_NULL -> null;
      default -> throw typeError(what, "an integer");
    };
  }

  Integer int32(String what) throws IOException {
    Long value = integer(what);
    if (value != null && value != value.intValue()) {
      throw typeError(what, "a 32-bit integer");
    }
    return value == null ? null : value.intValue();
  }

  private long integral(BigDecimal value, String what) throws IOException {
    try {
      return value.longValueExact();
    } catch (ArithmeticException e) {
      throw typeError(what, "an integer");
    }
  }

  Boolean bool(String what) throws IOException {
    return switch (parser.currentToken()) {
      case VALUE_TRUE -> Boolean.TRUE;
      case VALUE_FALSE -> Boolean.FALSE;
      case VALUE_NULL -> null;
      default -> throw typeError(what, "true or false");
    };
  }

  /** An array of values read by {@code element} (null elements stay null), or null for JSON null. */
  <T> List<T> list(String what, ValueReader<T> element) throws IOException {
    JsonToken t = parser.currentToken();
    if (t == JsonToken.VALUE_NULL) {
      return null;
    }
    if (t != JsonToken.START_ARRAY) {
      throw typeError(what, "an array");
    }
    List<T> out = new ArrayList<>();
    String elementWhat = what + "[]";
    while (parser.nextToken() != JsonToken.END_ARRAY) {
      out.add(element.read(this, elementWhat));
    }
    return out;
  }

  List<String> strings(String what) throws IOException {
    return list(what, TemplateParser::string);
  }

  /** An object of string values, in document order, or null for JSON null. */
  Map<String, String> stringMap(String what) throws IOException {
    if (!beginObject(what)) {
      return null;
    }
    Map<String, String> out = new LinkedHashMap<>();
    for (String name; (name = nextField()) != null; ) {
      out.put(name, string(what + "." + name));
    }
    return out;
  }

  /** The field names of an object whose values do not matter (a set written as an object). */
  List<String> keys(String what) throws IOException {
    if (!beginObject(what)) {
      return null;
    }
    List<String> out = new ArrayList<>();
    for (String name; (name = nextField()) != null; ) {
      out.add(name);
      skip();
    }
    return out;
  }

  /** The current value as compact JSON text (kept, not interpreted). */
  String rawJson() throws IOException {
    StringWriter out = new StringWriter();
    try (JsonGenerator g = JsonTemplates.FACTORY.createGenerator(out)) {
      g.copyCurrentStructure(parser);
    }
    return out.toString();
  }

  private JsonParseException typeError(String what, String expected) {
    return new JsonParseException(parser, "expected " + expected + " for '" + what + "', found "
        + describe(parser.currentToken()), parser.currentTokenLocation());
  }

  private static String describe(JsonToken t) {
    if (t == null) {
      return "the end of the document";
    }
    return switch (t) {
      case START_OBJECT -> "an object";
      case START_ARRAY -> "an array";
      case VALUE_STRING -> "a string";
      case VALUE_NUMBER_INT, VALUE_NUMBER_FLOAT -> "a number";
      case VALUE_TRUE, VALUE_FALSE -> "a boolean";
      case VALUE_NULL -> "null";
      default -> t.name();
    };
  }
}
