package dev.ocirender.bench;

import dev.ocirender.layer.inflate.GzipDecoding;
import dev.ocirender.layer.inflate.IsalGzipInputStream;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.zip.GZIPInputStream;

/**
 * The reference of the real-file benchmarks (scripts/bench-real.sh): decodes gzip blobs one after
 * the other on one thread with {@link GZIPInputStream} to nowhere, as a process of its own, so that
 * its wall time includes a JVM start like the CLI's. Prints the uncompressed byte count.
 *
 * <p>With {@code -Docirender.inflater=isal} the same loop runs over {@link IsalGzipInputStream}
 * (ISA-L), the second reference: what one core can decode with the faster library. Needs the
 * shaded jar (JNA) on the class path.
 */
public final class GunzipBlobs {
  private GunzipBlobs() {}

  public static void main(String[] args) throws IOException {
    byte[] buffer = new byte[64 * 1024];
    long total = 0;
    boolean isal = "isal".equals(System.getProperty(GzipDecoding.PROPERTY));
    for (String path : args) {
      InputStream file = new FileInputStream(path);
      try (InputStream in = isal ? Isal.open(file) : new GZIPInputStream(file, 64 * 1024)) {
        for (int n; (n = in.read(buffer)) >= 0; ) {
          total += n;
        }
      }
    }
    System.out.println(total);
  }

  /** Apart, so that the JDK reference runs without the jar (JNA) on its class path. */
  private static final class Isal {
    static InputStream open(InputStream in) throws IOException {
      return new IsalGzipInputStream(in);
    }
  }
}
