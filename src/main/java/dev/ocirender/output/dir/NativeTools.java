package dev.ocirender.output.dir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The few filesystem operations Java 17 has no API for, done by the standard tools of coreutils and
 * the {@code attr} package: {@code mkfifo}, {@code mknod}, {@code touch -h} (nanosecond times on
 * symlinks, FIFOs and device nodes without opening them), {@code setfattr -h --restore}
 * (extended attributes of any namespace, binary values) and {@code ln -s} for link targets Java
 * cannot spell.
 *
 * <p>Why processes rather than JNI or a native-access library: they keep the build pure Java with no
 * new dependency, and every use here is either rare (FIFOs, devices, odd symlinks) or batched into
 * one process per render (xattrs) or per distinct timestamp (touch). Raw name bytes never go through
 * a command line, whose Strings the JDK would re-encode: names travel NUL-separated on stdin
 * ({@code xargs -0}) or octal-escaped in a dump file, and a process always runs in the render's
 * root so that paths are relative to it.
 *
 * <p>Not a general process helper: output is collected in memory, which is fine for these tools'
 * few lines of error text.
 */
final class NativeTools {

  private NativeTools() {}

  /** Runs {@code command} in {@code dir}, feeding {@code stdin}; fails with the tool's stderr. */
  static void run(Path dir, List<String> command, byte[] stdin) throws IOException {
    Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
    byte[] out;
    try (OutputStream in = p.getOutputStream()) {
      if (stdin != null) {
        in.write(stdin);
      }
    }
    try (InputStream o = p.getInputStream()) {
      out = o.readAllBytes();
    }
    try {
      if (!p.waitFor(5, TimeUnit.MINUTES)) {
        p.destroyForcibly();
        throw new IOException("timed out: " + String.join(" ", command));
      }
    } catch (InterruptedException e) {
      p.destroyForcibly();
      Thread.currentThread().interrupt();
      throw new IOException("interrupted: " + String.join(" ", command), e);
    }
    if (p.exitValue() != 0) {
      throw new IOException(String.join(" ", command.subList(0, Math.min(3, command.size()))) + " exited "
          + p.exitValue() + ": " + new String(out, StandardCharsets.UTF_8).strip());
    }
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
