package dev.ocirender.output.dir;

/**
 * Every escape case of {@link DirectoryEscapeTest} again, with the writer on its fallback (Java
 * paths and external tools, used where the direct Linux calls cannot be bound): the guarantees may
 * not depend on which of the two writes.
 */
class DirectoryEscapeFallbackTest extends DirectoryEscapeTest {

  @Override
  DirectoryEntrySink.Options options() {
    return DirectoryEntrySink.Options.detect().withoutDirectCalls();
  }
}
