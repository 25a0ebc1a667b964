package dev.ocirender.pipeline;

import java.util.regex.Pattern;

/**
 * The reference a worker opens to render (and verify) exactly the manifest that was resolved:
 * {@code docker://REPO:TAG} becomes {@code docker://REPO@DIGEST} and {@code oci:DIR:TAG}
 * becomes {@code oci:DIR@DIGEST}, so a tag that moves while the job runs can neither waste a render
 * nor fail a verification. {@code docker-archive:} has no digest form (its manifest digest is
 * computed, not stored); it is opened as written and the render checks the digest it got. Records
 * always show the reference as the catalog wrote it.
 */
final class PinnedReference {

  private static final Pattern DIGEST = Pattern.compile("^(sha256|sha512):[0-9a-f]+$");
  private static final String DOCKER = "docker://";
  private static final String OCI = "oci:";

  private PinnedReference() {}

  /** {@code reference} pinned to {@code manifestDigest}, or {@code reference} itself where it cannot be. */
  static String of(String reference, String manifestDigest) {
    if (manifestDigest == null || !DIGEST.matcher(manifestDigest).matches()) {
      return reference;
    }
    if (reference.startsWith(DOCKER)) {
      String name = stripDigest(reference.substring(DOCKER.length()));
      int slash = name.lastIndexOf('/');
      int colon = name.lastIndexOf(':');
      if (colon > slash) { // a tag, not a registry port
        name = name.substring(0, colon);
      }
      return DOCKER + name + "@" + manifestDigest;
    }
    if (reference.startsWith(OCI)) {
      String dir = stripDigest(reference.substring(OCI.length()));
      int colon = dir.indexOf(':'); // as in skopeo, the directory ends at the first ':'
      if (colon >= 0) {
        dir = dir.substring(0, colon);
      }
      return OCI + dir + "@" + manifestDigest;
    }
    return reference;
  }

  private static String stripDigest(String s) {
    int at = s.lastIndexOf('@');
    return at >= 0 && DIGEST.matcher(s.substring(at + 1)).matches() ? s.substring(0, at) : s;
  }
}
