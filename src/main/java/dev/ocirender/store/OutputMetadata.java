package dev.ocirender.store;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * What ocirender records beside every published output, so that a later run can tell whether the
 * output there is the one it would write (same manifest digest and format) without reading it.
 *
 * <p>Object stores keep it as object metadata ({@code x-goog-meta-ocirender-*} on GCS); file stores
 * as a small JSON sidecar. It is a record of provenance, not a signature: nothing here is checked
 * against the output's bytes except {@link #sha256} by whoever cares to.
 *
 * @param source the image reference the output was rendered from
 * @param manifestDigest the rendered manifest's digest, e.g. {@code sha256:…}
 * @param platform the platform that was rendered, e.g. {@code linux/amd64}
 * @param format the output format's name ({@code tar}, ...)
 * @param sha256 the output's own sha256 in hex; null until the output is complete
 * @param toolVersion the ocirender version that wrote it
 */
public record OutputMetadata(String source, String manifestDigest, String platform, String format, String sha256, String toolVersion) {

  static final String PREFIX = "ocirender-";

  public OutputMetadata {
    Objects.requireNonNull(source, "source");
    Objects.requireNonNull(manifestDigest, "manifestDigest");
    Objects.requireNonNull(platform, "platform");
    Objects.requireNonNull(format, "format");
    Objects.requireNonNull(toolVersion, "toolVersion");
  }

  /** Metadata for an output about to be written: everything but its sha256. */
  public static OutputMetadata of(String source, String manifestDigest, String platform, String format) {
    return new OutputMetadata(source, manifestDigest, platform, format, null, currentToolVersion());
  }

  public OutputMetadata withSha256(String hex) {
    return new OutputMetadata(source, manifestDigest, platform, format, hex, toolVersion);
  }

  /** Whether an output with this metadata is a complete render of {@code manifestDigest} as {@code format}. */
  public boolean isCompleteRenderOf(String digest, String platformName, String formatName) {
    return sha256 != null && manifestDigest.equals(digest) && platform.equals(platformName) && format.equals(formatName);
  }

  /** As flat string pairs with {@code ocirender-} keys (object metadata, sidecar JSON). */
  public Map<String, String> toMap() {
    Map<String, String> m = new LinkedHashMap<>();
    m.put(PREFIX + "source", source);
    m.put(PREFIX + "manifest-digest", manifestDigest);
    m.put(PREFIX + "platform", platform);
    m.put(PREFIX + "format", format);
    if (sha256 != null) {
      m.put(PREFIX + "sha256", sha256);
    }
    m.put(PREFIX + "version", toolVersion);
    return m;
  }

  /** Reads {@link #toMap()}'s form back; null when the map holds no ocirender metadata. */
  public static OutputMetadata fromMap(Map<String, String> m) {
    if (m == null) {
      return null;
    }
    String source = m.get(PREFIX + "source");
    String digest = m.get(PREFIX + "manifest-digest");
    String platform = m.get(PREFIX + "platform");
    String format = m.get(PREFIX + "format");
    if (source == null || digest == null || platform == null || format == null) {
      return null;
    }
    return new OutputMetadata(source, digest, platform, format, m.get(PREFIX + "sha256"),
        m.getOrDefault(PREFIX + "version", "unknown"));
  }

  /** The version in the jar manifest, or {@code development} when run from classes. */
  public static String currentToolVersion() {
    String v = OutputMetadata.class.getPackage().getImplementationVersion();
    return v == null ? "development" : v;
  }
}
