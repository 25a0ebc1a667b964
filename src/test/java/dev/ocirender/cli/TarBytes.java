package dev.ocirender.cli;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;

/** One-file tar archives written by Commons Compress, for hand-made CLI fixtures. */
final class TarBytes {
  private TarBytes() {}

  static byte[] single(String name, byte[] data) throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (TarArchiveOutputStream tar = new TarArchiveOutputStream(bytes)) {
      TarArchiveEntry e = new TarArchiveEntry(name);
      e.setSize(data.length);
      e.setMode(0100644);
      tar.putArchiveEntry(e);
      tar.write(data);
      tar.closeArchiveEntry();
    }
    return bytes.toByteArray();
  }
}
