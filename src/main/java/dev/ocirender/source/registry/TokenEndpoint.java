package dev.ocirender.source.registry;

import com.fasterxml.jackson.databind.JsonNode;
import dev.ocirender.image.json.JsonTemplates;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * The token endpoint of the distribution token-auth spec: trades a Bearer challenge's realm,
 * service and scope (and a credential, when there is one) for a short-lived access token.
 *
 * <p>With a user name and password it sends {@code GET realm?service=…&scope=…} with Basic auth; with
 * an identity token it posts an OAuth2 {@code refresh_token} grant. Anonymous requests carry no
 * Authorization at all. It does not cache tokens ({@link RegistryAuth} does) and never puts a token
 * or secret in an exception message.
 *
 * @see <a href="https://distribution.github.io/distribution/spec/auth/token/">token authentication</a>
 */
final class TokenEndpoint {

  /** A token and how long it is valid from when it was received. */
  record Token(String value, Duration expiresIn) {
    @Override
    public String toString() {
      return "Token[redacted, expires in " + expiresIn + "]";
    }
  }

  /** The spec's default when the response has no {@code expires_in}. */
  static final Duration DEFAULT_EXPIRY = Duration.ofSeconds(60);

  private final RegistryClient client;

  TokenEndpoint(RegistryClient client) {
    this.client = client;
  }

  Token fetch(Challenge challenge, String scope, Credential credential) throws IOException {
    String realm = challenge.param("realm");
    if (realm == null || realm.isBlank()) {
      throw new RegistryException(client.registry() + ": Bearer challenge without a realm");
    }
    String service = challenge.param("service");
    StringBuilder query = new StringBuilder();
    if (service != null) {
      query.append("service=").append(encode(service));
    }
    if (scope != null) {
      query.append(query.length() > 0 ? "&" : "").append("scope=").append(encode(scope));
    }
    URI realmUri = URI.create(realm);
    HttpRequest.Builder request;
    if (credential != null && credential.identityToken() != null) {
      String form = "grant_type=refresh_token&client_id=ocirender&refresh_token=" + encode(credential.identityToken())
          + (query.length() > 0 ? "&" + query : "");
      request = HttpRequest.newBuilder(realmUri)
          .header("Content-Type", "application/x-www-form-urlencoded")
          .POST(HttpRequest.BodyPublishers.ofString(form));
    } else {
      URI uri = URI.create(realm + (query.length() == 0 ? "" : (realm.contains("?") ? "&" : "?") + query));
      request = HttpRequest.newBuilder(uri).GET();
      if (credential != null) {
        request.header("Authorization", credential.basicHeader());
      }
    }
    String what = "getting a token for " + (scope == null ? "the registry" : scope) + " on " + client.registry()
        + " from " + realmUri.getScheme() + "://" + realmUri.getAuthority();
    HttpResponse<InputStream> response = client.sendUnauthenticated(request, what);
    byte[] bytes;
    try (InputStream body = response.body()) {
      bytes = body.readNBytes(1 << 20);
    } catch (IOException e) {
      throw new RegistryException(what + ": " + dev.ocirender.image.Messages.describe(e), 0, e);
    }
    JsonNode node;
    try {
      node = JsonTemplates.read(bytes, JsonNode.class);
    } catch (IOException e) {
      throw new RegistryException(what + ": the response is not JSON");
    }
    String token = node.path("token").asText("");
    if (token.isEmpty()) {
      token = node.path("access_token").asText("");
    }
    if (token.isEmpty()) {
      throw new RegistryException(what + ": the response has no token");
    }
    long seconds = node.path("expires_in").asLong(0);
    return new Token(token, seconds > 0 ? Duration.ofSeconds(seconds) : DEFAULT_EXPIRY);
  }

  private static String encode(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8);
  }
}
