package dev.ocirender.pipeline;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/**
 * {@link PerImage}: which throwables one image may throw without ending the job, and the deadline:
 * a blocked read is interrupted and its thread ends; a stack overflow comes back as itself, on the
 * caller's intact stack.
 */
class PerImageTest {

  @Test
  void survivable_stackOverflowAndOrdinaryErrorsYes_otherVmErrorsNo() {
    assertThat(PerImage.survivable(new StackOverflowError())).isTrue();
    assertThat(PerImage.survivable(new IOException("x"))).isTrue();
    assertThat(PerImage.survivable(new AssertionError("x"))).isTrue();
    assertThat(PerImage.survivable(new NoClassDefFoundError("x"))).isTrue();
    assertThat(PerImage.survivable(new OutOfMemoryError())).isFalse();
    assertThat(PerImage.survivable(new InternalError())).isFalse();
    assertThatThrownBy(() -> PerImage.rethrowIfFatal(new OutOfMemoryError("heap"))).isInstanceOf(OutOfMemoryError.class);
  }

  @Test
  void call_returnsTheResult_andRethrowsTheWorksOwnThrowable() throws Throwable {
    assertThat(PerImage.call("image", Duration.ofSeconds(30), () -> 42, () -> {})).isEqualTo(42);
    assertThatThrownBy(() -> PerImage.call("image", Duration.ofSeconds(30), PerImageTest::recurse, () -> {}))
        .isInstanceOf(StackOverflowError.class);
    assertThatThrownBy(() -> PerImage.call("image", Duration.ofSeconds(30), () -> {
      throw new IOException("broken layer");
    }, () -> {})).isInstanceOf(IOException.class).hasMessage("broken layer");
  }

  @Test
  void call_pastTheDeadline_interruptsABlockedReadAndTheThreadEnds() throws Throwable {
    PipedOutputStream writer = new PipedOutputStream();
    PipedInputStream reader = new PipedInputStream(writer); // nothing is ever written: read() blocks
    CountDownLatch ended = new CountDownLatch(1);
    AtomicBoolean sawInterrupt = new AtomicBoolean();
    AtomicBoolean onTimeoutRan = new AtomicBoolean();
    assertThatThrownBy(() -> PerImage.call("rendering oci:/hang:v1", Duration.ofMillis(300), () -> {
      try {
        return reader.read();
      } catch (InterruptedIOException e) {
        sawInterrupt.set(true);
        throw e;
      } finally {
        ended.countDown();
      }
    }, () -> onTimeoutRan.set(true)))
        .isInstanceOf(PerImage.TimeoutExceededException.class)
        .hasMessageContaining("rendering oci:/hang:v1 took longer than 300 ms (--renderTimeoutSeconds)");
    assertThat(ended.await(10, TimeUnit.SECONDS)).isTrue();
    assertThat(sawInterrupt).isTrue();
    assertThat(onTimeoutRan).isTrue();
    writer.close();
  }

  private static int recurse() {
    return recurse() + 1;
  }
}
