package dev.ocirender.bench;

import dev.ocirender.image.Descriptor;
import dev.ocirender.image.Digest;
import dev.ocirender.image.MediaTypes;
import dev.ocirender.io.WorkTally;
import dev.ocirender.layer.LayerBlob;
import dev.ocirender.layer.decoded.LayerCache;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;

/**
 * What the layer work cache costs on disk: each gzip layer blob given is read through a fresh
 * {@link LayerCache} (a miss, which writes its entry), and its compressed size, decoded size and
 * entry size are printed. Sizes only; no timing.
 *
 * <p>{@code java -cp target/classes:target/test-classes:DEPS dev.ocirender.bench.LayerCacheDiskCost CACHE_DIR BLOB.tar.gz...}
 */
public final class LayerCacheDiskCost {
  private LayerCacheDiskCost() {}

  public static void main(String[] args) throws Exception {
    LayerCache cache = LayerCache.open(Path.of(args[0]), 1L << 40);
    System.out.println("blob\tcompressed\tdecoded\tentry\tentry/compressed\tentry/decoded");
    for (int i = 1; i < args.length; i++) {
      Path blob = Path.of(args[i]);
      Descriptor d = new Descriptor(MediaTypes.OCI_LAYER_TAR_GZIP, sha256(blob), Files.size(blob));
      LayerBlob layer = new LayerBlob(0, d, null, () -> new BufferedInputStream(Files.newInputStream(blob)));
      WorkTally tally = new WorkTally();
      try (InputStream in = LayerCache.attach(cache, List.of(layer), tally).get(0).openTar()) {
        in.transferTo(OutputStream.nullOutputStream());
      }
      long entry = Files.size(cache.entryFor(layer));
      System.out.printf("%s\t%d\t%d\t%d\t%.2f\t%.2f%n", blob.getFileName(), d.size(), tally.bytesDecoded(), entry,
          (double) entry / d.size(), (double) entry / tally.bytesDecoded());
    }
  }

  private static Digest sha256(Path file) throws IOException {
    try (InputStream in = Files.newInputStream(file)) {
      MessageDigest md = MessageDigest.getInstance("SHA-256");
      byte[] buffer = new byte[1 << 16];
      for (int n; (n = in.read(buffer)) >= 0; ) {
        md.update(buffer, 0, n);
      }
      return Digest.parse("sha256:" + HexFormat.of().formatHex(md.digest()));
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
