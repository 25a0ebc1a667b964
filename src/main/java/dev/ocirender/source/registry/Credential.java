package dev.ocirender.source.registry;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Objects;

/**
 * A user name and secret for one registry, or an identity token (an OAuth2 refresh token that a
 * {@code docker login} stored, exchanged at the token endpoint).
 *
 * <p>{@link #toString()} never shows the secret, so a credential can appear in a log or message by
 * accident without leaking it.
 *
 * @param username the user name; {@code <token>} with an identity token
 * @param secret the password or access token; null with an identity token
 * @param identityToken the refresh token, or null
 */
public record Credential(String username, String secret, String identityToken) {

  public Credential {
    Objects.requireNonNull(username, "username");
  }

  public static Credential basic(String username, String password) {
    return new Credential(username, password, null);
  }

  /** The value of a {@code Basic} Authorization header. */
  String basicHeader() {
    return "Basic " + Base64.getEncoder().encodeToString(
        (username + ":" + (secret == null ? "" : secret)).getBytes(StandardCharsets.UTF_8));
  }

  @Override
  public String toString() {
    return "Credential[" + username + ", secret redacted]";
  }
}
