package dev.ocirender.verify;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;

/** The outcome of {@link Verifier#compare}: the differences in path order, and counts. */
public final class VerifyReport {

  private static final ObjectMapper JSON = new ObjectMapper();

  private final FsModel candidate;
  private final FsModel reference;
  private final long compared;
  private final boolean xattrsCompared;
  private final List<Difference> differences;

  VerifyReport(FsModel candidate, FsModel reference, long compared, boolean xattrsCompared, List<Difference> differences) {
    this.candidate = candidate;
    this.reference = reference;
    this.compared = compared;
    this.xattrsCompared = xattrsCompared;
    this.differences = List.copyOf(differences);
  }

  public boolean equal() {
    return differences.isEmpty();
  }

  public List<Difference> differences() {
    return differences;
  }

  public long count(Difference.Kind kind) {
    return differences.stream().filter(d -> d.kind() == kind).count();
  }

  /** Paths present on both sides (after exclusions). */
  public long compared() {
    return compared;
  }

  /** One line: "equal: ..." or "different: ...". */
  public String summary() {
    String sides = compared + " paths in both";
    String note = xattrsCompared ? "" : "; xattrs not compared (unreadable on one side)";
    if (equal()) {
      return "equal: " + sides + " (candidate " + candidate.description() + ", reference " + reference.description() + ")" + note;
    }
    long changedPaths = differences.stream().filter(d -> d.kind() == Difference.Kind.CHANGED).map(Difference::path).distinct().count();
    return "different: " + differences.size() + " difference(s): " + count(Difference.Kind.ADDED) + " only in candidate, "
        + count(Difference.Kind.REMOVED) + " only in reference, " + count(Difference.Kind.CHANGED) + " changed field(s) on "
        + changedPaths + " path(s); " + sides + note;
  }

  /** Every difference line, then the summary. */
  public String text() {
    StringBuilder sb = new StringBuilder();
    for (Difference d : differences) {
      sb.append(d.line()).append('\n');
    }
    return sb.append(summary()).append('\n').toString();
  }

  public String json() {
    ObjectNode n = JSON.createObjectNode();
    n.put("equal", equal());
    n.put("candidate", candidate.description());
    n.put("reference", reference.description());
    n.put("candidatePaths", candidate.size());
    n.put("referencePaths", reference.size());
    n.put("compared", compared);
    n.put("xattrsCompared", xattrsCompared);
    n.put("onlyInCandidate", count(Difference.Kind.ADDED));
    n.put("onlyInReference", count(Difference.Kind.REMOVED));
    n.put("changed", count(Difference.Kind.CHANGED));
    ArrayNode list = n.putArray("differences");
    for (Difference d : differences) {
      ObjectNode o = list.addObject();
      o.put("kind", d.kind().name().toLowerCase(java.util.Locale.ROOT));
      o.put("path", Difference.display(d.path()));
      if (d.kind() == Difference.Kind.CHANGED) {
        o.put("field", d.field());
        o.put("candidate", d.candidate());
        o.put("reference", d.reference());
      }
    }
    try {
      return JSON.writeValueAsString(n);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }
}
