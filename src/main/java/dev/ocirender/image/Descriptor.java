package dev.ocirender.image;

import java.util.Map;
import java.util.Objects;

/**
 * A content descriptor: what a blob is ({@code mediaType}), its {@code digest} and {@code size}, and
 * for index entries the {@code platform} and {@code annotations}. See the OCI image spec,
 * descriptor.md. Every blob read through an {@code ImageSource} is checked against its descriptor.
 */
public record Descriptor(String mediaType, Digest digest, long size, Platform platform, Map<String, String> annotations) {

  public Descriptor {
    Objects.requireNonNull(digest, "digest");
    if (size < 0) {
      throw new IllegalArgumentException("negative size " + size + " for " + digest);
    }
    annotations = annotations == null ? Map.of() : Map.copyOf(annotations);
  }

  public Descriptor(String mediaType, Digest digest, long size) {
    this(mediaType, digest, size, null, Map.of());
  }

  public String annotation(String key) {
    return annotations.get(key);
  }
}
