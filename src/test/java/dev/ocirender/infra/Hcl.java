package dev.ocirender.infra;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * A small reader for the subset of HCL that {@code terraform/} is written in, for structural tests:
 * blocks ({@code type "label" … { … }}), attributes ({@code name = expression}) and references
 * ({@code var.x}, {@code module.m.out}, {@code local.y}) found by regular expressions on the
 * comment-free text. Expressions are kept as text, not evaluated.
 *
 * <p>Why not Terraform itself: {@code terraform validate} and {@code terraform console} need the
 * providers, which {@code terraform init} downloads, and CI here has no internet. This is not an HCL
 * parser: heredocs ({@code <<EOF}) are refused rather than misread, and anything it cannot place
 * fails the test loudly. {@code terraform fmt -check} (which needs no providers) checks the syntax.
 */
final class Hcl {

  /** {@code name = expression}, the expression as written (comments removed). */
  record Attribute(String name, String expression) {}

  /** {@code type "label"... { body }}. */
  record Block(String type, List<String> labels, Body body) {
    String label(int i) {
      return labels.get(i);
    }
  }

  /** Attributes and nested blocks, in order. */
  record Body(Map<String, Attribute> attributes, List<Block> blocks) {
    Optional<String> attribute(String name) {
      return Optional.ofNullable(attributes.get(name)).map(Attribute::expression);
    }

    List<Block> blocks(String type) {
      return blocks.stream().filter(b -> b.type().equals(type)).toList();
    }
  }

  /** All .tf files of one directory: a Terraform module. */
  record Module(Path dir, String text, Body body) {
    List<Block> blocks(String type) {
      return body.blocks(type);
    }

    /** Names of {@code variable} blocks. */
    Set<String> variables() {
      return labels("variable");
    }

    Set<String> outputs() {
      return labels("output");
    }

    Set<String> labels(String type) {
      Set<String> out = new TreeSet<>();
      blocks(type).forEach(b -> out.add(b.label(0)));
      return out;
    }

    /** {@code resource "TYPE" "NAME"} blocks of one type. */
    List<Block> resources(String type) {
      return blocks("resource").stream().filter(b -> b.label(0).equals(type)).toList();
    }

    /** Names X of every {@code PREFIX.X} reference in the module's code. */
    Set<String> references(String prefix) {
      Set<String> out = new TreeSet<>();
      Matcher m = Pattern.compile("(?<![\\w.])" + Pattern.quote(prefix) + "\\.([A-Za-z_][\\w-]*)").matcher(text);
      while (m.find()) {
        out.add(m.group(1));
      }
      return out;
    }
  }

  private Hcl() {}

  static Module module(Path dir) throws IOException {
    StringBuilder text = new StringBuilder();
    List<Path> files;
    try (Stream<Path> s = Files.list(dir)) {
      files = s.filter(p -> p.toString().endsWith(".tf")).sorted().toList();
    }
    for (Path f : files) {
      text.append(stripComments(Files.readString(f), f)).append('\n');
    }
    String code = text.toString();
    return new Module(dir, code, parse(code));
  }

  /** The text with {@code #}, {@code //} and {@code /* *}{@code /} comments blanked, strings kept. */
  static String stripComments(String s, Path file) {
    if (s.contains("<<")) {
      throw new IllegalArgumentException(file + ": heredocs are outside what this reader understands");
    }
    StringBuilder out = new StringBuilder(s.length());
    int i = 0;
    while (i < s.length()) {
      char c = s.charAt(i);
      if (c == '"') {
        int end = endOfString(s, i);
        out.append(s, i, end);
        i = end;
      } else if (c == '#' || (c == '/' && i + 1 < s.length() && s.charAt(i + 1) == '/')) {
        while (i < s.length() && s.charAt(i) != '\n') {
          i++;
        }
      } else if (c == '/' && i + 1 < s.length() && s.charAt(i + 1) == '*') {
        int end = s.indexOf("*/", i + 2);
        if (end < 0) {
          throw new IllegalArgumentException(file + ": unterminated /* comment");
        }
        i = end + 2;
      } else {
        out.append(c);
        i++;
      }
    }
    return out.toString();
  }

  /** Index after the string literal starting at {@code start}, template interpolations included. */
  static int endOfString(String s, int start) {
    int i = start + 1;
    while (i < s.length()) {
      char c = s.charAt(i);
      if (c == '\\') {
        i += 2;
      } else if (c == '"') {
        return i + 1;
      } else if (c == '$' && i + 1 < s.length() && s.charAt(i + 1) == '{') {
        i = endOfBracketed(s, i + 1);
      } else {
        i++;
      }
    }
    throw new IllegalArgumentException("unterminated string at offset " + start);
  }

  /** Index after the bracket group opening at {@code open}, skipping strings inside it. */
  static int endOfBracketed(String s, int open) {
    int depth = 0;
    int i = open;
    while (i < s.length()) {
      char c = s.charAt(i);
      if (c == '"') {
        i = endOfString(s, i);
        continue;
      }
      if (c == '{' || c == '[' || c == '(') {
        depth++;
      } else if (c == '}' || c == ']' || c == ')') {
        depth--;
        if (depth == 0) {
          return i + 1;
        }
      }
      i++;
    }
    throw new IllegalArgumentException("unbalanced brackets from offset " + open);
  }

  static Body parse(String s) {
    Map<String, Attribute> attributes = new LinkedHashMap<>();
    List<Block> blocks = new ArrayList<>();
    int i = 0;
    while (true) {
      i = skipSpace(s, i, true);
      if (i >= s.length()) {
        return new Body(attributes, blocks);
      }
      int nameEnd = identifierEnd(s, i);
      if (nameEnd == i) {
        throw new IllegalArgumentException("expected a name at: " + excerpt(s, i));
      }
      String name = s.substring(i, nameEnd);
      int j = skipSpace(s, nameEnd, false);
      if (j < s.length() && s.charAt(j) == '=' && (j + 1 >= s.length() || s.charAt(j + 1) != '=')) {
        int end = endOfExpression(s, j + 1);
        attributes.put(name, new Attribute(name, s.substring(j + 1, end).strip()));
        i = end;
        continue;
      }
      List<String> labels = new ArrayList<>();
      while (j < s.length() && s.charAt(j) != '{') {
        if (s.charAt(j) == '"') {
          int end = endOfString(s, j);
          labels.add(s.substring(j + 1, end - 1));
          j = skipSpace(s, end, false);
        } else {
          int end = identifierEnd(s, j);
          if (end == j) {
            throw new IllegalArgumentException("expected a label or { at: " + excerpt(s, j));
          }
          labels.add(s.substring(j, end));
          j = skipSpace(s, end, false);
        }
      }
      if (j >= s.length()) {
        throw new IllegalArgumentException("block " + name + " has no body");
      }
      int close = endOfBracketed(s, j);
      blocks.add(new Block(name, labels, parse(s.substring(j + 1, close - 1))));
      i = close;
    }
  }

  /** An expression ends at a newline outside brackets and strings. */
  private static int endOfExpression(String s, int i) {
    while (i < s.length()) {
      char c = s.charAt(i);
      if (c == '\n') {
        return i;
      } else if (c == '"') {
        i = endOfString(s, i);
      } else if (c == '{' || c == '[' || c == '(') {
        i = endOfBracketed(s, i);
      } else {
        i++;
      }
    }
    return i;
  }

  private static int skipSpace(String s, int i, boolean newlines) {
    while (i < s.length() && (s.charAt(i) == ' ' || s.charAt(i) == '\t' || s.charAt(i) == '\r'
        || (newlines && s.charAt(i) == '\n'))) {
      i++;
    }
    return i;
  }

  private static int identifierEnd(String s, int i) {
    while (i < s.length() && (Character.isLetterOrDigit(s.charAt(i)) || s.charAt(i) == '_' || s.charAt(i) == '-')) {
      i++;
    }
    return i;
  }

  private static String excerpt(String s, int i) {
    return s.substring(i, Math.min(s.length(), i + 60)).replace('\n', ' ');
  }
}
