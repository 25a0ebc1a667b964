package dev.ocirender.source.registry;

import com.fasterxml.jackson.databind.JsonNode;
import com.google.auth.oauth2.GoogleCredentials;
import dev.ocirender.image.ImageReference;
import dev.ocirender.image.json.JsonTemplates;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * Finds credentials for a registry where Docker, Podman and skopeo keep them, in this order:
 *
 * <ol>
 *   <li>{@code $REGISTRY_AUTH_FILE}, else {@code $XDG_RUNTIME_DIR/containers/auth.json}, else
 *       {@code ~/.config/containers/auth.json} (containers-auth.json(5));
 *   <li>{@code $DOCKER_CONFIG/config.json}, else {@code ~/.docker/config.json}: a
 *       {@code credHelpers} entry for the registry, else {@code auths} (base64 {@code auth}, or
 *       {@code username}/{@code password}, or {@code identitytoken}), else the {@code credsStore}
 *       helper.
 * </ol>
 *
 * <p>Helpers are run as {@code docker-credential-NAME get} with the server on stdin, found on the
 * {@code PATH} of the environment this store was made with; tests pass their own environment.
 * Docker Hub is looked up under all its historical names ({@code https://index.docker.io/v1/} first).
 *
 * <p>For Google's registries ({@code gcr.io}, {@code *.gcr.io}, {@code *-docker.pkg.dev}, and any
 * added with {@link #withGoogleRegistry}) that have no entry in those files, Google Application
 * Default Credentials are used when there are any: {@code $GOOGLE_APPLICATION_CREDENTIALS}, else
 * gcloud's {@code application_default_credentials.json} ({@code $CLOUDSDK_CONFIG} or
 * {@code ~/.config/gcloud}); {@link #fromEnvironment()} also asks the auth library, which knows the
 * GCE/GKE metadata server. They are sent as user {@code oauth2accesstoken} with a fresh access token,
 * as {@code docker-credential-gcr} does ({@link GoogleCredentialSource}); tests inject their own
 * loader with {@link #withGoogleCredentials}.
 *
 * <p>Results are cached per registry for the life of the store (for ADC, the source; its token is
 * refreshed as it expires). Nothing here logs, and messages never contain a secret. It does not write
 * credentials (no login).
 */
public final class CredentialStore {

  private static final List<String> DOCKER_HUB_KEYS =
      List.of("https://index.docker.io/v1/", "index.docker.io", "docker.io", "registry-1.docker.io");

  /**
   * Loads Google Application Default Credentials, or returns null when there are none. Called at
   * most once per store, when a Google registry without other credentials is first used.
   */
  @FunctionalInterface
  public interface GoogleCredentialsLoader {
    GoogleCredentials load() throws IOException;
  }

  private final Map<String, String> env;
  private final Path home;
  private final GoogleCredentialsLoader googleLoader;
  private final Set<String> extraGoogleRegistries;
  /** Decides when a Google access token is due for refresh; tests move their own. */
  private final Clock clock;
  private final Map<String, Optional<CredentialSource>> cache = new ConcurrentHashMap<>();
  private Optional<GoogleCredentials> google;

  /**
   * @param env the environment (DOCKER_CONFIG, REGISTRY_AUTH_FILE, XDG_RUNTIME_DIR, PATH,
   *     GOOGLE_APPLICATION_CREDENTIALS, CLOUDSDK_CONFIG)
   */
  public CredentialStore(Map<String, String> env, Path home) {
    this(env, home, null, Set.of(), Clock.systemUTC());
  }

  private CredentialStore(Map<String, String> env, Path home, GoogleCredentialsLoader googleLoader,
      Set<String> extraGoogleRegistries, Clock clock) {
    this.env = Map.copyOf(env);
    this.home = Objects.requireNonNull(home, "home");
    this.googleLoader = googleLoader != null ? googleLoader : this::googleCredentialsFromFiles;
    this.extraGoogleRegistries = Set.copyOf(extraGoogleRegistries);
    this.clock = Objects.requireNonNull(clock, "clock");
  }

  /** The process's environment and home; ADC also from the metadata server on Google Cloud. */
  public static CredentialStore fromEnvironment() {
    CredentialStore files = new CredentialStore(System.getenv(), Path.of(System.getProperty("user.home")));
    return files.withGoogleCredentials(() -> {
      GoogleCredentials found = files.googleCredentialsFromFiles();
      if (found != null) {
        return found;
      }
      try {
        return GoogleCredentials.getApplicationDefault();
      } catch (IOException e) {
        return null; // "default credentials were not found": anonymous, as without ADC
      }
    });
  }

  /** No credentials at all: anonymous access only. */
  public static CredentialStore none() {
    return new CredentialStore(Map.of(), Path.of("/nonexistent")).withGoogleCredentials(() -> null);
  }

  /** This store with Application Default Credentials from {@code loader} instead of the environment's. */
  public CredentialStore withGoogleCredentials(GoogleCredentialsLoader loader) {
    return new CredentialStore(env, home, Objects.requireNonNull(loader, "loader"), extraGoogleRegistries, clock);
  }

  /**
   * This store with {@code registry} ({@code host} or {@code host:port}) treated as a Google registry,
   * which gets Application Default Credentials when nothing else is configured for it (a registry
   * behind a proxy or a private name that forwards to Artifact Registry; tests).
   */
  public CredentialStore withGoogleRegistry(String registry) {
    Set<String> more = new LinkedHashSet<>(extraGoogleRegistries);
    more.add(registry.toLowerCase(Locale.ROOT));
    return new CredentialStore(env, home, googleLoader, more, clock);
  }

  /** This store with Google access tokens expiring by {@code clock} (tests; the system clock otherwise). */
  public CredentialStore withClock(Clock clock) {
    return new CredentialStore(env, home, googleLoader, extraGoogleRegistries, clock);
  }

  /** Whether {@code registry} gets Application Default Credentials when it has no other credentials. */
  public boolean isGoogleRegistry(String registry) {
    return GoogleCredentialSource.isGoogleRegistry(registry)
        || extraGoogleRegistries.contains(registry.toLowerCase(Locale.ROOT));
  }

  /**
   * The credential for {@code registry} ({@code host[:port]} as in an image reference) now, or null.
   *
   * @throws IOException when a config file is malformed, a helper fails (other than "not found"), or
   *     Application Default Credentials exist but give no access token
   */
  public Credential lookup(String registry) throws IOException {
    CredentialSource source = source(registry);
    return source == null ? null : source.current();
  }

  /** Where {@code registry}'s credential comes from, or null for anonymous access. */
  CredentialSource source(String registry) throws IOException {
    Optional<CredentialSource> cached = cache.get(registry);
    if (cached != null) {
      return cached.orElse(null);
    }
    Credential found = find(registry);
    CredentialSource source = found != null ? CredentialSource.of(found) : null;
    if (source == null && isGoogleRegistry(registry)) {
      GoogleCredentials adc = googleCredentials();
      source = adc == null ? null : new GoogleCredentialSource(adc, registry, clock);
    }
    cache.put(registry, Optional.ofNullable(source));
    return source;
  }

  private synchronized GoogleCredentials googleCredentials() throws IOException {
    if (google == null) {
      google = Optional.ofNullable(googleLoader.load());
    }
    return google.orElse(null);
  }

  /**
   * {@code $GOOGLE_APPLICATION_CREDENTIALS} (which must exist when set), else gcloud's
   * {@code application_default_credentials.json} when present, else null.
   */
  private GoogleCredentials googleCredentialsFromFiles() throws IOException {
    Path file;
    String explicit = env.get("GOOGLE_APPLICATION_CREDENTIALS");
    if (explicit != null && !explicit.isBlank()) {
      file = Path.of(explicit);
      if (!Files.isRegularFile(file)) {
        throw new IOException("GOOGLE_APPLICATION_CREDENTIALS names " + file + ", which is not a file");
      }
    } else {
      String gcloud = env.get("CLOUDSDK_CONFIG");
      Path dir = gcloud != null && !gcloud.isBlank() ? Path.of(gcloud) : home.resolve(".config/gcloud");
      file = dir.resolve("application_default_credentials.json");
      if (!Files.isRegularFile(file)) {
        return null;
      }
    }
    try (InputStream in = Files.newInputStream(file)) {
      return GoogleCredentials.fromStream(in);
    } catch (IOException | RuntimeException e) {
      // The parser's message may quote the file, which holds a private key: say only where.
      throw new IOException("malformed Google Application Default Credentials file " + file);
    }
  }

  private Credential find(String registry) throws IOException {
    List<String> keys = keysFor(registry);
    for (Path authFile : containersAuthFiles()) {
      if (Files.isRegularFile(authFile)) {
        Credential c = fromAuths(readJson(authFile).path("auths"), keys, authFile);
        if (c != null) {
          return c;
        }
      }
    }
    Path dockerConfig = dockerConfigFile();
    if (!Files.isRegularFile(dockerConfig)) {
      return null;
    }
    JsonNode config = readJson(dockerConfig);
    JsonNode helpers = config.path("credHelpers");
    for (String key : keys) {
      if (helpers.path(key).isTextual()) {
        return fromHelper(helpers.path(key).asText(), helperServer(registry, key));
      }
    }
    Credential c = fromAuths(config.path("auths"), keys, dockerConfig);
    if (c != null) {
      return c;
    }
    if (config.path("credsStore").isTextual() && !config.path("credsStore").asText().isEmpty()) {
      return fromHelper(config.path("credsStore").asText(), helperServer(registry, keys.get(0)));
    }
    return null;
  }

  private List<Path> containersAuthFiles() {
    List<Path> files = new ArrayList<>();
    String explicit = env.get("REGISTRY_AUTH_FILE");
    if (explicit != null && !explicit.isBlank()) {
      files.add(Path.of(explicit));
      return files;
    }
    String runtime = env.get("XDG_RUNTIME_DIR");
    if (runtime != null && !runtime.isBlank()) {
      files.add(Path.of(runtime, "containers", "auth.json"));
    }
    files.add(home.resolve(".config/containers/auth.json"));
    return files;
  }

  private Path dockerConfigFile() {
    String dir = env.get("DOCKER_CONFIG");
    return dir != null && !dir.isBlank() ? Path.of(dir, "config.json") : home.resolve(".docker/config.json");
  }

  private static List<String> keysFor(String registry) {
    if (ImageReference.DOCKER_HUB.equals(registry) || DOCKER_HUB_KEYS.contains(registry)) {
      return DOCKER_HUB_KEYS;
    }
    return List.of(registry);
  }

  private static String helperServer(String registry, String key) {
    return DOCKER_HUB_KEYS.contains(key) ? DOCKER_HUB_KEYS.get(0) : registry;
  }

  /** Matches {@code auths} keys, which may carry a scheme or a path ({@code https://host/v1/}). */
  private static Credential fromAuths(JsonNode auths, List<String> keys, Path file) throws IOException {
    if (!auths.isObject()) {
      return null;
    }
    for (String key : keys) {
      for (Iterator<Map.Entry<String, JsonNode>> it = auths.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> e = it.next();
        if (e.getKey().equals(key) || normalizeKey(e.getKey()).equals(normalizeKey(key))) {
          Credential c = fromAuthEntry(e.getValue(), file, e.getKey());
          if (c != null) {
            return c;
          }
        }
      }
    }
    return null;
  }

  private static String normalizeKey(String key) {
    String k = key.toLowerCase(Locale.ROOT);
    int scheme = k.indexOf("://");
    if (scheme >= 0) {
      k = k.substring(scheme + 3);
    }
    int slash = k.indexOf('/');
    return slash >= 0 ? k.substring(0, slash) : k;
  }

  private static Credential fromAuthEntry(JsonNode entry, Path file, String key) throws IOException {
    String identityToken = entry.path("identitytoken").asText("");
    String auth = entry.path("auth").asText("");
    String username = entry.path("username").asText("");
    String password = entry.path("password").asText("");
    if (!auth.isEmpty()) {
      String decoded;
      try {
        decoded = new String(Base64.getDecoder().decode(auth), StandardCharsets.UTF_8);
      } catch (IllegalArgumentException e) {
        throw new IOException(file + ": the auth entry for " + key + " is not base64");
      }
      int colon = decoded.indexOf(':');
      if (colon < 0) {
        throw new IOException(file + ": the auth entry for " + key + " is not base64 of user:password");
      }
      username = decoded.substring(0, colon);
      password = decoded.substring(colon + 1);
    }
    if (!identityToken.isEmpty()) {
      return new Credential(username.isEmpty() ? "<token>" : username, null, identityToken);
    }
    if (username.isEmpty() && password.isEmpty()) {
      return null;
    }
    return Credential.basic(username, password);
  }

  /** Runs {@code docker-credential-NAME get}; "credentials not found" means no credential. */
  private Credential fromHelper(String name, String server) throws IOException {
    String program = "docker-credential-" + name;
    Path executable = findOnPath(program);
    if (executable == null) {
      throw new IOException("credential helper " + program + " (configured for " + server + ") is not on PATH");
    }
    ProcessBuilder pb = new ProcessBuilder(executable.toString(), "get").redirectErrorStream(false);
    pb.environment().clear();
    pb.environment().putAll(env);
    Process p = pb.start();
    try (OutputStream stdin = p.getOutputStream()) {
      stdin.write(server.getBytes(StandardCharsets.UTF_8));
    }
    byte[] out = p.getInputStream().readAllBytes();
    p.getErrorStream().readAllBytes();
    try {
      if (!p.waitFor(30, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new IOException("credential helper " + program + " did not finish within 30 s");
      }
    } catch (InterruptedException e) {
      p.destroyForcibly();
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while running credential helper " + program, e);
    }
    String text = new String(out, StandardCharsets.UTF_8).trim();
    if (p.exitValue() != 0) {
      if (text.toLowerCase(Locale.ROOT).contains("credentials not found")) {
        return null;
      }
      // The helper's output is not echoed: it might contain a secret.
      throw new IOException("credential helper " + program + " failed for " + server + " (exit " + p.exitValue() + ")");
    }
    JsonNode node;
    try {
      node = JsonTemplates.read(out, JsonNode.class);
    } catch (IOException e) {
      throw new IOException("credential helper " + program + " printed something other than JSON for " + server);
    }
    String username = node.path("Username").asText("");
    String secret = node.path("Secret").asText("");
    if (username.isEmpty() && secret.isEmpty()) {
      return null;
    }
    if ("<token>".equals(username)) {
      return new Credential(username, null, secret);
    }
    return Credential.basic(username, secret);
  }

  private Path findOnPath(String program) {
    String path = env.get("PATH");
    if (path == null) {
      return null;
    }
    for (String dir : path.split(File.pathSeparator)) {
      if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, program))) {
        return Path.of(dir, program);
      }
    }
    return null;
  }

  private static JsonNode readJson(Path file) throws IOException {
    try {
      return JsonTemplates.read(Files.readAllBytes(file), JsonNode.class);
    } catch (IOException e) {
      // Jackson's message may quote the file's content, which holds secrets: say only where.
      throw new IOException("malformed credentials file " + file);
    }
  }
}
