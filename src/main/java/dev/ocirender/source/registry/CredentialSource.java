package dev.ocirender.source.registry;

import java.io.IOException;

/**
 * Where one registry's credential comes from each time a request needs it: a fixed credential from
 * an auth file or helper, or a Google access token that is refreshed as it expires
 * ({@link GoogleCredentialSource}). It does not decide which source a registry gets
 * ({@link CredentialStore} does) and does not cache Bearer tokens ({@link RegistryAuth} does).
 */
interface CredentialSource {

  /** The credential to use now; never null. */
  Credential current() throws IOException;

  static CredentialSource of(Credential credential) {
    return () -> credential;
  }
}
