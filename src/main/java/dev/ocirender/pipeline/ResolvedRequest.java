package dev.ocirender.pipeline;

import java.util.List;
import java.util.Objects;

/**
 * A catalog request whose reference was resolved to a manifest.
 *
 * @param request the catalog line
 * @param manifestDigest the digest of the manifest chosen for the request's platform
 * @param resolveMillis how long resolving took
 * @param baseKey the image's base ({@link Affinity#baseKey}): what the render step groups by; empty
 *     when not known
 * @param layers the digests of the image's layer blobs, base first: what the render step counts to
 *     tell layers that several images of the job use (worth keeping in the layer cache) from layers
 *     of one image ({@link RenderImages}); empty when not known
 *
 * <p>Carried between steps by {@link ElementCoders} (deterministic, field by field).
 */
public record ResolvedRequest(ImageRequest request, String manifestDigest, long resolveMillis, String baseKey,
    List<String> layers) {

  public ResolvedRequest {
    Objects.requireNonNull(baseKey, "baseKey");
    layers = List.copyOf(layers);
  }

  /** A request whose layers are not known (the render step keeps all of them in its layer cache). */
  public ResolvedRequest(ImageRequest request, String manifestDigest, long resolveMillis, String baseKey) {
    this(request, manifestDigest, resolveMillis, baseKey, List.of());
  }

  /** A request whose base is not known (it renders alone under affinity's empty key). */
  public ResolvedRequest(ImageRequest request, String manifestDigest, long resolveMillis) {
    this(request, manifestDigest, resolveMillis, "");
  }

  /** What makes two requests the same render: manifest, platform and format. */
  public String dedupKey() {
    return manifestDigest + " " + request.platform() + " " + request.format();
  }
}
