package dev.ocirender.image.json;

import com.fasterxml.jackson.annotation.JsonAutoDetect;
import com.fasterxml.jackson.annotation.JsonAutoDetect.Visibility;
import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import dev.ocirender.image.Descriptor;
import dev.ocirender.image.Digest;
import dev.ocirender.image.Platform;
import java.util.List;
import java.util.Map;

/**
 * A content descriptor as it appears on the wire, inside an index, a manifest or a Docker manifest
 * list.
 *
 * <p>Example:
 *
 * <pre>{@code
 * {
 *   "mediaType": "application/vnd.oci.image.manifest.v1+json",
 *   "digest": "sha256:2d545d571073b495673612f5d4fc6390e46ca19ad20733e7489201a6afb6fa2d",
 *   "size": 345,
 *   "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"},
 *   "annotations": {"org.opencontainers.image.ref.name": "v1"}
 * }
 * }</pre>
 *
 * <p>Nothing is validated when parsing; {@link #toDescriptor()} validates. {@code urls} is kept for
 * messages about foreign layers; ocirender never fetches from it.
 *
 * @see <a href="https://github.com/opencontainers/image-spec/blob/main/descriptor.md">OCI descriptor</a>
 */
@JsonIgnoreProperties(ignoreUnknown = true)
@JsonInclude(JsonInclude.Include.NON_EMPTY)
@JsonAutoDetect(fieldVisibility = Visibility.ANY, getterVisibility = Visibility.NONE, isGetterVisibility = Visibility.NONE)
public final class DescriptorTemplate {

  /** The {@code platform} object of an index entry. */
  @JsonIgnoreProperties(ignoreUnknown = true)
  @JsonInclude(JsonInclude.Include.NON_EMPTY)
  @JsonAutoDetect(fieldVisibility = Visibility.ANY, getterVisibility = Visibility.NONE, isGetterVisibility = Visibility.NONE)
  public static final class PlatformTemplate {
    private String architecture;
    private String os;
    @JsonProperty("os.version")
    private String osVersion;
    @JsonProperty("os.features")
    private List<String> osFeatures;
    private String variant;

    public String os() {
      return os;
    }

    public String architecture() {
      return architecture;
    }

    public String variant() {
      return variant;
    }

    public String osVersion() {
      return osVersion;
    }

    /** The platform, or null when {@code os} or {@code architecture} is missing (nothing to match on). */
    public Platform toPlatform() {
      if (os == null || os.isEmpty() || architecture == null || architecture.isEmpty()) {
        return null;
      }
      return new Platform(os, architecture, variant);
    }

    static PlatformTemplate of(Platform platform) {
      PlatformTemplate t = new PlatformTemplate();
      t.os = platform.os();
      t.architecture = platform.architecture();
      t.variant = platform.variant();
      return t;
    }
  }

  private String mediaType;
  private String digest;
  private Long size;
  private List<String> urls;
  private Map<String, String> annotations;
  private PlatformTemplate platform;

  public String mediaType() {
    return mediaType;
  }

  /** The digest as written, unvalidated. */
  public String digest() {
    return digest;
  }

  /** The size as written, or null when absent. */
  public Long size() {
    return size;
  }

  public List<String> urls() {
    return urls == null ? List.of() : urls;
  }

  public Map<String, String> annotations() {
    return annotations == null ? Map.of() : annotations;
  }

  public PlatformTemplate platform() {
    return platform;
  }

  /**
   * Validates and converts to the value type.
   *
   * @throws MalformedTemplateException naming the problem: missing or malformed digest, missing or
   *     negative size
   */
  public Descriptor toDescriptor() throws MalformedTemplateException {
    if (digest == null) {
      throw new MalformedTemplateException("descriptor has no digest");
    }
    Digest parsed;
    try {
      parsed = Digest.parse(digest);
    } catch (IllegalArgumentException e) {
      throw new MalformedTemplateException("descriptor has " + e.getMessage(), e);
    }
    if (size == null) {
      throw new MalformedTemplateException("descriptor " + digest + " has no size");
    }
    if (size < 0) {
      throw new MalformedTemplateException("descriptor " + digest + " has negative size " + size);
    }
    return new Descriptor(mediaType, parsed, size, platform == null ? null : platform.toPlatform(), annotations);
  }

  /** The wire form of {@code descriptor} (for manifests that a source synthesises). */
  public static DescriptorTemplate of(Descriptor descriptor) {
    DescriptorTemplate t = new DescriptorTemplate();
    t.mediaType = descriptor.mediaType();
    t.digest = descriptor.digest().toString();
    t.size = descriptor.size();
    t.annotations = descriptor.annotations().isEmpty() ? null : descriptor.annotations();
    t.platform = descriptor.platform() == null ? null : PlatformTemplate.of(descriptor.platform());
    return t;
  }
}
