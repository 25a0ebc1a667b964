package dev.ocirender.pipeline;

import dev.ocirender.image.Digest;
import dev.ocirender.render.OutputFormat;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * The default output name of a catalog line that names no output:
 * {@code PREFIX/<reference, sanitised>-<8 hex of its sha256>-<os>-<arch>[-<variant>].<ext>}, e.g.
 * {@code oci:/data/app:v1} for {@code linux/arm64} as tar becomes
 * {@code data_app_v1-3f1c0a2b-linux-arm64.tar}.
 *
 * <p>The sanitised part keeps only {@code [A-Za-z0-9._-]} (anything else becomes {@code _}), so
 * names are safe for every object store and filesystem, and is cut to 100 characters; the hash of
 * the full reference keeps two references that sanitise alike apart. Names depend on the reference,
 * not the manifest digest, so a re-run finds the previous output where it left it.
 */
public final class OutputNames {

  private static final int MAX_READABLE = 100;

  private OutputNames() {}

  public static String defaultOutput(String prefix, String reference, String platform, OutputFormat format) {
    String sep = prefix.endsWith("/") ? "" : "/";
    return prefix + sep + name(reference, platform, format);
  }

  public static String name(String reference, String platform, OutputFormat format) {
    String withoutTransport = reference.replaceFirst("^(docker://|oci:|docker-archive:)", "");
    String readable = withoutTransport.replaceAll("[^A-Za-z0-9._-]+", "_").replaceAll("^[_.]+|_+$", "");
    if (readable.length() > MAX_READABLE) {
      readable = readable.substring(0, MAX_READABLE);
    }
    if (readable.isEmpty()) {
      readable = "image";
    }
    String hash = Digest.sha256Of(reference.getBytes(StandardCharsets.UTF_8)).hex().substring(0, 8);
    return readable + "-" + hash + "-" + platform.replace('/', '-') + extension(format);
  }

  static String extension(OutputFormat format) {
    return switch (format) {
      case TAR -> ".tar";
      case SQUASHFS -> ".squashfs";
      case DIR -> "";
    };
  }

  static String lower(String s) {
    return s.toLowerCase(Locale.ROOT);
  }
}
