package dev.ocirender.cli;

import dev.ocirender.image.Platform;
import dev.ocirender.layer.EntryPath;
import dev.ocirender.verify.Verification;
import dev.ocirender.verify.VerifyOptions;
import dev.ocirender.verify.VerifyReport;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code ocirender verify CANDIDATE --reference REFERENCE}: proves that two filesystems are the
 * same without mounting or extracting anything. Differences go to stdout, one per line, then a
 * summary; exit 0 when equal, 1 when different, 2 on error.
 */
@Command(
    name = "verify",
    mixinStandardHelpOptions = true,
    exitCodeOnExecutionException = 2,
    description = {
        "Compare a rendered output with a reference, path by path.",
        "Each side is a directory, a tar file (plain, gzip, zstd, bzip2, xz), a squashfs image, or an image "
            + "(oci:DIR[:TAG], docker-archive:PATH, docker://IMAGE) rendered on the fly in memory (content is only hashed).",
        "Output: '+ PATH' only in CANDIDATE, '- PATH' only in REFERENCE, '~ PATH: FIELD CANDIDATE-VALUE != REFERENCE-VALUE', then a summary.",
        "Compared: type, mode, uid/gid, size, content sha256, symlink target, device numbers, xattrs, hard-link groups; mtimes with --mtime.",
        "Exit status: 0 equal, 1 different, 2 error."})
final class VerifyCommand implements Callable<Integer> {

  @Spec CommandSpec spec;

  @Mixin RegistryFlags registry = new RegistryFlags();

  @Mixin LimitFlags limitFlags = new LimitFlags();

  @Parameters(index = "0", paramLabel = "CANDIDATE", description = "What to check (path or image reference).")
  String candidate;

  @Option(names = "--reference", required = true, paramLabel = "REFERENCE", description = "What it must equal (path or image reference).")
  String reference;

  @Option(names = "--exclude", paramLabel = "PATH", description = "Leave out PATH and everything under it, on both sides (repeatable).")
  List<String> excludes = new ArrayList<>();

  @Option(names = "--ignore-ownership", description = "Do not compare uid and gid.")
  boolean ignoreOwnership;

  @Option(names = "--ignore-root-metadata", description = "Do not compare the root directory's mode, owner, mtime and xattrs "
      + "(for a directory made by an extraction tool).")
  boolean ignoreRootMetadata;

  @Option(names = "--mtime", description = "Also compare modification times (whole seconds).")
  boolean mtime;

  @Option(names = "--json", description = "Print one JSON object instead of lines.")
  boolean json;

  @Option(names = "--platform", paramLabel = "OS/ARCH[/VARIANT]", defaultValue = "linux/amd64",
      converter = Converters.PlatformConverter.class,
      description = "For image references: which image of a multi-platform index. Default: ${DEFAULT-VALUE}.")
  Platform platform;

  @Override
  public Integer call() throws Exception {
    List<EntryPath> ex = new ArrayList<>();
    for (String e : excludes) {
      ex.add(EntryPath.normalize(e.getBytes(StandardCharsets.UTF_8)));
    }
    VerifyOptions options = new VerifyOptions(!ignoreOwnership, mtime, !ignoreRootMetadata, ex);
    VerifyReport report = Verification.run(candidate, reference, registry::open,
        platform, options, limitFlags.limits());
    PrintWriter out = spec.commandLine().getOut();
    out.print(json ? report.json() + "\n" : report.text());
    out.flush();
    return report.equal() ? 0 : 1;
  }
}
