package dev.ocirender.output.dir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The directory writer's fallback for the few filesystem operations Java 17 has no API for, done by
 * the standard tools of coreutils and the {@code attr} package: {@code mkfifo}, {@code mknod},
 * {@code touch -h} (nanosecond times on symlinks, FIFOs and device nodes without opening them),
 * {@code setfattr -h --restore} (extended attributes of any namespace, binary values) and
 * {@code ln -s} for link targets Java cannot spell. Used only where the direct Linux calls of
 * {@link LinuxFs} cannot be bound (no JNA native library, another OS or architecture) or are turned
 * off; on Linux the writer starts no process at all.
 *
 * <p>Every use here is either rare (FIFOs, devices, odd symlinks) or batched into one process per
 * render (xattrs) or per distinct timestamp (touch). Raw name bytes never go through a command
 * line, whose Strings the JDK would re-encode: names travel NUL-separated on stdin
 * ({@code xargs -0}) or octal-escaped in a dump file, and a process always runs in the render's
 * root so that paths are relative to it.
 *
 * <p>Not a general process helper: only the start of a tool's output is kept, for the error message.
 */
final class NativeTools {

  private NativeTools() {}

  /** How long one tool may run before it is killed; these tools touch only metadata. */
  static final Duration DEFAULT_TIMEOUT = Duration.ofMinutes(10);
  /** How much of a tool's output an error message keeps (a tool can print one error per record). */
  static final int KEPT_OUTPUT_BYTES = 4096;

  /** Runs {@code command} in {@code dir}, feeding {@code stdin}; fails with the tool's stderr. */
  static void run(Path dir, List<String> command, byte[] stdin) throws IOException {
    run(dir, command, stdin, DEFAULT_TIMEOUT);
  }

  /**
   * Runs {@code command} in {@code dir}, feeding {@code stdin} on a thread of its own while another
   * drains the tool's output: a tool that writes errors while it reads (setfattr --restore, once a
   * filesystem refuses xattrs) would otherwise block on a full pipe while we block feeding it. The
   * tool and its children are killed after {@code timeout}. Fails with the start of its output.
   */
  static void run(Path dir, List<String> command, byte[] stdin, Duration timeout) throws IOException {
    String name = String.join(" ", command.subList(0, Math.min(3, command.size())));
    Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
    Thread feeder = daemon("feed " + command.get(0), () -> {
      try (OutputStream in = p.getOutputStream()) {
        if (stdin != null) {
          in.write(stdin);
        }
      } catch (IOException e) {
        // The tool closed its stdin (it exited or gave up): its exit status and output say why.
      }
    });
    ByteArrayOutputStream kept = new ByteArrayOutputStream();
    long[] total = new long[1];
    Thread drainer = daemon("drain " + command.get(0), () -> {
      byte[] buf = new byte[8192];
      try (InputStream o = p.getInputStream()) {
        int n;
        while ((n = o.read(buf)) > 0) {
          synchronized (kept) {
            kept.write(buf, 0, (int) Math.min(n, Math.max(0, KEPT_OUTPUT_BYTES - kept.size())));
            total[0] += n;
          }
        }
      } catch (IOException e) {
        // the pipe closed under us: the process is gone
      }
    });
    try {
      if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        kill(p);
        throw new IOException(name + " did not finish within " + timeout.toSeconds() + " s and was killed");
      }
      // The tool has exited; its output ends once any children holding the pipe have too.
      drainer.join(TimeUnit.SECONDS.toMillis(30));
      feeder.join(TimeUnit.SECONDS.toMillis(30));
    } catch (InterruptedException e) {
      kill(p);
      Thread.currentThread().interrupt();
      throw new IOException("interrupted: " + name, e);
    }
    if (p.exitValue() != 0) {
      String out;
      synchronized (kept) {
        out = new String(kept.toByteArray(), StandardCharsets.UTF_8).strip();
        if (total[0] > kept.size()) {
          out += " … (" + total[0] + " bytes of output in all)";
        }
      }
      throw new IOException(name + " exited " + p.exitValue() + ": " + out);
    }
  }

  private static void kill(Process p) {
    p.descendants().forEach(ProcessHandle::destroyForcibly);
    p.destroyForcibly();
  }

  private static Thread daemon(String name, Runnable r) {
    Thread t = new Thread(r, "ocirender " + name);
    t.setDaemon(true);
    t.start();
    return t;
  }

  /** NUL-separated raw paths, for {@code xargs -0}. */
  static final class NulList {
    private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();

    void add(byte[] raw) {
      bytes.writeBytes(raw);
      bytes.write(0);
    }

    boolean isEmpty() {
      return bytes.size() == 0;
    }

    byte[] toByteArray() {
      return bytes.toByteArray();
    }
  }

  /**
   * Escapes a name for a {@code getfattr --dump} file, as setfattr unquotes it: every byte that is
   * not printable ASCII, and the backslash and {@code =} themselves, as a backslash and three octal
   * digits.
   */
  static void appendQuoted(ByteArrayOutputStream out, byte[] raw) {
    for (byte b : raw) {
      int v = b & 0xff;
      if (v <= 0x20 || v >= 0x7f || v == '\\' || v == '=') {
        out.write('\\');
        out.write('0' + (v >> 6));
        out.write('0' + ((v >> 3) & 7));
        out.write('0' + (v & 7));
      } else {
        out.write(v);
      }
    }
  }
}
