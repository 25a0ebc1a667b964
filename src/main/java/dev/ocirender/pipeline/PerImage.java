package dev.ocirender.pipeline;

import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs one image's work (resolve, check, render, verify) so that nothing one image does can end
 * the job: what it throws becomes that image's failure, to be written as a dead letter, and a
 * render that hangs is cut off after a time limit.
 *
 * <p>Which throwables are survivable: every {@link Exception}, and every {@link Error} except
 * {@link VirtualMachineError}s ({@link OutOfMemoryError}, {@link InternalError}: the JVM itself is
 * in doubt, so the worker must fail and the runner retry elsewhere) and {@link ThreadDeath}. A
 * {@link StackOverflowError} is the exception among VM errors: it is thrown in the thread that
 * recursed too deep, and once that stack has unwound nothing is left damaged. So are
 * {@link LinkageError}s and assertion failures, which say something about the code path the image
 * took, not about the JVM.
 *
 * <p>{@link #call} runs the work on a thread of its own, for two reasons: a deadline needs a second
 * thread to watch it, and a stack overflow then unwinds a stack that belongs to the image alone.
 * On the deadline the work thread is interrupted (which stops file channel I/O, blocking queues and
 * HTTP waits) and {@code onTimeout} runs (closing the image's source, so blocked reads fail); work
 * that neither reads nor writes cannot be stopped from outside and finishes on its own in the
 * background (the thread is a daemon, and its result is thrown away). Beam metrics and outputs must
 * stay on the caller's thread: Beam binds them to it.
 */
final class PerImage {

  private static final Logger LOG = LoggerFactory.getLogger(PerImage.class);
  private static final AtomicLong THREADS = new AtomicLong();
  /** How long a timed-out thread gets to notice its interrupt before it is left behind. */
  private static final Duration GRACE = Duration.ofSeconds(3);

  private PerImage() {}

  /** Whether the job may go on after {@code t}, treating it as the failure of one image. */
  static boolean survivable(Throwable t) {
    if (t instanceof StackOverflowError) {
      return true;
    }
    return !(t instanceof VirtualMachineError) && !(t instanceof ThreadDeath);
  }

  /** Rethrows {@code t} when the worker must not go on after it; returns otherwise. */
  static void rethrowIfFatal(Throwable t) {
    if (!survivable(t)) {
      if (t instanceof Error e) {
        throw e;
      }
      throw new IllegalStateException(t); // not reached: only Errors are fatal
    }
  }

  /** A render that took longer than {@code --renderTimeoutSeconds}. */
  static final class TimeoutExceededException extends IOException {
    private static final long serialVersionUID = 1L;

    TimeoutExceededException(String message) {
      super(message);
    }
  }

  /**
   * Runs {@code work} for {@code what} on its own thread and returns its result.
   *
   * @param onTimeout run (on the caller's thread) when the deadline passes, to unblock the work
   * @throws TimeoutExceededException when {@code timeout} passed first
   * @throws Throwable whatever {@code work} threw (fatal errors included: the caller decides)
   */
  static <T> T call(String what, Duration timeout, Callable<T> work, Runnable onTimeout) throws Throwable {
    FutureTask<T> task = new FutureTask<>(work);
    Thread thread = new Thread(task, "ocirender-image-" + THREADS.incrementAndGet());
    thread.setDaemon(true);
    thread.start();
    try {
      return task.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      throw e.getCause();
    } catch (TimeoutException e) {
      task.cancel(true);
      try {
        onTimeout.run();
      } catch (RuntimeException ignored) {
        // best effort: the interrupt alone may be enough
      }
      thread.join(GRACE.toMillis());
      if (thread.isAlive()) {
        LOG.warn("{}: still running {} s after its timeout and interrupt; left to finish in the background",
            what, GRACE.toSeconds());
      }
      String limit = timeout.toMillis() % 1000 == 0 ? timeout.toSeconds() + " s" : timeout.toMillis() + " ms";
      throw new TimeoutExceededException(what + " took longer than " + limit + " (--renderTimeoutSeconds); interrupted");
    } catch (InterruptedException e) {
      // The runner is cancelling this bundle: stop the work too, and let the runner see it.
      task.cancel(true);
      onTimeout.run();
      Thread.currentThread().interrupt();
      throw e;
    }
  }
}
