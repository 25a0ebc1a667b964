package dev.ocirender.output.tar;

import dev.ocirender.layer.EntryHeader;
import dev.ocirender.output.EntrySink;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/** STUB (h-cli): the agreed TarEntrySink API; replaced by the tar work at merge. */
public final class TarEntrySink implements EntrySink {
  private final OutputStream out;

  public TarEntrySink(OutputStream out) {
    this.out = out;
  }

  @Override
  public void accept(EntryHeader header, InputStream content) throws IOException {
    throw new UnsupportedOperationException("stub");
  }

  @Override
  public void finish() throws IOException {
    out.flush();
  }

  @Override
  public void close() throws IOException {
    out.close();
  }
}
