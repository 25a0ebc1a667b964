package dev.ocirender.layer.inflate;

import java.io.IOException;
import java.io.InputStream;
import java.util.Locale;
import java.util.zip.GZIPInputStream;

/**
 * Which gzip decoder layer blobs get: ISA-L's igzip ({@link IsalGzipInputStream}) when the
 * {@code libisal2} library loads, else the JDK's {@link GZIPInputStream}. Both give the same bytes
 * and the same kinds of failure; ISA-L is two to three times faster.
 *
 * <p>The system property {@value #PROPERTY} chooses: {@code auto} (the default), {@code jdk} (never
 * ISA-L), or {@code isal} (ISA-L or fail, for tests and benchmarks that must not silently measure
 * the other one). Read on every call, so a test can switch it.
 */
public final class GzipDecoding {

  /** The system property that picks the decoder. */
  public static final String PROPERTY = "ocirender.inflater";

  private static final int JDK_BUFFER = 64 * 1024;

  private GzipDecoding() {}

  /** Wraps {@code in} in the chosen gzip decoder; reads the first member's header, so it may throw. */
  public static InputStream open(InputStream in) throws IOException {
    return useIsal() ? new IsalGzipInputStream(in) : new GZIPInputStream(in, JDK_BUFFER);
  }

  /**
   * One line for users and logs: which decoder {@link #open} uses here and, when ISA-L is not used,
   * why.
   */
  public static String describe() {
    try {
      if (useIsal()) {
        return "ISA-L igzip (libisal2)";
      }
    } catch (IllegalStateException e) {
      return e.getMessage();
    }
    String why = choice().equals("jdk") ? PROPERTY + "=jdk" : "ISA-L not loaded: " + Isal.failure();
    return "JDK java.util.zip (" + why + ")";
  }

  /** Whether {@link #open} decodes with ISA-L here (false when ISA-L is required but missing). */
  public static boolean usesIsal() {
    try {
      return useIsal();
    } catch (IllegalStateException e) {
      return false;
    }
  }

  private static boolean useIsal() {
    switch (choice()) {
      case "jdk":
        return false;
      case "isal":
        if (Isal.failure() != null) {
          throw new IllegalStateException(PROPERTY + "=isal, but ISA-L is not available: " + Isal.failure());
        }
        return true;
      case "auto":
        return Isal.failure() == null;
      default:
        throw new IllegalStateException(PROPERTY + " must be auto, isal or jdk, not " + System.getProperty(PROPERTY));
    }
  }

  private static String choice() {
    return System.getProperty(PROPERTY, "auto").trim().toLowerCase(Locale.ROOT);
  }
}
