package dev.ocirender.source.registry;

import com.google.auth.oauth2.AccessToken;
import com.google.auth.oauth2.GoogleCredentials;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.util.Date;
import java.util.List;
import java.util.Locale;

/**
 * Google Application Default Credentials as a registry credential, the way
 * {@code docker-credential-gcr} presents them: Basic auth with the user name
 * {@value #USERNAME} and a current OAuth2 access token (scope {@value #SCOPE}) as the password,
 * which Container Registry and Artifact Registry accept both directly and at their token endpoint.
 *
 * <p>The access token is asked for on every use and comes from the auth library's cache; it is
 * refreshed when it has expired or is about to ({@link #REFRESH_MARGIN} before its expiry, the
 * library's own margin), so a long render never sends a lapsed token. The decision is made here on an
 * injected {@link Clock} rather than by the library's {@code refreshIfExpired}, whose clock cannot be
 * set, so that tests expire a token by moving a clock instead of sleeping. It does not find the credentials ({@link CredentialStore}
 * does), never logs, and never puts the token or anything read from the credentials file in a
 * message.
 */
final class GoogleCredentialSource implements CredentialSource {

  static final String USERNAME = "oauth2accesstoken";
  static final String SCOPE = "https://www.googleapis.com/auth/cloud-platform";

  /** How long before its expiry a token is replaced: 3 min 45 s, as the auth library does. */
  static final Duration REFRESH_MARGIN = Duration.ofSeconds(225);

  private final GoogleCredentials credentials;
  private final String registry;
  private final Clock clock;

  /** @param registry the registry these credentials are for, for messages */
  GoogleCredentialSource(GoogleCredentials credentials, String registry, Clock clock) {
    this.credentials = credentials.createScopedRequired() ? credentials.createScoped(List.of(SCOPE)) : credentials;
    this.registry = registry;
    this.clock = clock;
  }

  /**
   * Whether {@code registry} ({@code host[:port]}) is one of Google's: {@code gcr.io},
   * {@code *.gcr.io} or {@code *-docker.pkg.dev}.
   */
  static boolean isGoogleRegistry(String registry) {
    String host = registry.toLowerCase(Locale.ROOT);
    int colon = host.lastIndexOf(':');
    if (colon >= 0 && !host.endsWith("]")) {
      host = host.substring(0, colon);
    }
    return host.equals("gcr.io") || host.endsWith(".gcr.io") || host.endsWith("-docker.pkg.dev");
  }

  @Override
  public synchronized Credential current() throws IOException {
    AccessToken token;
    try {
      token = credentials.getAccessToken();
      if (token == null || dueForRefresh(token)) {
        credentials.refresh();
        token = credentials.getAccessToken();
      }
    } catch (IOException | RuntimeException e) {
      // The library's first line says what failed ("Error getting access token …: 400 Bad Request");
      // the rest may quote a server's response, so it is left out.
      throw new RegistryException("getting a Google access token for " + registry
          + " from Application Default Credentials: " + firstLine(e));
    }
    if (token == null || token.getTokenValue() == null) {
      throw new RegistryException("getting a Google access token for " + registry
          + " from Application Default Credentials: no token was returned");
    }
    return Credential.basic(USERNAME, token.getTokenValue());
  }

  private boolean dueForRefresh(AccessToken token) {
    Date expiry = token.getExpirationTime();
    return expiry != null && !clock.instant().isBefore(expiry.toInstant().minus(REFRESH_MARGIN));
  }

  private static String firstLine(Throwable e) {
    String m = e.getMessage();
    if (m == null || m.isBlank()) {
      return e.getClass().getSimpleName();
    }
    m = m.strip();
    int nl = m.indexOf('\n');
    m = nl < 0 ? m : m.substring(0, nl).strip();
    return m.length() > 200 ? m.substring(0, 200) + "…" : m;
  }

  @Override
  public String toString() {
    return "GoogleCredentialSource[" + registry + ", token redacted]";
  }
}
