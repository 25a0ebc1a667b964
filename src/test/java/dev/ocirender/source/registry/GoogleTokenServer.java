package dev.ocirender.source.registry;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PublicKey;
import java.security.Signature;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Google's OAuth2 token endpoint as a service account sees it, for tests: it accepts the JWT-bearer
 * grant ({@code grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer}) only when the assertion is
 * signed by the service account's key (an RSA key made here) and names Google's token endpoint as
 * audience (the library's fixed audience, even with another {@code token_uri}), the account as issuer and the cloud-platform scope; then it answers
 * {@code {access_token, expires_in, token_type}}. Anything else gets 400 {@code invalid_grant}.
 * {@link #writeServiceAccount} writes the key file that {@code GoogleCredentials.fromStream} reads.
 */
final class GoogleTokenServer implements AutoCloseable {

  static final String CLIENT_EMAIL = "puller@test-project.iam.gserviceaccount.com";
  /** The audience the auth library signs for, whatever {@code token_uri} says. */
  static final String GOOGLE_AUDIENCE = "https://oauth2.googleapis.com/token";
  private static final ObjectMapper JSON = new ObjectMapper();

  private final KeyPair key;
  private final HttpServer server;
  private final AtomicInteger grants = new AtomicInteger();
  private final AtomicInteger refused = new AtomicInteger();
  private volatile String token;
  private volatile int expiresIn = 3600;

  /** @param token the access token to issue */
  GoogleTokenServer(String token) throws Exception {
    this.token = token;
    this.key = rsaKey();
    server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    server.createContext("/token", this::token);
    server.start();
  }

  static KeyPair rsaKey() throws Exception {
    KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
    g.initialize(2048);
    return g.generateKeyPair();
  }

  String tokenUri() {
    return "http://127.0.0.1:" + server.getAddress().getPort() + "/token";
  }

  /** A service-account key file for this server, signed with {@code signWith} (this server's key if null). */
  Path writeServiceAccount(Path file, KeyPair signWith) throws IOException {
    KeyPair k = signWith != null ? signWith : key;
    String pem = "-----BEGIN PRIVATE KEY-----\n"
        + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(k.getPrivate().getEncoded())
        + "\n-----END PRIVATE KEY-----\n";
    Map<String, String> json = new LinkedHashMap<>();
    json.put("type", "service_account");
    json.put("project_id", "test-project");
    json.put("private_key_id", "test-key-1");
    json.put("private_key", pem);
    json.put("client_email", CLIENT_EMAIL);
    json.put("client_id", "1234567890");
    json.put("token_uri", tokenUri());
    Files.createDirectories(file.getParent());
    Files.write(file, JSON.writeValueAsBytes(json));
    return file;
  }

  void issue(String value) {
    token = value;
  }

  void expiresIn(int seconds) {
    expiresIn = seconds;
  }

  int grants() {
    return grants.get();
  }

  int refused() {
    return refused.get();
  }

  private void token(HttpExchange exchange) throws IOException {
    try (exchange) {
      Map<String, String> form = new LinkedHashMap<>();
      String body = new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
      for (String pair : body.split("&")) {
        int eq = pair.indexOf('=');
        if (eq > 0) {
          form.put(URLDecoder.decode(pair.substring(0, eq), StandardCharsets.UTF_8),
              URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8));
        }
      }
      byte[] response;
      int status;
      if ("urn:ietf:params:oauth:grant-type:jwt-bearer".equals(form.get("grant_type"))
          && validAssertion(form.get("assertion"))) {
        grants.incrementAndGet();
        response = JSON.writeValueAsBytes(Map.of("access_token", token, "expires_in", expiresIn, "token_type", "Bearer"));
        status = 200;
      } else {
        refused.incrementAndGet();
        response = JSON.writeValueAsBytes(Map.of("error", "invalid_grant", "error_description", "Invalid JWT Signature."));
        status = 400;
      }
      exchange.getResponseHeaders().set("Content-Type", "application/json");
      exchange.sendResponseHeaders(status, response.length);
      exchange.getResponseBody().write(response);
    }
  }

  private boolean validAssertion(String jwt) {
    if (jwt == null) {
      return false;
    }
    String[] parts = jwt.split("\\.");
    if (parts.length != 3) {
      return false;
    }
    try {
      Base64.Decoder url = Base64.getUrlDecoder();
      JsonNode header = JSON.readTree(url.decode(parts[0]));
      JsonNode claims = JSON.readTree(url.decode(parts[1]));
      long now = System.currentTimeMillis() / 1000;
      return "RS256".equals(header.path("alg").asText())
          && verify(key.getPublic(), parts[0] + "." + parts[1], url.decode(parts[2]))
          && CLIENT_EMAIL.equals(claims.path("iss").asText())
          && GOOGLE_AUDIENCE.equals(claims.path("aud").asText())
          && claims.path("scope").asText().contains(GoogleCredentialSource.SCOPE)
          && claims.path("exp").asLong() > now;
    } catch (Exception e) {
      return false;
    }
  }

  private static boolean verify(PublicKey key, String signed, byte[] signature) throws Exception {
    Signature s = Signature.getInstance("SHA256withRSA");
    s.initVerify(key);
    s.update(signed.getBytes(StandardCharsets.US_ASCII));
    return s.verify(signature);
  }

  @Override
  public void close() {
    server.stop(0);
  }
}
