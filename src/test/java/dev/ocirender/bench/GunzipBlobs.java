package dev.ocirender.bench;

import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.zip.GZIPInputStream;

/**
 * The reference of the real-file benchmarks (scripts/bench-real.sh): decodes gzip blobs one after
 * the other on one thread with {@link GZIPInputStream} to nowhere, as a process of its own, so that
 * its wall time includes a JVM start like the CLI's. Prints the uncompressed byte count.
 */
public final class GunzipBlobs {
  private GunzipBlobs() {}

  public static void main(String[] args) throws IOException {
    byte[] buffer = new byte[64 * 1024];
    long total = 0;
    for (String path : args) {
      try (InputStream in = new GZIPInputStream(new FileInputStream(path), 64 * 1024)) {
        for (int n; (n = in.read(buffer)) >= 0; ) {
          total += n;
        }
      }
    }
    System.out.println(total);
  }
}
