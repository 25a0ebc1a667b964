package dev.ocirender.cli;

import dev.ocirender.layer.LayerLimits;
import dev.ocirender.merge.MergeLimits;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * The per-image limits a user may plausibly need to raise, as a picocli mixin of {@code render} and
 * {@code verify}, turned into one {@link MergeLimits}. The other {@link LayerLimits} (name and
 * symlink target length, extended header size, xattrs) keep their defaults: they match what Linux
 * itself can hold, so raising them would only let an output through that cannot be unpacked.
 */
final class LimitFlags {

  @Spec(Spec.Target.MIXEE) CommandSpec spec;

  @Option(names = "--max-entries", paramLabel = "N", defaultValue = "" + MergeLimits.DEFAULT_MAX_ENTRIES,
      description = "Fail an image with more than N tar entries (all layers, whiteouts included) before its metadata "
          + "outgrows the heap. Default: ${DEFAULT-VALUE}.")
  long maxEntries;

  @Option(names = "--max-path-depth", paramLabel = "N", defaultValue = "4096",
      description = "Fail an image with a path of more than N components. Default: ${DEFAULT-VALUE}.")
  int maxPathDepth;

  @Option(names = "--max-path-bytes", paramLabel = "N", defaultValue = "65536",
      description = "Fail an image with a path longer than N bytes. Default: ${DEFAULT-VALUE}.")
  int maxPathBytes;

  /** The limits given, or a usage error naming the option that is not positive. */
  MergeLimits limits() {
    positive("--max-entries", maxEntries);
    positive("--max-path-depth", maxPathDepth);
    positive("--max-path-bytes", maxPathBytes);
    return new MergeLimits(maxEntries,
        LayerLimits.DEFAULT.withMaxPathDepth(maxPathDepth).withMaxPathBytes(maxPathBytes));
  }

  private void positive(String option, long value) {
    if (value <= 0) {
      throw new ParameterException(spec.commandLine(), option + " must be positive: " + value);
    }
  }
}
