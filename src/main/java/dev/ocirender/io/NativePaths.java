package dev.ocirender.io;

import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.nio.charset.Charset;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Optional;

/**
 * Raw name bytes to {@link Path}s and back, without losing a byte: the one place that knows how
 * names survive the platform charset (the directory writer builds paths with it, the directory
 * reader of {@code verify} reads names and symlink targets back with it).
 *
 * <p>Java paths are built from Strings, which the JDK encodes with {@code sun.jnu.encoding}: a name
 * that is not valid in that charset (a Latin-1 {@code caf\xe9} under UTF-8, anything non-ASCII under
 * the C locale) would be silently replaced by {@code ?}. On Unix a {@code file:} URI is decoded
 * straight to bytes, so percent-encoding every byte gives an exact path whatever the locale. ASCII
 * names, the common case, take the cheap String route.
 *
 * <p>Deliberately not here: any check that a name is safe to use; the sink validates components
 * before it asks for a path.
 */
public final class NativePaths {

  private static final Charset JNU = jnuCharset();
  private static final byte[] HEX = "0123456789ABCDEF".getBytes(java.nio.charset.StandardCharsets.US_ASCII);

  private NativePaths() {}

  /** {@code dir} joined with one raw name (no slash inside). */
  public static Path child(Path dir, byte[] name) {
    if (isAscii(name)) {
      return dir.resolve(new String(name, java.nio.charset.StandardCharsets.ISO_8859_1));
    }
    return fromUri(dir, name);
  }

  /**
   * The path whose bytes are exactly {@code raw}, relative or absolute as {@code raw} is, if Java
   * can represent it: the bytes must survive the platform charset and must not be changed by
   * Java's path normalisation (which drops a trailing slash and folds {@code //}). Used for symlink
   * targets, which must stay byte-exact.
   */
  public static Optional<Path> exact(byte[] raw) {
    if (raw.length == 0) {
      return Optional.empty();
    }
    String s = new String(raw, JNU);
    try {
      Path p = Path.of(s);
      return Arrays.equals(p.toString().getBytes(JNU), raw) ? Optional.of(p) : Optional.empty();
    } catch (InvalidPathException e) {
      return Optional.empty();
    }
  }

  /**
   * The bytes of a path as the kernel has them. Java decodes names with the platform charset, which
   * loses bytes that are invalid in it; a {@code file:} URI keeps every byte percent-encoded.
   */
  public static byte[] rawBytes(Path p) {
    String s = p.toString();
    if (isAscii(s)) {
      return s.getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    }
    byte[] encoded = s.getBytes(JNU);
    if (s.indexOf('\uFFFD') < 0 && new String(encoded, JNU).equals(s)) {
      return encoded;
    }
    boolean absolute = p.isAbsolute();
    String raw = (absolute ? p : Path.of("/").resolve(p)).toUri().getRawPath();
    byte[] bytes = percentDecode(raw);
    if (!absolute) {
      bytes = Arrays.copyOfRange(bytes, 1, bytes.length);
    }
    if (bytes.length > 1 && bytes[bytes.length - 1] == '/' && !s.endsWith("/")) { // toUri marks directories
      bytes = Arrays.copyOf(bytes, bytes.length - 1);
    }
    return bytes;
  }

  private static boolean isAscii(String s) {
    for (int i = 0; i < s.length(); i++) {
      if (s.charAt(i) >= 0x80) {
        return false;
      }
    }
    return true;
  }

  private static byte[] percentDecode(String s) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(s.length());
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '%' && i + 2 < s.length()) {
        out.write(Character.digit(s.charAt(i + 1), 16) << 4 | Character.digit(s.charAt(i + 2), 16));
        i += 2;
      } else {
        out.write(c);
      }
    }
    return out.toByteArray();
  }

  private static Path fromUri(Path dir, byte[] name) {
    String base = dir.toAbsolutePath().toUri().getRawPath();
    StringBuilder sb = new StringBuilder(base.length() + name.length * 3 + 1).append(base);
    if (!base.endsWith("/")) {
      sb.append('/');
    }
    for (byte b : name) {
      int v = b & 0xff;
      if ((v >= 'a' && v <= 'z') || (v >= 'A' && v <= 'Z') || (v >= '0' && v <= '9') || v == '.' || v == '-' || v == '_') {
        sb.append((char) v);
      } else {
        sb.append('%').append((char) HEX[v >> 4]).append((char) HEX[v & 15]);
      }
    }
    return Path.of(URI.create("file://" + sb));
  }

  private static boolean isAscii(byte[] name) {
    for (byte b : name) {
      if (b < 0x20 || b == 0x7f) { // negative bytes (>= 0x80) too
        return false;
      }
    }
    return true;
  }

  private static Charset jnuCharset() {
    try {
      return Charset.forName(System.getProperty("sun.jnu.encoding", "UTF-8"));
    } catch (RuntimeException e) {
      return java.nio.charset.StandardCharsets.UTF_8;
    }
  }
}
