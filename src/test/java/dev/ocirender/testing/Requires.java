package dev.ocirender.testing;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * What a test class (or method) needs from the machine: external tools on the PATH, and root.
 *
 * <p>Checked by {@link RequiresCondition} before the class starts, so before its {@code @BeforeAll}:
 * when something is missing the class is reported as skipped, with the reason, or fails under
 * {@code -Docirender.requireTools=true}. (An assumption inside {@code @BeforeAll} instead makes
 * Surefire report zero tests and zero skipped for the class: the class silently leaves the counts.)
 */
@Target({ElementType.TYPE, ElementType.METHOD})
@Retention(RetentionPolicy.RUNTIME)
@ExtendWith(RequiresCondition.class)
public @interface Requires {

  /** Executables that must be on the PATH. */
  String[] tools() default {};

  /** Whether the test needs effective uid 0. */
  boolean root() default false;
}
