package dev.ocirender.pipeline;

import dev.ocirender.merge.MergeLimits;
import dev.ocirender.image.Platform;
import dev.ocirender.source.ImageSource;
import dev.ocirender.source.ImageSources;
import dev.ocirender.store.LocalOutputStore;
import dev.ocirender.store.OutputStores;
import dev.ocirender.verify.Difference;
import dev.ocirender.verify.FsModel;
import dev.ocirender.verify.FsReaders;
import dev.ocirender.verify.Verifier;
import dev.ocirender.verify.VerifyOptions;
import dev.ocirender.verify.VerifyReport;
import java.io.IOException;
import java.io.InputStream;
import java.io.Serializable;
import java.nio.channels.Channels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.stream.Collectors;
import org.apache.beam.sdk.io.FileSystems;
import org.apache.beam.sdk.io.fs.ResourceId;

/**
 * {@code --verifyOutputs}: reads a published output back (a local file or directory directly;
 * anything else through Beam FileSystems, streamed for tar, through a temporary file for squashfs,
 * which needs random access) and compares it with the image rendered again into memory (content
 * only hashed), as {@code ocirender verify} does.
 */
final class OutputVerifier {

  /** What the pipeline records: equal or not, the summary line, the first few differences. */
  record Verdict(boolean equal, String summary, String firstDifferences) implements Serializable {}

  private static final int SHOWN = 5;

  private OutputVerifier() {}

  /** Opens an image source; the pipeline passes its worker's, so registry layers come from the shared cache. */
  @FunctionalInterface
  interface SourceOpener {
    ImageSource open(String spec) throws IOException;
  }

  static Verdict verify(String uri, String format, String image, Platform platform) throws IOException {
    return verify(uri, format, image, platform, ImageSources::open);
  }

  static Verdict verify(String uri, String format, String image, Platform platform, SourceOpener opener) throws IOException {
    return verify(uri, format, image, platform, opener, MergeLimits.DEFAULT);
  }

  /** As above, reading the output and rendering the image within {@code limits} (the render's own). */
  static Verdict verify(String uri, String format, String image, Platform platform, SourceOpener opener,
      MergeLimits limits) throws IOException {
    FsModel output = readOutput(uri, format, limits);
    FsModel reference;
    try (ImageSource source = opener.open(image)) {
      reference = FsReaders.readImage(source, platform, limits);
    }
    VerifyReport report = Verifier.compare(output, reference, VerifyOptions.DEFAULT);
    String first = report.differences().stream().limit(SHOWN).map(Difference::line).collect(Collectors.joining("; "));
    return new Verdict(report.equal(), report.summary(), first);
  }

  private static FsModel readOutput(String uri, String format, MergeLimits limits) throws IOException {
    if (OutputStores.isLocal(uri)) {
      return FsReaders.read(LocalOutputStore.pathOf(uri).toString(), s -> {
        throw new IOException("not an output: " + s);
      }, Platform.LINUX_AMD64, limits);
    }
    ResourceId id = FileSystems.matchSingleFileSpec(uri).resourceId();
    if (!"squashfs".equals(format)) {
      try (InputStream in = Channels.newInputStream(FileSystems.open(id))) {
        return FsReaders.readTar(in, uri, limits.layer());
      }
    }
    Path tmp = Files.createTempFile("ocirender-verify-", ".sqfs");
    try {
      try (InputStream in = Channels.newInputStream(FileSystems.open(id))) {
        Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
      }
      return FsReaders.readSquashfs(tmp);
    } finally {
      Files.deleteIfExists(tmp);
    }
  }
}
