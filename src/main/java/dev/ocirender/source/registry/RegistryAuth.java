package dev.ocirender.source.registry;

import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The authentication state of one registry endpoint: which scheme it asked for, and the Bearer
 * tokens obtained so far, per scope, until they expire.
 *
 * <p>Requests start with whatever is known (a cached token, or Basic once the registry has asked for
 * it); a 401 hands its challenge to {@link #challenged}, which fetches a fresh token (dropping the
 * rejected one) or fails when the registry rejected the credentials themselves. A token is treated
 * as expired slightly before its {@code expires_in}, so a request never leaves with a token about to
 * lapse. Thread-safe; concurrent requests for one scope share one token fetch.
 *
 * <p>The credential is asked for on each use, so one that changes (a Google access token,
 * {@link GoogleCredentialSource}) is always current. It never logs and never puts a token or secret
 * in a message.
 */
final class RegistryAuth {

  private record Cached(String header, Instant refreshAt) {}

  private final RegistryClient client;
  /** Null for anonymous access. */
  private final CredentialSource credential;
  private final TokenEndpoint tokens;
  /** The registry options' clock: tests move it forward to expire tokens instead of sleeping. */
  private final Clock clock;
  private final Map<String, Cached> byScope = new ConcurrentHashMap<>();
  private volatile Challenge bearer;
  private volatile boolean basic;

  RegistryAuth(RegistryClient client, CredentialSource credential) {
    this.client = client;
    this.credential = credential;
    this.tokens = new TokenEndpoint(client);
    this.clock = client.options().clock();
  }

  /** The Authorization header to send for {@code scope}, or null to go anonymous. */
  String authorization(String scope) throws IOException {
    if (basic) {
      return credential == null ? null : credential.current().basicHeader();
    }
    Cached cached = byScope.get(key(scope));
    if (cached != null && fresh(cached)) {
      return cached.header;
    }
    Challenge c = bearer;
    if (c != null) {
      // The registry has asked for tokens before: get one now instead of waiting for a 401.
      return refresh(c, scope, cached == null ? null : cached.header);
    }
    return null;
  }

  /**
   * Handles a 401: {@code rejected} is the Authorization header that was sent, or null.
   *
   * @throws RegistryException when the challenge cannot be answered (credentials rejected, or
   *     needed and absent)
   */
  void challenged(String wwwAuthenticate, String scope, String rejected, String what) throws IOException {
    Challenge c = Challenge.parse(wwwAuthenticate);
    if (c == null) {
      throw new RegistryException(what + ": HTTP 401 Unauthorized without a WWW-Authenticate challenge");
    }
    switch (c.scheme()) {
      case "bearer" -> {
        bearer = c;
        // The challenge's own scope is what the registry wants; it may be wider than ours.
        String wanted = c.param("scope") != null ? c.param("scope") : scope;
        refresh(c, wanted, rejected);
        if (!wanted.equals(scope)) {
          byScope.put(key(scope), byScope.get(key(wanted)));
        }
      }
      case "basic" -> {
        if (credential == null) {
          throw new RegistryException(what + ": authentication required and no credentials found for "
              + client.registry() + " (docker login, $REGISTRY_AUTH_FILE or $DOCKER_CONFIG)");
        }
        if (basic && rejected != null) {
          throw new RegistryException(what + ": the registry rejected the credentials for user '"
              + credential.current().username() + "'");
        }
        basic = true;
      }
      default -> throw new RegistryException(what + ": unsupported authentication scheme '" + c.scheme() + "'");
    }
  }

  private String refresh(Challenge c, String scope, String rejected) throws IOException {
    String key = key(scope);
    synchronized (this) {
      Cached cached = byScope.get(key);
      // Another thread may have refreshed it while this one waited.
      if (cached != null && !cached.header.equals(rejected) && fresh(cached)) {
        return cached.header;
      }
      TokenEndpoint.Token t = tokens.fetch(c, scope, credential == null ? null : credential.current());
      Duration life = t.expiresIn();
      Duration margin = life.dividedBy(10).compareTo(Duration.ofSeconds(10)) < 0 ? life.dividedBy(10) : Duration.ofSeconds(10);
      Cached fresh = new Cached("Bearer " + t.value(), clock.instant().plus(life.minus(margin)));
      byScope.put(key, fresh);
      return fresh.header;
    }
  }

  private boolean fresh(Cached cached) {
    return clock.instant().isBefore(cached.refreshAt());
  }

  private static String key(String scope) {
    return scope == null ? "" : scope;
  }
}
