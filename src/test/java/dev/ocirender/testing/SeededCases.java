package dev.ocirender.testing;

import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Function;

/**
 * Property checks on generated cases in plain JUnit 5: a fixed base seed, a number of tries, and a
 * shrinker that turns a failing case into a small one before it is reported.
 *
 * <p>Case {@code i} is generated from seed {@code base + i}, so a failure names the one seed that
 * reproduces it alone ({@code -Docirender.seed=S -Docirender.tries=1}). The base seed is fixed, so
 * every run checks the same cases; {@code -Docirender.seed=} picks other ones and
 * {@code -Docirender.tries=} runs more (a local soak) or fewer.
 *
 * <p>Shrinking is greedy: the first smaller candidate that still fails becomes the case, until no
 * candidate fails (or {@link #MAX_SHRINK_STEPS}). Any throwable counts as failing, as in the property
 * itself. It does not search for a globally smallest case, and it does not generate edge cases on its
 * own: the generator's distribution decides what is tried.
 */
public final class SeededCases {

  public static final String SEED_PROPERTY = "ocirender.seed";
  public static final String TRIES_PROPERTY = "ocirender.tries";
  static final int MAX_SHRINK_STEPS = 1000;

  /** Makes one case from its random source. */
  @FunctionalInterface
  public interface Generator<T> {
    T generate(SplittableRandom random);
  }

  /** Candidates one step smaller than a case, the most promising first; empty when it is minimal. */
  @FunctionalInterface
  public interface Shrinker<T> {
    List<T> smaller(T value);
  }

  /** The check: returns normally when the case passes, throws when it fails. */
  @FunctionalInterface
  public interface Property<T> {
    void check(T value) throws Exception;
  }

  /** A failing case: its seed, the case, and what it threw. */
  public record Failure<T>(long seed, T value, Throwable error) {}

  private SeededCases() {}

  /**
   * Checks {@code property} on {@code defaultTries} cases (or {@code -Docirender.tries}) from
   * {@code defaultSeed} (or {@code -Docirender.seed}); on the first failure, shrinks it and throws an
   * {@link AssertionError} naming the seed, the original and the shrunk case, caused by the shrunk
   * case's own failure.
   */
  public static <T> void check(long defaultSeed, int defaultTries, Generator<T> generator, Shrinker<T> shrinker,
      Function<T, String> describe, Property<T> property) {
    long base = Long.getLong(SEED_PROPERTY, defaultSeed);
    int tries = Integer.getInteger(TRIES_PROPERTY, defaultTries);
    Failure<T> failure = firstFailure(base, tries, generator, property);
    if (failure == null) {
      // The count, as a property-testing library reports it: a run that checked fewer cases shows here.
      System.out.println("SeededCases: " + tries + " cases passed (seeds " + base + " to " + (base + tries - 1) + ")");
      return;
    }
    Shrunk<T> shrunk = shrink(failure, shrinker, property);
    String message = "case with seed " + failure.seed() + " failed (base seed " + base + ", " + tries
        + " tries; rerun alone with -D" + SEED_PROPERTY + "=" + failure.seed() + " -D" + TRIES_PROPERTY + "=1)\n"
        + "shrunk in " + shrunk.steps() + " step(s) to:\n" + describe.apply(shrunk.failure().value())
        + "\nfrom:\n" + describe.apply(failure.value())
        + "\nshrunk case's failure: " + shrunk.failure().error();
    System.err.println(message);
    throw new AssertionError(message, shrunk.failure().error());
  }

  /** The first of {@code tries} cases from {@code base} that fails {@code property}, or null. */
  public static <T> Failure<T> firstFailure(long base, int tries, Generator<T> generator, Property<T> property) {
    for (int i = 0; i < tries; i++) {
      long seed = base + i;
      T value = generator.generate(new SplittableRandom(seed));
      Throwable error = failureOf(property, value);
      if (error != null) {
        return new Failure<>(seed, value, error);
      }
    }
    return null;
  }

  /** The result of shrinking: the smallest failing case found, and how many steps it took. */
  public record Shrunk<T>(Failure<T> failure, int steps) {}

  /** Shrinks {@code failure} greedily while a smaller candidate still fails {@code property}. */
  public static <T> Shrunk<T> shrink(Failure<T> failure, Shrinker<T> shrinker, Property<T> property) {
    Failure<T> current = failure;
    int steps = 0;
    boolean smallerFound = true;
    while (smallerFound && steps < MAX_SHRINK_STEPS) {
      smallerFound = false;
      for (T candidate : shrinker.smaller(current.value())) {
        Throwable error = failureOf(property, candidate);
        if (error != null) {
          current = new Failure<>(failure.seed(), candidate, error);
          steps++;
          smallerFound = true;
          break;
        }
      }
    }
    return new Shrunk<>(current, steps);
  }

  private static <T> Throwable failureOf(Property<T> property, T value) {
    try {
      property.check(value);
      return null;
    } catch (Exception | AssertionError e) {
      return e;
    }
  }
}
