package dev.ocirender.layer;

import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;

/** STUB: replaced by the tar-reading work. */
public final class LayerTarReader implements Closeable {
  public LayerTarReader(InputStream tar) {}

  public EntryHeader next() throws IOException { throw new UnsupportedOperationException("stub"); }

  public byte[] rawName() { throw new UnsupportedOperationException("stub"); }

  public InputStream content() { throw new UnsupportedOperationException("stub"); }

  public long ordinal() { throw new UnsupportedOperationException("stub"); }

  @Override
  public void close() throws IOException {}
}
