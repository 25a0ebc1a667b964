package dev.ocirender.pipeline;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ocirender.image.Messages;
import dev.ocirender.store.StoredOutput;
import java.io.PrintWriter;
import java.io.StringWriter;

/**
 * The two kinds of line the pipeline writes, as JSON with a fixed field order: a result per catalog
 * line that has an output ({@code status} rendered, skipped or duplicate), and a dead letter per
 * catalog line that failed, keeping the line as written, the stage, the error class, message and
 * stack trace.
 */
public final class Records {

  public static final String RENDERED = "rendered";
  public static final String SKIPPED = "skipped";
  public static final String DUPLICATE = "duplicate";

  private static final ObjectMapper JSON = new ObjectMapper();
  /** Longest message and stack trace kept in a dead letter, in characters. */
  static final int MAX_MESSAGE = 4096;
  static final int MAX_STACK_TRACE = 32 * 1024;

  private Records() {}

  /** What a render measured; zeros for skipped outputs. */
  public record RenderFacts(long entries, long layers, long bytesFetched, long renderMillis) {
    static final RenderFacts NONE = new RenderFacts(0, 0, 0, 0);
  }

  public static String result(String status, ResolvedRequest r, StoredOutput output, RenderFacts facts, ImageRequest renderedBy) {
    return result(status, r, output, facts, renderedBy, null);
  }

  /**
   * As above; {@code verification}, when not null, is the verdict of {@code --verifyOutputs}
   * (written as {@code verified} and {@code verification}, the one-line summary).
   */
  public static String result(String status, ResolvedRequest r, StoredOutput output, RenderFacts facts, ImageRequest renderedBy,
      OutputVerifier.Verdict verification) {
    ImageRequest q = r.request();
    ObjectNode n = JSON.createObjectNode();
    n.put("status", status);
    n.put("catalog", q.catalog());
    n.put("line", q.line());
    n.put("image", q.image());
    n.put("manifestDigest", r.manifestDigest());
    n.put("platform", q.platform());
    n.put("format", q.format());
    n.put("output", output.uri());
    n.put("outputSize", output.size());
    n.put("outputSha256", output.metadata() == null ? null : output.metadata().sha256());
    if (renderedBy != null) {
      ObjectNode by = n.putObject("duplicateOf");
      by.put("catalog", renderedBy.catalog());
      by.put("line", renderedBy.line());
    }
    n.put("entries", facts.entries());
    n.put("layers", facts.layers());
    n.put("bytesFetched", facts.bytesFetched());
    n.put("resolveMillis", r.resolveMillis());
    n.put("renderMillis", facts.renderMillis());
    if (verification != null) {
      n.put("verified", verification.equal());
      n.put("verification", verification.summary());
    }
    return write(n);
  }

  public static String deadLetter(String stage, String catalog, long line, String text, String image, Throwable error) {
    ObjectNode n = JSON.createObjectNode();
    n.put("catalog", catalog);
    n.put("line", line);
    n.put("text", text);
    n.put("image", image);
    n.put("stage", stage);
    n.put("errorClass", error.getClass().getName());
    n.put("message", bounded(message(error), MAX_MESSAGE));
    StringWriter trace = new StringWriter();
    error.printStackTrace(new PrintWriter(trace));
    n.put("stackTrace", bounded(trace.toString(), MAX_STACK_TRACE));
    return write(n);
  }

  /**
   * The dead letter's message: the error's own one line, and for an {@link Error} (a stack overflow
   * has no message at all) its class first, so the cause is named in the message itself.
   */
  static String message(Throwable error) {
    if (error instanceof StackOverflowError) {
      return "java.lang.StackOverflowError: the image's structure (a path or tree) is deeper than this worker's "
          + "stack allows; the image is skipped and the worker goes on";
    }
    if (error instanceof Error) {
      return error.getClass().getName() + (error.getMessage() == null ? "" : ": " + Messages.describe(error));
    }
    return Messages.describe(error);
  }

  /** {@code s} cut to {@code max} characters, saying how long it was: names in messages can be a megabyte long. */
  static String bounded(String s, int max) {
    if (s.length() <= max) {
      return s;
    }
    return s.substring(0, max) + "… (cut; " + s.length() + " characters in all)";
  }

  static String deadLetter(String stage, ImageRequest q, Throwable error) {
    return deadLetter(stage, q.catalog(), q.line(), q.text(), q.image(), error);
  }

  private static String write(ObjectNode n) {
    try {
      return JSON.writeValueAsString(n);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }
}
