package dev.ocirender.source.registry;

import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Bounded retries with exponential backoff and jitter, for connection errors, HTTP 429 and 5xx, and
 * blob bodies cut short. A server's {@code Retry-After} is honoured up to {@link #maxRetryAfter}.
 *
 * <p>It only computes delays; the client decides what is retryable.
 *
 * @param maxAttempts attempts in all, the first included
 * @param initialDelay the delay before the second attempt (before jitter)
 * @param maxDelay the cap on the exponential delay
 * @param maxRetryAfter the longest {@code Retry-After} honoured; longer ones fail the request
 */
public record RetryPolicy(int maxAttempts, Duration initialDelay, Duration maxDelay, Duration maxRetryAfter) {

  public static final RetryPolicy DEFAULT =
      new RetryPolicy(6, Duration.ofMillis(500), Duration.ofSeconds(20), Duration.ofSeconds(120));

  public RetryPolicy {
    if (maxAttempts < 1) {
      throw new IllegalArgumentException("maxAttempts must be at least 1, got " + maxAttempts);
    }
  }

  /**
   * How long to wait after the {@code failures}-th failure (1 for the first): half the exponential
   * delay plus a random part of the other half, so that many clients do not retry in lockstep; or
   * the server's {@code Retry-After} when it gave one.
   */
  public Duration delay(int failures, Duration retryAfter) {
    if (retryAfter != null) {
      return retryAfter;
    }
    long base = initialDelay.toMillis() << Math.min(failures - 1, 20);
    long capped = Math.min(Math.max(base, 1), maxDelay.toMillis());
    long half = capped / 2;
    return Duration.ofMillis(half + ThreadLocalRandom.current().nextLong(capped - half + 1));
  }
}
