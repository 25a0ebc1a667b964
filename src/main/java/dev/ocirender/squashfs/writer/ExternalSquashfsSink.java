package dev.ocirender.squashfs.writer;

import dev.ocirender.layer.EntryHeader;
import dev.ocirender.output.EntrySink;
import dev.ocirender.output.tar.TarEntrySink;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The optional external squashfs backend: the merged filesystem goes as a tar stream
 * ({@link TarEntrySink}) into {@code mksquashfs - OUT -tar} or {@code tar2sqfs OUT}, which writes
 * the image. For comparison and as a fallback; the Java writer ({@link SquashfsEntrySink}) is the
 * default.
 *
 * <p>The tool's stderr is collected and quoted in the error when it fails. The image is only as
 * deterministic as the tool makes it (mksquashfs stamps the current time unless
 * {@code SOURCE_DATE_EPOCH} is set). Not thread-safe.
 */
public final class ExternalSquashfsSink implements EntrySink {

  /** Which program builds the image. */
  public enum Tool {
    MKSQUASHFS,
    TAR2SQFS;

    public static Tool parse(String name) {
      for (Tool t : values()) {
        if (t.name().equalsIgnoreCase(name.trim())) {
          return t;
        }
      }
      throw new IllegalArgumentException("unknown squashfs tool '" + name + "' (supported: mksquashfs, tar2sqfs)");
    }

    public String command() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  private final Tool tool;
  private final Process process;
  private final TarEntrySink tar;
  private final Thread stderrReader;
  private final ByteArrayOutputStream stderr = new ByteArrayOutputStream();
  private boolean finished;

  public ExternalSquashfsSink(Tool tool, Path output, SquashfsOptions options) throws IOException {
    this.tool = tool;
    List<String> cmd = command(tool, output, options);
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectOutput(ProcessBuilder.Redirect.DISCARD);
    try {
      process = pb.start();
    } catch (IOException e) {
      throw new IOException("starting " + tool.command() + " (is it installed?): " + e.getMessage(), e);
    }
    stderrReader = new Thread(() -> {
      try (InputStream err = process.getErrorStream()) {
        err.transferTo(stderr);
      } catch (IOException e) {
        // the exit code tells
      }
    }, tool.command() + "-stderr");
    stderrReader.setDaemon(true);
    stderrReader.start();
    OutputStream stdin = new java.io.BufferedOutputStream(process.getOutputStream(), 1 << 16);
    // Expanded: the tool turns zero blocks into sparse blocks itself, and need not read GNU sparse entries.
    tar = new TarEntrySink(stdin, false);
  }

  static List<String> command(Tool tool, Path output, SquashfsOptions o) {
    List<String> cmd = new ArrayList<>();
    String comp = o.compression().cliName();
    if (tool == Tool.MKSQUASHFS) {
      cmd.addAll(List.of("mksquashfs", "-", output.toString(), "-tar", "-noappend", "-quiet", "-no-progress",
          "-comp", comp, "-b", Integer.toString(o.blockSize()), "-processors", Integer.toString(o.threads())));
      switch (o.compression()) {
        case ZSTD, GZIP -> cmd.addAll(List.of("-Xcompression-level", Integer.toString(o.level())));
        case LZ4 -> {
          if (o.level() == 1) {
            cmd.add("-Xhc");
          }
        }
        case XZ -> { }
      }
      if (!o.fragments()) {
        cmd.add("-no-fragments");
      }
      if (!o.deduplicate()) {
        cmd.add("-no-duplicates");
      }
      if (!o.exportable()) {
        cmd.add("-no-exports");
      }
    } else {
      cmd.addAll(List.of("tar2sqfs", "--quiet", "--force", "-c", comp, "-b", Integer.toString(o.blockSize()),
          "-j", Integer.toString(o.threads())));
      if (o.compression() == SquashfsCompression.ZSTD || o.compression() == SquashfsCompression.GZIP
          || o.compression() == SquashfsCompression.XZ) {
        cmd.addAll(List.of("-X", "level=" + o.level()));
      } else if (o.level() == 1) {
        cmd.addAll(List.of("-X", "hc"));
      }
      if (!o.fragments()) {
        cmd.add("--no-tail-packing");
      }
      if (o.exportable()) {
        cmd.add("--exportable");
      }
      cmd.add(output.toString());
    }
    return cmd;
  }

  @Override
  public void accept(EntryHeader header, InputStream content) throws IOException {
    try {
      tar.accept(header, content);
    } catch (IOException e) {
      throw failure("writing the tar stream", e);
    }
  }

  @Override
  public void finish() throws IOException {
    try {
      tar.finish();
      tar.close(); // end of stdin: the tool's end of input
    } catch (IOException e) {
      throw failure("writing the tar stream", e);
    }
    int code = waitFor();
    if (code != 0) {
      throw failure("exited " + code, null);
    }
    finished = true;
  }

  private int waitFor() throws IOException {
    try {
      int code = process.waitFor();
      stderrReader.join();
      return code;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      process.destroyForcibly();
      throw new InterruptedIOException("waiting for " + tool.command());
    }
  }

  private IOException failure(String what, IOException cause) throws IOException {
    if (cause != null) {
      process.getOutputStream().close();
      waitFor();
    }
    String err = stderr.toString(StandardCharsets.UTF_8).strip();
    return new IOException(tool.command() + " " + what + (err.isEmpty() ? "" : ": " + err), cause);
  }

  @Override
  public void close() throws IOException {
    try {
      tar.close();
    } finally {
      if (!finished && process.isAlive()) {
        process.destroyForcibly();
      }
    }
  }
}
