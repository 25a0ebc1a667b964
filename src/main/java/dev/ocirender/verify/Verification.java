package dev.ocirender.verify;

import dev.ocirender.image.Platform;
import dev.ocirender.merge.MergeLimits;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.UncheckedIOException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/**
 * One verification end to end: reads the candidate and the reference at the same time (each side
 * on its own thread: they share nothing until the comparison), then compares them.
 */
public final class Verification {

  private Verification() {}

  public static VerifyReport run(String candidate, String reference, FsReaders.ImageOpener images, Platform platform,
      VerifyOptions options) throws IOException {
    return run(candidate, reference, images, platform, options, MergeLimits.DEFAULT);
  }

  /** As above; images rendered on the fly and tars read back are held to {@code limits}. */
  public static VerifyReport run(String candidate, String reference, FsReaders.ImageOpener images, Platform platform,
      VerifyOptions options, MergeLimits limits) throws IOException {
    CompletableFuture<FsModel> ref = CompletableFuture.supplyAsync(() -> {
      try {
        return FsReaders.read(reference, images, platform, limits);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    });
    FsModel cand;
    try {
      cand = FsReaders.read(candidate, images, platform, limits);
    } catch (IOException | RuntimeException e) {
      ref.cancel(true);
      throw e;
    }
    FsModel refModel;
    try {
      refModel = ref.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted reading " + reference);
    } catch (ExecutionException e) {
      Throwable cause = e.getCause() instanceof CompletionException ce ? ce.getCause() : e.getCause();
      if (cause instanceof UncheckedIOException u) {
        throw u.getCause();
      }
      if (cause instanceof RuntimeException r) {
        throw r;
      }
      throw new IOException(cause);
    }
    return Verifier.compare(cand, refModel, options);
  }
}
