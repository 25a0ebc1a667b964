package dev.ocirender.cli;

import dev.ocirender.image.Platform;
import dev.ocirender.merge.MergeStats;
import dev.ocirender.render.DirectoryRenderTarget;
import dev.ocirender.render.OutputFormat;
import dev.ocirender.render.RenderListener;
import dev.ocirender.render.RenderResult;
import dev.ocirender.render.Renderer;
import dev.ocirender.source.ImageSource;
import dev.ocirender.source.ImageSources;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code ocirender render SOURCE --output FILE}: one image into one output file, published
 * atomically. Progress goes to stderr only on a terminal; the one-line summary always does.
 * Nothing is written to stdout, so the command composes in scripts.
 */
@Command(
    name = "render",
    mixinStandardHelpOptions = true,
    description = {
        "Render an image's merged filesystem into FILE.",
        "SOURCE is oci:DIR[:TAG], oci:DIR@sha256:DIGEST, docker-archive:PATH or docker://IMAGE[:TAG|@DIGEST].",
        "FILE appears only when the render succeeded; on failure nothing is left there.",
        "With --format dir, FILE is a directory: an existing non-empty one is replaced only with --force."})
final class RenderCommand implements Callable<Integer> {

  @Spec CommandSpec spec;

  @Mixin RegistryFlags registry = new RegistryFlags();

  @Parameters(index = "0", paramLabel = "SOURCE", description = "The image to render (transport:location).")
  String source;

  @Option(names = "--format", paramLabel = "FORMAT", defaultValue = "tar", converter = Converters.FormatConverter.class,
      description = "Output format: tar or dir (squashfs is planned). Default: ${DEFAULT-VALUE}.")
  OutputFormat format;

  @Option(names = {"-o", "--output"}, required = true, paramLabel = "FILE", description = "Where to write the output.")
  Path output;

  @Option(names = "--force", description = "With --format dir: replace an existing non-empty directory once the new tree is complete.")
  boolean force;

  @Option(names = "--platform", paramLabel = "OS/ARCH[/VARIANT]", defaultValue = "linux/amd64",
      converter = Converters.PlatformConverter.class,
      description = "Which image of a multi-platform index to render. Default: ${DEFAULT-VALUE}.")
  Platform platform;

  @Override
  public Integer call() throws Exception {
    PrintWriter err = spec.commandLine().getErr();
    // Progress needs a terminal: on a pipe or in a log, carriage-return redraws are noise.
    ProgressDisplay progress = System.console() != null ? new ProgressDisplay(err) : null;
    RenderResult result;
    String details = "";
    try (ImageSource image = ImageSources.open(source, registry.context())) {
      Renderer renderer = new Renderer(progress == null ? RenderListener.NONE : progress);
      if (format == OutputFormat.DIR) {
        try (DirectoryRenderTarget target = new DirectoryRenderTarget(output, force)) {
          result = renderer.renderToDirectory(image, platform, target);
          details = "; " + target.stats().summary();
        }
      } else {
        result = renderer.renderToFile(image, platform, format, output);
      }
    } finally {
      if (progress != null) {
        progress.clear();
      }
    }
    err.println(summary(result, output) + details);
    err.flush();
    return 0;
  }

  static String summary(RenderResult r, Path output) {
    MergeStats s = r.stats();
    return "rendered " + r.image().reference() + " (" + r.image().platform() + ", " + r.image().layers().size() + " layers) to " + output + ": "
        + s.entriesWritten() + " entries (" + s.files() + " files, " + s.directories() + " dirs, "
        + s.symlinks() + " symlinks, " + s.hardLinks() + " hard links, " + s.otherEntries() + " other), "
        + s.whiteouts() + " whiteouts, " + Sizes.bytes(s.contentBytes()) + " content, "
        + Sizes.bytes(r.bytesRead()) + " read in " + Sizes.duration(r.elapsed());
  }
}
