package dev.ocirender.pipeline;


/**
 * A catalog request whose reference was resolved to a manifest.
 *
 * @param request the catalog line
 * @param manifestDigest the digest of the manifest chosen for the request's platform
 * @param resolveMillis how long resolving took
 *
 * <p>Carried between steps by {@link ElementCoders} (deterministic, field by field).
 */
public record ResolvedRequest(ImageRequest request, String manifestDigest, long resolveMillis) {

  /** What makes two requests the same render: manifest, platform and format. */
  public String dedupKey() {
    return manifestDigest + " " + request.platform() + " " + request.format();
  }
}
