package dev.ocirender.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Layers holding sparse files, written by GNU tar itself ({@code --sparse --format=posix}: PAX sparse
 * 1.0) from files made sparse with {@code truncate}, so that the sparse tests read what real images
 * hold rather than what our own writer thinks sparse tar looks like.
 */
public final class SparseLayers {

  private SparseLayers() {}

  /**
   * An uncompressed tar of "big": {@code size} bytes with "head" at 0, "middle" at {@code size / 2},
   * "tail" in its last 4 bytes and holes between; with {@code trailingHole} also "dir/trailing":
   * "start", then a hole to {@code size}. The sources are made and removed under {@code work}.
   */
  public static byte[] gnuTar(Path work, long size, boolean trailingHole) throws IOException {
    ExternalTools.assumeTools("tar", "truncate", "dd");
    Path src = Files.createDirectories(work.resolve("sparse-src"));
    ExternalTools.bash(src, "printf head > big && truncate -s " + size + " big"
        + " && printf middle | dd of=big bs=1 seek=" + (size / 2) + " conv=notrunc status=none"
        + " && printf tail | dd of=big bs=1 seek=" + (size - 4) + " conv=notrunc status=none"
        + (trailingHole ? " && mkdir dir && printf start > dir/trailing && truncate -s " + size + " dir/trailing" : "")
        + " && tar --sparse --format=posix --owner=0 --group=0 --mtime=@0 -cf ../sparse-layer.tar big"
        + (trailingHole ? " dir" : "")
        + " && rm -r ../sparse-src");
    Path tar = work.resolve("sparse-layer.tar");
    byte[] bytes = Files.readAllBytes(tar);
    Files.delete(tar);
    return bytes;
  }
}
