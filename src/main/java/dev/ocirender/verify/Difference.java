package dev.ocirender.verify;

import dev.ocirender.layer.EntryPath;

/**
 * One difference: a path only in the candidate ({@link Kind#ADDED}), only in the reference
 * ({@link Kind#REMOVED}), or a field whose values differ ({@link Kind#CHANGED}; field and both
 * values as text).
 */
public record Difference(Kind kind, EntryPath path, String field, String candidate, String reference) {

  public enum Kind { ADDED, REMOVED, CHANGED }

  /** {@code + path}, {@code - path} or {@code ~ path: field candidate != reference}. */
  public String line() {
    return switch (kind) {
      case ADDED -> "+ " + display(path);
      case REMOVED -> "- " + display(path);
      case CHANGED -> "~ " + display(path) + ": " + field + " " + candidate + " != " + reference;
    };
  }

  static String display(EntryPath p) {
    return p.isRoot() ? "/" : p.toString();
  }
}
