package dev.ocirender.image;

import java.util.Objects;
import java.util.regex.Pattern;

/**
 * A registry image reference such as {@code alpine}, {@code ghcr.io/org/app:v1} or
 * {@code localhost:5000/app@sha256:…}, normalised as Docker does.
 *
 * <ul>
 *   <li>The first path component is the registry if it contains {@code .} or {@code :} or is
 *       {@code localhost}; otherwise the registry is {@code docker.io}.
 *   <li>On {@code docker.io} a one-component repository gets {@code library/}
 *       ({@code alpine} is {@code docker.io/library/alpine}); {@code index.docker.io} is
 *       {@code docker.io}.
 *   <li>Without a tag or digest the tag is {@code latest}. With both ({@code name:tag@digest}) the
 *       digest wins: the tag is kept for display only, and the image is pulled by digest.
 * </ul>
 *
 * <p>A value type: immutable, equal when all parts are equal; {@link #toString()} is the canonical
 * fully qualified form. It does not know where a registry really is (that {@code docker.io} is served
 * by {@code registry-1.docker.io}, mirrors, insecure registries): that is the registry client's
 * business.
 */
public final class ImageReference {

  public static final String DOCKER_HUB = "docker.io";
  public static final String DEFAULT_TAG = "latest";

  // From the distribution reference grammar (reference/regexp.go), restated.
  private static final Pattern COMPONENT = Pattern.compile("[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*");
  private static final Pattern TAG = Pattern.compile("[\\w][\\w.-]{0,127}");
  private static final Pattern REGISTRY = Pattern.compile(
      "(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*"
          + "|\\[[0-9a-fA-F:.]+\\])(?::[0-9]+)?");

  private final String registry;
  private final String repository;
  private final String tag;
  private final Digest digest;

  private ImageReference(String registry, String repository, String tag, Digest digest) {
    this.registry = registry;
    this.repository = repository;
    this.tag = tag;
    this.digest = digest;
  }

  /** Parses and normalises {@code value}; throws {@link IllegalArgumentException} saying what is wrong. */
  public static ImageReference parse(String value) {
    if (value == null || value.isEmpty()) {
      throw new IllegalArgumentException("empty image reference");
    }
    String rest = value;
    Digest digest = null;
    int at = rest.indexOf('@');
    if (at >= 0) {
      try {
        digest = Digest.parse(rest.substring(at + 1));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("image reference " + value + ": " + e.getMessage(), e);
      }
      rest = rest.substring(0, at);
    }
    String tag = null;
    int colon = rest.lastIndexOf(':');
    if (colon > rest.lastIndexOf('/')) {
      tag = rest.substring(colon + 1);
      rest = rest.substring(0, colon);
      if (!TAG.matcher(tag).matches()) {
        throw new IllegalArgumentException("image reference " + value + ": invalid tag '" + tag + "'");
      }
    }
    String registry = DOCKER_HUB;
    String repository = rest;
    int slash = rest.indexOf('/');
    if (slash > 0) {
      String first = rest.substring(0, slash);
      if (first.contains(".") || first.contains(":") || first.equals("localhost")) {
        registry = first;
        repository = rest.substring(slash + 1);
        if (!REGISTRY.matcher(registry).matches()) {
          throw new IllegalArgumentException("image reference " + value + ": invalid registry '" + registry + "'");
        }
      }
    }
    if (registry.equals("index.docker.io")) {
      registry = DOCKER_HUB;
    }
    if (registry.equals(DOCKER_HUB) && !repository.contains("/")) {
      repository = "library/" + repository;
    }
    if (repository.isEmpty()) {
      throw new IllegalArgumentException("image reference " + value + ": no repository");
    }
    for (String component : repository.split("/", -1)) {
      if (!COMPONENT.matcher(component).matches()) {
        throw new IllegalArgumentException("image reference " + value + ": invalid repository '" + repository
            + "' (lower-case letters, digits and . _ - separators only)");
      }
    }
    if (tag == null && digest == null) {
      tag = DEFAULT_TAG;
    }
    return new ImageReference(registry, repository, tag, digest);
  }

  /** The registry as named: {@code docker.io}, {@code localhost:5000}, {@code gcr.io}. */
  public String registry() {
    return registry;
  }

  /** The repository path: {@code library/alpine}. */
  public String repository() {
    return repository;
  }

  /** The tag, or null when only a digest was given. */
  public String tag() {
    return tag;
  }

  /** The pinned digest, or null. */
  public Digest digest() {
    return digest;
  }

  /** What to ask the manifests endpoint for: the digest when pinned, else the tag. */
  public String manifestReference() {
    return digest != null ? digest.toString() : tag;
  }

  /** This reference on another registry (a mirror), same repository, tag and digest. */
  public ImageReference withRegistry(String otherRegistry) {
    return new ImageReference(otherRegistry, repository, tag, digest);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof ImageReference r && r.registry.equals(registry) && r.repository.equals(repository)
        && Objects.equals(r.tag, tag) && Objects.equals(r.digest, digest);
  }

  @Override
  public int hashCode() {
    return Objects.hash(registry, repository, tag, digest);
  }

  /** {@code registry/repository[:tag][@digest]}, fully qualified. */
  @Override
  public String toString() {
    return registry + "/" + repository + (tag != null ? ":" + tag : "") + (digest != null ? "@" + digest : "");
  }
}
