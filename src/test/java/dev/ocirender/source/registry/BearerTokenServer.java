package dev.ocirender.source.registry;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.ocirender.testing.ExternalTools;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A token server for the distribution registry's {@code auth: token} mode, for tests: issues RS256
 * JWTs signed with a key made by openssl, whose certificate (sent as {@code x5c}) is the registry's
 * {@code rootcertbundle}. It grants whatever scope is asked, to anyone or only to one user name and
 * password (Basic), with a configurable {@code expires_in}; {@link #denyNextGrants} makes it hand out
 * tokens without access (the registry then answers 401), to test refreshing.
 */
final class BearerTokenServer implements AutoCloseable {

  static final String SERVICE = "test-registry";
  static final String ISSUER = "test-issuer";
  private static final ObjectMapper JSON = new ObjectMapper();

  final Path certificate;
  private final PrivateKey key;
  private final String certificateDer;
  private final HttpServer server;
  private final AtomicInteger tokensIssued = new AtomicInteger();
  private final AtomicInteger emptyGrants = new AtomicInteger();
  private volatile String requiredBasic;
  private volatile int expiresIn = 300;

  BearerTokenServer(Path dir) throws Exception {
    ExternalTools.require("openssl");
    Files.createDirectories(dir);
    Path keyFile = dir.resolve("key.pem");
    certificate = dir.resolve("cert.pem");
    ExternalTools.output("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", keyFile, "-out", certificate,
        "-days", "2", "-subj", "/CN=" + ISSUER);
    key = KeyFactory.getInstance("RSA").generatePrivate(new PKCS8EncodedKeySpec(pem(keyFile)));
    certificateDer = Base64.getEncoder().encodeToString(pem(certificate));
    server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    server.createContext("/token", this::token);
    server.start();
  }

  String realm() {
    return "http://127.0.0.1:" + server.getAddress().getPort() + "/token";
  }

  /** The registry's {@code auth:} block for this server. */
  String registryAuthYaml() {
    return "auth:\n  token:\n    realm: " + realm() + "\n    service: " + SERVICE + "\n    issuer: " + ISSUER
        + "\n    rootcertbundle: " + certificate + "\n";
  }

  /** Only this user may get tokens; {@code null} lets anyone have them. */
  void requireBasic(String user, String password) {
    requiredBasic = user == null ? null : "Basic " + Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
  }

  void expiresIn(int seconds) {
    expiresIn = seconds;
  }

  void denyNextGrants(int n) {
    emptyGrants.set(n);
  }

  int tokensIssued() {
    return tokensIssued.get();
  }

  private void token(HttpExchange exchange) throws IOException {
    try (exchange) {
      String auth = exchange.getRequestHeaders().getFirst("Authorization");
      if (requiredBasic != null && !requiredBasic.equals(auth)) {
        exchange.sendResponseHeaders(401, -1);
        return;
      }
      Map<String, String> query = new LinkedHashMap<>();
      List<String> scopes = new ArrayList<>();
      String raw = exchange.getRequestURI().getRawQuery();
      for (String pair : raw == null ? new String[0] : raw.split("&")) {
        int eq = pair.indexOf('=');
        String k = URLDecoder.decode(pair.substring(0, eq), StandardCharsets.UTF_8);
        String v = URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
        query.put(k, v);
        if (k.equals("scope")) {
          scopes.add(v);
        }
      }
      List<Map<String, Object>> access = new ArrayList<>();
      boolean deny = emptyGrants.getAndUpdate(n -> Math.max(0, n - 1)) > 0;
      for (String scope : deny ? List.<String>of() : scopes) {
        String[] parts = scope.split(":");
        access.add(Map.of("type", parts[0], "name", parts[1], "actions", List.of(parts[2].split(","))));
      }
      long now = System.currentTimeMillis() / 1000;
      Map<String, Object> claims = new LinkedHashMap<>();
      claims.put("iss", ISSUER);
      claims.put("sub", "tester");
      claims.put("aud", query.getOrDefault("service", SERVICE));
      claims.put("exp", now + 3600);
      claims.put("nbf", now - 60);
      claims.put("iat", now);
      claims.put("jti", UUID.randomUUID().toString());
      claims.put("access", access);
      String jwt = sign(claims);
      tokensIssued.incrementAndGet();
      byte[] body = JSON.writeValueAsBytes(Map.of("token", jwt, "expires_in", expiresIn));
      exchange.getResponseHeaders().set("Content-Type", "application/json");
      exchange.sendResponseHeaders(200, body.length);
      exchange.getResponseBody().write(body);
    } catch (Exception e) {
      throw new IOException(e);
    }
  }

  private String sign(Map<String, Object> claims) throws Exception {
    Base64.Encoder url = Base64.getUrlEncoder().withoutPadding();
    String header = url.encodeToString(JSON.writeValueAsBytes(
        Map.of("typ", "JWT", "alg", "RS256", "x5c", List.of(certificateDer))));
    String payload = url.encodeToString(JSON.writeValueAsBytes(claims));
    Signature s = Signature.getInstance("SHA256withRSA");
    s.initSign(key);
    s.update((header + "." + payload).getBytes(StandardCharsets.US_ASCII));
    return header + "." + payload + "." + url.encodeToString(s.sign());
  }

  private static byte[] pem(Path file) throws IOException {
    String text = Files.readString(file).replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", "");
    return Base64.getDecoder().decode(text);
  }

  @Override
  public void close() {
    server.stop(0);
  }
}
