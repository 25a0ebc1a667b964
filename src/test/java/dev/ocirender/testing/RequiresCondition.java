package dev.ocirender.testing;

import java.util.Optional;
import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.extension.ExecutionCondition;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.platform.commons.support.AnnotationSupport;

/**
 * Evaluates {@link Requires}: enabled when every tool is installed (and root, if asked); otherwise
 * disabled with the reason (reported as skipped), or, under {@code -Docirender.requireTools=true},
 * an error, which JUnit reports as a failure of the class or test.
 */
public final class RequiresCondition implements ExecutionCondition {

  @Override
  public ConditionEvaluationResult evaluateExecutionCondition(ExtensionContext context) {
    Optional<Requires> requires = AnnotationSupport.findAnnotation(context.getElement(), Requires.class);
    if (requires.isEmpty()) {
      return ConditionEvaluationResult.enabled("no @Requires");
    }
    String missing = missing(requires.get());
    if (missing == null) {
      return ConditionEvaluationResult.enabled("tools and privileges present");
    }
    String message = context.getDisplayName() + ": " + missing;
    if (ExternalTools.toolsRequired()) {
      throw new AssertionError(message + " (required: ocirender.requireTools=true)");
    }
    System.err.println("SKIPPED: " + message);
    return ConditionEvaluationResult.disabled(message);
  }

  /** What is missing for {@code requires}, or null. */
  static String missing(Requires requires) {
    String tool = ExternalTools.firstMissing(requires.tools());
    if (tool != null) {
      return "external tool '" + tool + "' is not installed";
    }
    if (requires.root() && !ExternalTools.isRoot()) {
      return "needs root (effective uid 0), uid is " + ExternalTools.effectiveUid();
    }
    return null;
  }
}
