package dev.ocirender.source;

import dev.ocirender.image.Digest;
import dev.ocirender.source.layout.DockerArchiveSource;
import dev.ocirender.source.layout.OciLayoutSource;
import dev.ocirender.source.registry.RegistryContext;
import dev.ocirender.source.registry.RegistryImageSource;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Opens an {@link ImageSource} from a skopeo-style reference ({@code transport:details}).
 *
 * <p>Supported:
 *
 * <ul>
 *   <li>{@code oci:DIR}, {@code oci:DIR:TAG} (matched against the
 *       {@code org.opencontainers.image.ref.name} annotation in {@code index.json}),
 *       {@code oci:DIR@sha256:…} (a manifest or index in the layout);
 *   <li>{@code docker-archive:PATH}, {@code docker-archive:PATH:REPO[:TAG]} (matched against
 *       {@code RepoTags}), {@code docker-archive:PATH:@N} (the N-th image, from 0); PATH is a
 *       {@code docker save} tarball or an extracted one;
 *   <li>{@code docker://[REGISTRY/]REPOSITORY[:TAG][@DIGEST]}, an image in a registry
 *       ({@link RegistryImageSource}).
 * </ul>
 *
 * <p>As in skopeo, the path ends at the first {@code :}, so it cannot contain one.
 */
public final class ImageSources {

  /** What the error for an unknown transport lists. */
  public static final String SUPPORTED =
      "oci:DIR[:TAG], oci:DIR@DIGEST, docker-archive:PATH[:REFERENCE], docker://IMAGE[:TAG|@DIGEST]";

  private static final Pattern DIGEST_SUFFIX = Pattern.compile("@((?:sha256|sha512):[^@:/]*)$");

  private ImageSources() {}

  /**
   * Parses {@code spec} and opens the source; the layout or archive is checked for its basic shape
   * here, the image itself is read by {@link ImageSource#resolve}.
   *
   * @throws ImageSourceException for an unsupported or malformed reference, or a path that is not a
   *     layout or archive
   */
  public static ImageSource open(String spec) throws ImageSourceException {
    return open(spec, null);
  }

  /** Whether {@code spec} names an image in a registry ({@code docker://}), not a local one. */
  public static boolean isRegistryReference(String spec) {
    return spec != null && spec.startsWith(RegistryImageSource.TRANSPORT);
  }

  /**
   * As {@link #open(String)}, with the registry settings, clients and blob cache to use for
   * {@code docker://} references (null: the process-wide default context).
   */
  public static ImageSource open(String spec, RegistryContext registries) throws ImageSourceException {
    if (spec == null || spec.isBlank()) {
      throw new ImageSourceException("empty image reference; use one of " + SUPPORTED);
    }
    if (isRegistryReference(spec)) {
      return RegistryImageSource.open(spec, registries != null ? registries : RegistryContext.defaultContext());
    }
    int colon = spec.indexOf(':');
    if (colon < 0) {
      throw new ImageSourceException(spec + ": no transport given; use one of " + SUPPORTED);
    }
    String transport = spec.substring(0, colon);
    String details = spec.substring(colon + 1);
    return switch (transport) {
      case "oci" -> openOci(spec, details);
      case "docker-archive" -> openDockerArchive(spec, details);
      default -> throw new ImageSourceException(
          spec + ": unsupported transport '" + transport + "'; use one of " + SUPPORTED);
    };
  }

  private static ImageSource openOci(String spec, String details) throws ImageSourceException {
    Digest digest = null;
    String rest = details;
    Matcher m = DIGEST_SUFFIX.matcher(details);
    if (m.find()) {
      try {
        digest = Digest.parse(m.group(1));
      } catch (IllegalArgumentException e) {
        throw new ImageSourceException(spec + ": " + e.getMessage(), e);
      }
      rest = details.substring(0, m.start());
    }
    String tag = null;
    int colon = rest.indexOf(':');
    if (colon >= 0) {
      tag = rest.substring(colon + 1);
      rest = rest.substring(0, colon);
      if (tag.isEmpty()) {
        throw new ImageSourceException(spec + ": empty tag after ':'");
      }
      if (digest != null) {
        throw new ImageSourceException(spec + ": give a tag or a digest, not both");
      }
    }
    if (rest.isEmpty()) {
      throw new ImageSourceException(spec + ": no layout directory given (want oci:DIR[:TAG])");
    }
    return OciLayoutSource.open(spec, Path.of(rest), tag, digest);
  }

  private static ImageSource openDockerArchive(String spec, String details) throws ImageSourceException {
    String path = details;
    String reference = null;
    int colon = details.indexOf(':');
    if (colon >= 0) {
      path = details.substring(0, colon);
      reference = details.substring(colon + 1);
      if (reference.isEmpty()) {
        throw new ImageSourceException(spec + ": empty reference after ':'");
      }
    }
    if (path.isEmpty()) {
      throw new ImageSourceException(spec + ": no archive path given (want docker-archive:PATH)");
    }
    return DockerArchiveSource.open(spec, Path.of(path), reference);
  }
}
