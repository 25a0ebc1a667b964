package dev.ocirender.layer;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A normalised path inside an image's root filesystem, as the raw bytes of its name.
 *
 * <p>Names in tar layers are byte strings, not text: a non-UTF-8 name must reach every output
 * byte-exact, so a path is never decoded to a {@link String} except for display. The normalised form
 * has no leading {@code /} or {@code ./}, no empty or {@code .} components, no trailing slash, and
 * {@code ..} resolved lexically; the root itself is the empty path. Ordering is unsigned byte order,
 * which is also the order squashfs requires for directory entries.
 */
public final class EntryPath implements Comparable<EntryPath> {

  public static final EntryPath ROOT = new EntryPath(new byte[0]);

  private final byte[] bytes;
  private int hash;

  private EntryPath(byte[] bytes) {
    this.bytes = bytes;
  }

  /**
   * Normalises a raw tar name.
   *
   * @throws PathEscapeException if {@code ..} components climb above the root
   */
  public static EntryPath normalize(byte[] raw) throws PathEscapeException {
    List<byte[]> parts = new ArrayList<>();
    int start = 0;
    for (int i = 0; i <= raw.length; i++) {
      if (i == raw.length || raw[i] == '/') {
        int len = i - start;
        if (len == 0 || (len == 1 && raw[start] == '.')) {
          // empty or "." component: skip
        } else if (len == 2 && raw[start] == '.' && raw[start + 1] == '.') {
          if (parts.isEmpty()) {
            throw new PathEscapeException(display(raw));
          }
          parts.remove(parts.size() - 1);
        } else {
          parts.add(Arrays.copyOfRange(raw, start, i));
        }
        start = i + 1;
      }
    }
    if (parts.isEmpty()) {
      return ROOT;
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream(raw.length);
    for (int i = 0; i < parts.size(); i++) {
      if (i > 0) {
        out.write('/');
      }
      out.writeBytes(parts.get(i));
    }
    return new EntryPath(out.toByteArray());
  }

  /** Normalises a path given as text (UTF-8); for tests and command-line arguments. */
  public static EntryPath of(String path) {
    try {
      return normalize(path.getBytes(StandardCharsets.UTF_8));
    } catch (PathEscapeException e) {
      throw new IllegalArgumentException(e.getMessage(), e);
    }
  }

  public boolean isRoot() {
    return bytes.length == 0;
  }

  /** The raw bytes of the normalised path; callers must not modify them. */
  public byte[] bytes() {
    return bytes;
  }

  public int length() {
    return bytes.length;
  }

  /** The last component, or the empty array for the root. */
  public byte[] name() {
    int slash = lastSlash();
    return Arrays.copyOfRange(bytes, slash + 1, bytes.length);
  }

  /** The parent directory; the root's parent is the root. */
  public EntryPath parent() {
    int slash = lastSlash();
    return slash < 0 ? ROOT : new EntryPath(Arrays.copyOf(bytes, slash));
  }

  public EntryPath child(byte[] name) {
    if (isRoot()) {
      return new EntryPath(name.clone());
    }
    byte[] joined = Arrays.copyOf(bytes, bytes.length + 1 + name.length);
    joined[bytes.length] = '/';
    System.arraycopy(name, 0, joined, bytes.length + 1, name.length);
    return new EntryPath(joined);
  }

  /** The components from the root down, e.g. {@code [usr, bin, sh]}. */
  public List<byte[]> components() {
    List<byte[]> parts = new ArrayList<>();
    if (isRoot()) {
      return parts;
    }
    int start = 0;
    for (int i = 0; i <= bytes.length; i++) {
      if (i == bytes.length || bytes[i] == '/') {
        parts.add(Arrays.copyOfRange(bytes, start, i));
        start = i + 1;
      }
    }
    return parts;
  }

  /** Whether {@code this} lies strictly below {@code ancestor}. */
  public boolean isStrictlyUnder(EntryPath ancestor) {
    if (ancestor.isRoot()) {
      return !isRoot();
    }
    return bytes.length > ancestor.bytes.length
        && bytes[ancestor.bytes.length] == '/'
        && Arrays.equals(bytes, 0, ancestor.bytes.length, ancestor.bytes, 0, ancestor.bytes.length);
  }

  private int lastSlash() {
    for (int i = bytes.length - 1; i >= 0; i--) {
      if (bytes[i] == '/') {
        return i;
      }
    }
    return -1;
  }

  @Override
  public int compareTo(EntryPath other) {
    return Arrays.compareUnsigned(bytes, other.bytes);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof EntryPath && Arrays.equals(bytes, ((EntryPath) o).bytes);
  }

  @Override
  public int hashCode() {
    int h = hash;
    if (h == 0 && bytes.length > 0) {
      h = Arrays.hashCode(bytes);
      hash = h;
    }
    return h;
  }

  /** For display: UTF-8 text, with bytes that are not valid UTF-8 shown as {@code \xNN}. */
  @Override
  public String toString() {
    return isRoot() ? "." : display(bytes);
  }

  /** How many bytes of a name {@link #quote} shows before cutting it. */
  public static final int MESSAGE_NAME_BYTES = 200;

  /**
   * A name for an error message: in single quotes, escaped as by {@link #display}, and cut to its
   * first {@value #MESSAGE_NAME_BYTES} bytes (at a character boundary) with its length stated when
   * longer, e.g. {@code 'aaaa…' (1048576 bytes)}. Every message that names an entry uses this, so no
   * name can make a message megabytes long.
   */
  public static String quote(byte[] raw) {
    if (raw.length <= MESSAGE_NAME_BYTES) {
      return "'" + escapeControls(display(raw)) + "'";
    }
    int cut = MESSAGE_NAME_BYTES;
    // Back off over UTF-8 continuation bytes so a multi-byte character is not shown half escaped.
    for (int i = 0; i < 3 && cut > 0 && (raw[cut] & 0xc0) == 0x80; i++) {
      cut--;
    }
    return "'" + escapeControls(display(Arrays.copyOf(raw, cut))) + "\u2026' (" + raw.length + " bytes)";
  }

  /** NUL, newlines and other control characters as {@code \xNN}: a message stays one clean line. */
  private static String escapeControls(String s) {
    StringBuilder sb = null;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c < 0x20 || c == 0x7f) {
        if (sb == null) {
          sb = new StringBuilder(s.length() + 8).append(s, 0, i);
        }
        sb.append(String.format("\\x%02x", (int) c));
      } else if (sb != null) {
        sb.append(c);
      }
    }
    return sb == null ? s : sb.toString();
  }

  /** This path for an error message; see {@link #quote(byte[])}. */
  public String quoted() {
    return isRoot() ? "'.'" : quote(bytes);
  }

  /** Renders raw name bytes for display, escaping what is not valid UTF-8; never cut (see {@link #quote}). */
  public static String display(byte[] raw) {
    if (isAscii(raw)) {
      // The common case, and decoding is not free: the tar reader labels every entry it reads.
      return new String(raw, StandardCharsets.US_ASCII);
    }
    try {
      return StandardCharsets.UTF_8.newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(ByteBuffer.wrap(raw))
          .toString();
    } catch (CharacterCodingException e) {
      StringBuilder sb = new StringBuilder();
      for (byte b : raw) {
        int v = b & 0xff;
        if (v >= 0x20 && v < 0x7f && v != '\\') {
          sb.append((char) v);
        } else {
          sb.append(String.format("\\x%02x", v));
        }
      }
      return sb.toString();
    }
  }

  private static boolean isAscii(byte[] raw) {
    for (byte b : raw) {
      if (b < 0) {
        return false;
      }
    }
    return true;
  }
}
