package dev.ocirender.image.json;

import com.fasterxml.jackson.core.JsonGenerator;
import dev.ocirender.image.Descriptor;
import dev.ocirender.image.Digest;
import dev.ocirender.image.Platform;
import java.io.IOException;
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
public final class DescriptorTemplate {

  /** The {@code platform} object of an index entry. */
  public static final class PlatformTemplate {
    private String architecture;
    private String os;
    private String osVersion;
    private List<String> osFeatures;
    private String variant;

    static PlatformTemplate read(TemplateParser p, String what) throws IOException {
      if (!p.beginObject(what)) {
        return null;
      }
      PlatformTemplate t = new PlatformTemplate();
      for (String field; (field = p.nextField()) != null; ) {
        switch (field) {
          case "architecture" -> t.architecture = p.string(what + ".architecture");
          case "os" -> t.os = p.string(what + ".os");
          case "os.version" -> t.osVersion = p.string(what + ".os.version");
          case "os.features" -> t.osFeatures = p.strings(what + ".os.features");
          case "variant" -> t.variant = p.string(what + ".variant");
          default -> p.skip();
        }
      }
      return t;
    }

    void write(JsonGenerator g) throws IOException {
      g.writeStartObject();
      JsonTemplates.writeIfNotEmpty(g, "architecture", architecture);
      JsonTemplates.writeIfNotEmpty(g, "os", os);
      JsonTemplates.writeIfNotEmpty(g, "os.version", osVersion);
      JsonTemplates.writeIfNotEmpty(g, "os.features", osFeatures);
      JsonTemplates.writeIfNotEmpty(g, "variant", variant);
      g.writeEndObject();
    }

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

  /** Reads a descriptor object; null for JSON null. */
  static DescriptorTemplate read(TemplateParser p, String what) throws IOException {
    if (!p.beginObject(what)) {
      return null;
    }
    DescriptorTemplate t = new DescriptorTemplate();
    for (String field; (field = p.nextField()) != null; ) {
      switch (field) {
        case "mediaType" -> t.mediaType = p.string(what + ".mediaType");
        case "digest" -> t.digest = p.string(what + ".digest");
        case "size" -> t.size = p.integer(what + ".size");
        case "urls" -> t.urls = p.strings(what + ".urls");
        case "annotations" -> t.annotations = p.stringMap(what + ".annotations");
        case "platform" -> t.platform = PlatformTemplate.read(p, what + ".platform");
        default -> p.skip();
      }
    }
    return t;
  }

  /** Writes the descriptor compactly, empty fields left out, in the order of the specification's examples. */
  void write(JsonGenerator g) throws IOException {
    g.writeStartObject();
    JsonTemplates.writeIfNotEmpty(g, "mediaType", mediaType);
    JsonTemplates.writeIfNotEmpty(g, "digest", digest);
    if (size != null) {
      g.writeNumberField("size", size);
    }
    JsonTemplates.writeIfNotEmpty(g, "urls", urls);
    JsonTemplates.writeIfNotEmpty(g, "annotations", annotations);
    if (platform != null) {
      g.writeFieldName("platform");
      platform.write(g);
    }
    g.writeEndObject();
  }

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
