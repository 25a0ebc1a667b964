package dev.ocirender.bench;

import dev.ocirender.bench.SyntheticImage.LayerPlan;
import dev.ocirender.image.Platform;
import dev.ocirender.render.DirectoryRenderTarget;
import dev.ocirender.render.Renderer;
import dev.ocirender.source.ImageSource;
import dev.ocirender.source.ImageSources;
import dev.ocirender.verify.FsModel;
import dev.ocirender.verify.FsReaders;
import dev.ocirender.verify.Verification;
import dev.ocirender.verify.VerifyOptions;
import dev.ocirender.verify.VerifyReport;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * {@code ocirender verify} of a squashfs image of more than 1 GB against its source image, versus
 * the mount-free alternative with the real tools: {@code unsquashfs -d} into a directory plus a
 * walk of that directory (lstat, xattrs, sha256 of every file). Alternated in one run, medians
 * after one warm-up round.
 *
 * <p>Inputs (made once, kept in WORKDIR): a synthetic OCI image (seed 11, 2 gzip layers), rendered
 * with {@code --format dir}, then packed with {@code mksquashfs -comp gzip -Xcompression-level 1}
 * (independent of our squashfs writer).
 *
 * <p>Usage: {@code VerifyBenchmark WORKDIR [ROUNDS]}.
 */
public final class VerifyBenchmark {

  public static void main(String[] args) throws Exception {
    Path work = Path.of(args[0]).toAbsolutePath();
    int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 5;
    Path image = work.resolve("verify-image");
    Path dir = work.resolve("verify-dir");
    Path sqfs = work.resolve("verify.sqfs");
    if (!Files.exists(image.resolve("index.json"))) {
      long bytes = SyntheticImage.write(image, List.of(
          new LayerPlan("usr/lib/base", 50000, 64_000, List.of(), List.of()),
          new LayerPlan("opt/app", 25000, 64_000, List.of("usr/lib/base/d3"), List.of("usr/lib/base/d1/file-150.txt"))), 11);
      System.out.printf("image: %.1f MB uncompressed%n", bytes / 1e6);
    }
    String ref = "oci:" + image + ":latest";
    if (!Files.exists(sqfs)) {
      run(work, "rm", "-rf", dir.toString());
      try (ImageSource source = ImageSources.open(ref); DirectoryRenderTarget target = new DirectoryRenderTarget(dir, false)) {
        new Renderer().renderTo(source, Platform.LINUX_AMD64, target);
      }
      run(work, "mksquashfs", dir.toString(), sqfs.toString(), "-comp", "gzip", "-Xcompression-level", "1",
          "-noappend", "-no-progress", "-quiet");
    }
    System.out.printf("squashfs: %.1f MB (%s)%n", Files.size(sqfs) / 1e6, sqfs);
    Path out = work.resolve("verify-unsquashfs");
    double[] ours = new double[rounds];
    double[] theirs = new double[rounds];
    double[] unsquash = new double[rounds];
    for (int round = -1; round < rounds; round++) {
      long t0 = System.nanoTime();
      VerifyReport report = Verification.run(sqfs.toString(), ref, ImageSources::open, Platform.LINUX_AMD64, VerifyOptions.DEFAULT);
      long t1 = System.nanoTime();
      if (!report.equal()) {
        throw new IllegalStateException("verify found differences:\n" + report.text());
      }
      run(work, "rm", "-rf", out.toString()); // untimed
      long t2 = System.nanoTime();
      run(work, "unsquashfs", "-q", "-no-progress", "-d", out.toString(), sqfs.toString());
      long t3 = System.nanoTime();
      FsModel walked = FsReaders.readDirectory(out);
      long t4 = System.nanoTime();
      if (walked.size() != report.compared()) {
        throw new IllegalStateException("walk saw " + walked.size() + " paths, verify " + report.compared());
      }
      System.out.printf("round %d: verify %.3f s; unsquashfs -d %.3f s + walk %.3f s = %.3f s (%d paths)%n", round,
          (t1 - t0) / 1e9, (t3 - t2) / 1e9, (t4 - t3) / 1e9, (t4 - t2) / 1e9, report.compared());
      if (round >= 0) {
        ours[round] = (t1 - t0) / 1e9;
        unsquash[round] = (t3 - t2) / 1e9;
        theirs[round] = (t4 - t2) / 1e9;
      }
    }
    run(work, "rm", "-rf", out.toString());
    double o = median(ours);
    double t = median(theirs);
    System.out.printf("median: verify %.3f s; unsquashfs -d + walk %.3f s (unsquashfs alone %.3f s); ratio verify/reference %.3f%n",
        o, t, median(unsquash), o / t);
  }

  private static double median(double[] v) {
    double[] s = v.clone();
    Arrays.sort(s);
    return s[s.length / 2];
  }

  private static void run(Path dir, String... command) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(new ArrayList<>(List.of(command))).directory(dir.toFile()).inheritIO().start();
    if (p.waitFor() != 0) {
      throw new IOException(String.join(" ", command) + " exited " + p.exitValue());
    }
  }
}
