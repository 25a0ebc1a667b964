package dev.ocirender.source.registry;

import com.fasterxml.jackson.databind.JsonNode;
import dev.ocirender.image.Digest;
import dev.ocirender.image.MediaTypes;
import dev.ocirender.image.Messages;
import dev.ocirender.image.VerifyingInputStream.DigestMismatchException;
import dev.ocirender.image.json.JsonTemplates;
import dev.ocirender.source.ManifestResolver;
import java.io.IOException;
import java.io.InputStream;
import java.net.http.HttpResponse;
import java.security.MessageDigest;
import java.util.Map;

/**
 * {@code GET /v2/<name>/manifests/<reference>}: a manifest or index by tag or digest, with an Accept
 * list of the OCI and Docker schema 2 types (schema 1 is not asked for: it is refused anyway).
 *
 * <p>The body is read whole (at most {@link ManifestResolver#MAX_JSON_BLOB}) and digested; the digest
 * must equal the {@code Docker-Content-Digest} header when the registry sends one, and the pinned
 * digest when the reference has one. The media type is the document's own {@code mediaType}, else
 * the {@code Content-Type}. A body that breaks off or stalls past the read timeout is asked for again,
 * within the retry policy. Parsing and platform selection are not done here ({@link ManifestResolver}).
 *
 * @see <a href="https://github.com/opencontainers/distribution-spec/blob/main/spec.md#pulling-manifests">pulling manifests</a>
 */
public final class ManifestPuller {

  static final String ACCEPT = String.join(", ", MediaTypes.OCI_INDEX, MediaTypes.OCI_MANIFEST,
      MediaTypes.DOCKER_MANIFEST_LIST, MediaTypes.DOCKER_MANIFEST);

  /** A verified manifest or index: its bytes, media type and digest. */
  public record Manifest(byte[] bytes, String mediaType, Digest digest) {}

  private final RegistryClient client;

  ManifestPuller(RegistryClient client) {
    this.client = client;
  }

  /**
   * @param reference a tag or a digest
   * @param pinned the digest the manifest must have, or null for a tag
   */
  Manifest pull(String repository, String reference, Digest pinned) throws IOException {
    String what = "pulling manifest " + reference + " from " + client.registry() + "/" + repository;
    HttpResponse<InputStream> response;
    byte[] bytes;
    int failures = 0;
    while (true) {
      response = client.get("/v2/" + repository + "/manifests/" + reference,
          Map.of("Accept", ACCEPT), RegistryClient.pullScope(repository), what);
      try (InputStream body = response.body()) {
        bytes = body.readNBytes((int) ManifestResolver.MAX_JSON_BLOB + 1);
        break;
      } catch (IOException e) {
        // A body that broke off or stalled (read timeout): a manifest is small, ask again.
        failures = client.failed(failures, what, Messages.describe(e), e, null);
      }
    }
    if (bytes.length > ManifestResolver.MAX_JSON_BLOB) {
      throw new RegistryException(what + ": larger than " + ManifestResolver.MAX_JSON_BLOB + " bytes");
    }
    Digest header = null;
    String headerValue = response.headers().firstValue("Docker-Content-Digest").orElse(null);
    if (headerValue != null) {
      try {
        header = Digest.parse(headerValue.trim());
      } catch (IllegalArgumentException e) {
        header = null; // an algorithm we do not know: our own digest still checks the content
      }
    }
    Digest digest = digestOf(bytes, pinned != null ? pinned : header != null ? header : null);
    if (pinned != null && !pinned.equals(digest)) {
      throw new DigestMismatchException(what + ": digest mismatch, expected " + pinned + " but got " + digest);
    }
    if (header != null && !header.equals(digestOf(bytes, header))) {
      throw new DigestMismatchException(what + ": digest mismatch, the registry says " + header + " but the content is "
          + digestOf(bytes, header));
    }
    return new Manifest(bytes, mediaType(bytes, response), digest);
  }

  /** The digest of {@code bytes} in {@code like}'s algorithm, sha256 when {@code like} is null. */
  private static Digest digestOf(byte[] bytes, Digest like) {
    if (like == null || like.algorithm().equals("sha256")) {
      return Digest.sha256Of(bytes);
    }
    MessageDigest md = like.newMessageDigest();
    return Digest.parse(like.algorithm() + ":" + java.util.HexFormat.of().formatHex(md.digest(bytes)));
  }

  private static String mediaType(byte[] bytes, HttpResponse<?> response) {
    try {
      JsonNode node = JsonTemplates.read(bytes, JsonNode.class);
      if (node.path("mediaType").isTextual()) {
        return node.path("mediaType").asText();
      }
    } catch (IOException e) {
      // Reported as malformed by the resolver, with the digest.
    }
    String type = response.headers().firstValue("Content-Type").orElse(null);
    if (type == null) {
      return null;
    }
    int semicolon = type.indexOf(';');
    return (semicolon < 0 ? type : type.substring(0, semicolon)).trim();
  }
}
