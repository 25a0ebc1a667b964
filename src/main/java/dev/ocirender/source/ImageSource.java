package dev.ocirender.source;

import dev.ocirender.image.Descriptor;
import dev.ocirender.image.Platform;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;

/** STUB (h-cli): the agreed ImageSource API; replaced by the source work at merge. */
public interface ImageSource extends Closeable {
  String reference();

  ResolvedImage resolve(Platform platform) throws IOException;

  InputStream openBlob(Descriptor descriptor) throws IOException;
}
