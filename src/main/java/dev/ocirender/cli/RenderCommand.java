package dev.ocirender.cli;

import dev.ocirender.io.Sizes;
import dev.ocirender.image.Platform;
import dev.ocirender.io.TemporaryFiles;
import dev.ocirender.io.WorkTally;
import dev.ocirender.layer.decoded.LayerCache;
import dev.ocirender.merge.MergeStats;
import dev.ocirender.squashfs.writer.BlockStore;
import dev.ocirender.squashfs.writer.ExternalSquashfsSink;
import dev.ocirender.squashfs.writer.SquashfsCompression;
import dev.ocirender.squashfs.writer.SquashfsEntrySink;
import dev.ocirender.squashfs.writer.SquashfsOptions;
import dev.ocirender.render.DirectoryRenderTarget;
import dev.ocirender.render.FileRenderTarget;
import dev.ocirender.render.OutputFormat;
import dev.ocirender.render.RenderListener;
import dev.ocirender.render.RenderResult;
import dev.ocirender.render.Renderer;
import dev.ocirender.source.ImageSource;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
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
      description = "Output format: tar, squashfs or dir. Default: ${DEFAULT-VALUE}.")
  OutputFormat format;

  @Option(names = {"-o", "--output"}, required = true, paramLabel = "FILE", description = "Where to write the output.")
  Path output;

  @Option(names = "--force", description = "With --format dir: replace an existing non-empty directory once the new tree is complete.")
  boolean force;

  @Option(names = "--platform", paramLabel = "OS/ARCH[/VARIANT]", defaultValue = "linux/amd64",
      converter = Converters.PlatformConverter.class,
      description = "Which image of a multi-platform index to render. Default: ${DEFAULT-VALUE}.")
  Platform platform;

  @Option(names = "--compression", paramLabel = "ALGO", defaultValue = "zstd",
      description = "squashfs: zstd, gzip, xz or lz4. Default: ${DEFAULT-VALUE}.")
  String compression;

  @Option(names = "--compression-level", paramLabel = "N",
      description = "squashfs: compressor level (zstd 1-22, default 3; gzip 1-9, default 9; xz 0-9, default 6; lz4 0 fast, 1 high).")
  Integer compressionLevel;

  @Option(names = "--block-size", paramLabel = "SIZE", defaultValue = "128K",
      description = "squashfs: data block size, a power of two from 4K to 1M. Default: ${DEFAULT-VALUE}.")
  String blockSize;

  @Option(names = "--no-fragments", description = "squashfs: store tail ends in their own blocks, not packed into fragments.")
  boolean noFragments;

  @Option(names = "--squashfs-exportable",
      description = "squashfs: add the export table, which re-exporting the mounted image over NFS needs "
          + "(off by default, as in tar2sqfs; costs 8 bytes of metadata per inode before compression).")
  boolean squashfsExportable;

  @Option(names = "--squashfs-tool", paramLabel = "TOOL",
      description = "squashfs: build the image with mksquashfs or tar2sqfs (fed the merged tar) instead of the built-in writer.")
  String squashfsTool;

  @Mixin LimitFlags limitFlags = new LimitFlags();

  @Option(names = "--layer-cache", paramLabel = "DIR",
      description = "Keep every layer decoded (LZ4, checksummed) in DIR and read layers found there instead of "
          + "decompressing them again, and (built-in squashfs writer) the compressed blocks of file content, "
          + "reused instead of compressing it again; DIR may be shared by several renders at once. Off by default.")
  Path layerCache;

  @Option(names = "--layer-cache-size", paramLabel = "SIZE", converter = Converters.SizeConverter.class,
      description = "With --layer-cache: the most DIR may hold (e.g. 20G); the least recently used files go first. "
          + "Default: 20G.")
  Long layerCacheSize;

  @Option(names = "--stale-temp-hours", paramLabel = "H", defaultValue = "24",
      description = "Remove our own temporaries (.NAME.tmp-…, .NAME.old-…) older than H hours, which a killed "
          + "render left beside the output, before rendering. Default: ${DEFAULT-VALUE}.")
  long staleTempHours;

  @Override
  public Integer call() throws Exception {
    PrintWriter err = spec.commandLine().getErr();
    // Progress needs a terminal: on a pipe or in a log, carriage-return redraws are noise.
    ProgressDisplay progress = System.console() != null ? new ProgressDisplay(err) : null;
    RenderResult result;
    String details = "";
    LayerCache cache = openLayerCache();
    removeStaleTemporaries();
    try (ImageSource image = registry.open(source)) {
      Renderer renderer = new Renderer(progress == null ? RenderListener.NONE : progress, limitFlags.limits())
          .withLayerCache(cache);
      if (format == OutputFormat.DIR) {
        try (DirectoryRenderTarget target = new DirectoryRenderTarget(output, force)) {
          result = renderer.renderTo(image, platform, target);
          details = "; " + target.stats().summary();
        }
      } else if (format == OutputFormat.SQUASHFS) {
        List<SquashfsEntrySink> sinks = new ArrayList<>();
        WorkTally work = new WorkTally();
        try (FileRenderTarget target = squashfsTarget(sinks, cache, work)) {
          result = renderer.renderTo(image, platform, target, work);
        }
        // The last sink is the one published (a merge restart abandons the earlier ones).
        details = sinks.isEmpty() ? "" : squashfsDetails(sinks.get(sinks.size() - 1));
      } else {
        result = renderer.renderToFile(image, platform, format, output);
      }
    } finally {
      if (progress != null) {
        progress.clear();
      }
    }
    err.println(summary(result, output) + details + (layerCache == null ? "" : cacheSummary(result, format == OutputFormat.SQUASHFS && squashfsTool == null)));
    err.flush();
    return 0;
  }

  /** The default of {@code --layer-cache-size}. */
  static final long DEFAULT_LAYER_CACHE_SIZE = 20L << 30;

  /** The cache of {@code --layer-cache}, or null. */
  private LayerCache openLayerCache() throws IOException {
    if (layerCache == null) {
      if (layerCacheSize != null) {
        throw new ParameterException(spec.commandLine(), "--layer-cache-size needs --layer-cache DIR");
      }
      return null;
    }
    return LayerCache.open(layerCache, layerCacheSize == null ? DEFAULT_LAYER_CACHE_SIZE : layerCacheSize);
  }

  /**
   * What the work cache did: {@code ; layer cache: 3 hits, 1 misses, 12.0 MiB decoded, 140.2 MiB
   * reused}, and for the built-in squashfs writer {@code ; blocks: 2.0 MiB compressed, 150.1 MiB
   * reused compressed}.
   */
  static String cacheSummary(RenderResult r, boolean blocks) {
    WorkTally w = r.work();
    return "; layer cache: " + w.layerCacheHits() + " hits, " + w.layerCacheMisses() + " misses, "
        + Sizes.bytes(w.bytesDecoded()) + " decoded, " + Sizes.bytes(w.bytesReused()) + " reused"
        + (blocks ? "; blocks: " + Sizes.bytes(w.bytesCompressed()) + " compressed, "
            + Sizes.bytes(w.bytesCompressionReused()) + " reused compressed" : "");
  }

  /** What the squashfs format could not hold exactly, when anything. */
  static String squashfsDetails(SquashfsEntrySink sink) {
    long clamped = sink.clampedMtimes();
    return clamped == 0 ? "" : "; " + clamped + " mtimes clamped to squashfs's range (1970 to 2106)";
  }

  /** Clears what a killed earlier render (SIGKILL, a crash: no shutdown hook ran) left beside the output. */
  private void removeStaleTemporaries() {
    Path dir = output.toAbsolutePath().getParent();
    if (dir == null || staleTempHours < 0) {
      return;
    }
    try {
      TemporaryFiles.removeStale(dir, TemporaryFiles.OUTPUT_TEMPORARY, Duration.ofHours(staleTempHours));
    } catch (IOException e) {
      // Not this render's business: it writes its own, new temporary either way.
    }
  }

  /**
   * The squashfs target; with a layer cache, the built-in writer keeps compressed blocks under the
   * same root ({@code DIR/blocks}, evicted with the layers) and reports its compression to {@code work}.
   */
  private FileRenderTarget squashfsTarget(List<SquashfsEntrySink> sinks, LayerCache cache, WorkTally work) throws IOException {
    SquashfsOptions options;
    ExternalSquashfsSink.Tool tool;
    try {
      SquashfsCompression c = SquashfsCompression.parse(compression);
      options = SquashfsOptions.defaults()
          .withCompression(c, compressionLevel == null ? c.defaultLevel() : compressionLevel)
          .withBlockSize(parseSize(blockSize))
          .withFragments(!noFragments)
          .withExportable(squashfsExportable);
      tool = squashfsTool == null ? null : ExternalSquashfsSink.Tool.parse(squashfsTool);
    } catch (IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(), e.getMessage());
    }
    if (tool == null) {
      SquashfsOptions builtIn = cache == null ? options : options.withBlockCacheRoot(cache.root());
      if (cache != null) {
        BlockStore.at(cache.root()).reportFilesAddedTo(cache::fileAdded);
      }
      return FileRenderTarget.withFileSinks(output, file -> {
        // The file is fsynced when published: written back as it grows, the fsync finds little to do.
        SquashfsEntrySink sink = new SquashfsEntrySink(file.channel(), builtIn).reportingTo(work)
            .writingBackEvery(SquashfsEntrySink.PUBLISH_WRITE_BACK_BYTES);
        sinks.add(sink);
        return sink;
      });
    }
    return FileRenderTarget.withFileSinks(output, file -> new ExternalSquashfsSink(tool, file.tempFile(), options));
  }

  /** {@code 131072}, {@code 128K}, {@code 1M}. */
  static int parseSize(String text) {
    String t = text.trim().toUpperCase(java.util.Locale.ROOT);
    int mult = 1;
    if (t.endsWith("K")) {
      mult = 1024;
      t = t.substring(0, t.length() - 1);
    } else if (t.endsWith("M")) {
      mult = 1024 * 1024;
      t = t.substring(0, t.length() - 1);
    }
    try {
      return Math.multiplyExact(Integer.parseInt(t), mult);
    } catch (NumberFormatException | ArithmeticException e) {
      throw new IllegalArgumentException("not a size: '" + text + "' (e.g. 128K, 1M)");
    }
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
