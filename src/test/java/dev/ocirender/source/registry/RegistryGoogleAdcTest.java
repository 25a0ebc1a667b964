package dev.ocirender.source.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ocirender.image.Platform;
import dev.ocirender.render.RenderException;
import dev.ocirender.testing.ExternalTools;
import dev.ocirender.testing.Requires;
import dev.ocirender.testing.TestClock;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Google Application Default Credentials end to end: a service-account key file (made here, named by
 * {@code GOOGLE_APPLICATION_CREDENTIALS} in the injected environment) is loaded by the Google auth
 * library, which trades a signed JWT at {@link GoogleTokenServer} for an access token; a real
 * registry with htpasswd auth for user {@code oauth2accesstoken} and that token as password stands in
 * for gcr.io, treated as a Google registry through {@link CredentialStore#withGoogleRegistry}; a
 * second one with token auth, whose token server wants that Basic credential, stands in for gcr.io's
 * own token endpoint.
 */
@Requires(tools = {"docker-registry", "skopeo", "htpasswd"})
class RegistryGoogleAdcTest {

  static final String TOKEN = "ya29.test-" + HexFormat.of().formatHex(new SecureRandom().generateSeed(16));

  @TempDir static Path shared;
  static DistributionRegistry registry;
  static GoogleTokenServer google;
  static BearerTokenServer registryTokens;
  static DistributionRegistry tokenRegistry;
  static byte[] expected;

  @TempDir Path tmp;
  private final List<RegistryContext> contexts = new ArrayList<>();
  /** The credential stores' clock: moved forward to expire access tokens, never slept on. */
  private final TestClock clock = new TestClock();

  @BeforeAll
  static void start() throws Exception {
    Path htpasswd = shared.resolve("htpasswd");
    Files.writeString(htpasswd, ExternalTools.output("htpasswd", "-Bbn", GoogleCredentialSource.USERNAME, TOKEN));
    registry = DistributionRegistry.start(shared.resolve("registry"),
        "auth:\n  htpasswd:\n    realm: basic-realm\n    path: " + htpasswd + "\n");
    google = new GoogleTokenServer(TOKEN);
    Path layout = shared.resolve("app");
    RegistryTestImages.app("adc").writeLayout(layout);
    registry.push(layout, "latest", "project/app:v1", "--dest-creds", GoogleCredentialSource.USERNAME + ":" + TOKEN);
    // Like gcr.io itself: Bearer tokens, whose endpoint takes the access token as a Basic password.
    registryTokens = new BearerTokenServer(shared.resolve("registry-tokens"));
    registryTokens.requireBasic(GoogleCredentialSource.USERNAME, TOKEN);
    tokenRegistry = DistributionRegistry.start(shared.resolve("token-registry"), registryTokens.registryAuthYaml());
    tokenRegistry.push(layout, "latest", "project/app:v1", "--dest-creds", GoogleCredentialSource.USERNAME + ":" + TOKEN);
    expected = RegistryTestImages.renderTar("oci:" + layout + ":latest", Platform.LINUX_AMD64, null);
  }

  @AfterAll
  static void stop() throws Exception {
    for (AutoCloseable c : new AutoCloseable[] {registry, tokenRegistry, registryTokens, google}) {
      if (c != null) {
        c.close();
      }
    }
  }

  @BeforeEach
  void resetTokenServer() {
    google.issue(TOKEN);
    google.expiresIn(3600);
  }

  @AfterEach
  void letDownloadsFinish() throws Exception {
    for (RegistryContext c : contexts) {
      c.cache().awaitIdle(Duration.ofSeconds(60));
    }
  }

  /** A store whose environment names {@code keyFile} as GOOGLE_APPLICATION_CREDENTIALS. */
  CredentialStore adcStore(Path keyFile, Map<String, String> moreEnv) {
    Map<String, String> env = new java.util.HashMap<>(moreEnv);
    env.put("GOOGLE_APPLICATION_CREDENTIALS", keyFile.toString());
    return new CredentialStore(env, tmp.resolve("home")).withClock(clock);
  }

  RegistryContext context(CredentialStore credentials) {
    RegistryContext c = new RegistryContext(RegistryOptions.builder().cacheDir(tmp.resolve("cache"))
        .credentials(credentials)
        .retry(new RetryPolicy(3, Duration.ofMillis(10), Duration.ofMillis(50), Duration.ofSeconds(5))).build());
    contexts.add(c);
    return c;
  }

  byte[] render(RegistryContext context) throws Exception {
    return RegistryTestImages.renderTar(registry.docker("project/app:v1"), Platform.LINUX_AMD64, context);
  }

  @Test
  void googleRegistryWithoutOtherCredentials_pullsWithAnAdcAccessToken_fetchedOnce() throws Exception {
    Path key = google.writeServiceAccount(tmp.resolve("sa.json"), null);
    RegistryContext context = context(adcStore(key, Map.of()).withGoogleRegistry(registry.host()));
    int before = google.grants();
    assertThat(render(context)).isEqualTo(expected);
    assertThat(render(context)).isEqualTo(expected);
    assertThat(google.grants() - before).isEqualTo(1);
  }

  @Test
  void googleRegistryWithTokenAuth_presentsTheAccessTokenAtItsTokenEndpoint() throws Exception {
    Path key = google.writeServiceAccount(tmp.resolve("sa.json"), null);
    RegistryContext context = context(adcStore(key, Map.of()).withGoogleRegistry(tokenRegistry.host()));
    int before = registryTokens.tokensIssued();
    assertThat(RegistryTestImages.renderTar(tokenRegistry.docker("project/app:v1"), Platform.LINUX_AMD64, context))
        .isEqualTo(expected);
    assertThat(registryTokens.tokensIssued() - before).isEqualTo(1);
  }

  @Test
  void accessTokenAboutToExpire_isRefreshed_beforeTheNextRequest() throws Exception {
    // Tokens live 3600 s (resetTokenServer); one is replaced REFRESH_MARGIN before it expires.
    Duration refreshDue = Duration.ofSeconds(3600).minus(GoogleCredentialSource.REFRESH_MARGIN);
    Path key = google.writeServiceAccount(tmp.resolve("sa.json"), null);
    RegistryContext context = context(adcStore(key, Map.of()).withGoogleRegistry(registry.host()));
    int before = google.grants();
    assertThat(render(context)).isEqualTo(expected);
    clock.advance(refreshDue.minusSeconds(5));
    assertThat(render(context)).isEqualTo(expected);
    assertThat(google.grants() - before).as("5 s before the refresh is due").isEqualTo(1);
    clock.advance(Duration.ofSeconds(10));
    assertThat(render(context)).isEqualTo(expected);
    assertThat(google.grants() - before).as("5 s after it was due").isEqualTo(2);
  }

  @Test
  void hostNotTreatedAsGoogle_getsNoAdc() throws Exception {
    Path key = google.writeServiceAccount(tmp.resolve("sa.json"), null);
    int before = google.grants();
    assertThatThrownBy(() -> render(context(adcStore(key, Map.of()))))
        .isInstanceOf(RenderException.class)
        .hasMessageContaining("authentication required and no credentials found for " + registry.host());
    assertThat(google.grants() - before).isZero();
  }

  @Test
  void explicitCredentialsInDockerConfig_winOverAdc() throws Exception {
    // A key the token server refuses: the render only works if ADC is not asked at all.
    Path key = google.writeServiceAccount(tmp.resolve("sa.json"), GoogleTokenServer.rsaKey());
    Path dir = Files.createDirectories(tmp.resolve("docker-config"));
    String auth = Base64.getEncoder().encodeToString(
        (GoogleCredentialSource.USERNAME + ":" + TOKEN).getBytes(StandardCharsets.UTF_8));
    Files.writeString(dir.resolve("config.json"), "{\"auths\":{\"" + registry.host() + "\":{\"auth\":\"" + auth + "\"}}}");
    int refusedBefore = google.refused();
    RegistryContext context = context(adcStore(key, Map.of("DOCKER_CONFIG", dir.toString())).withGoogleRegistry(registry.host()));
    assertThat(render(context)).isEqualTo(expected);
    assertThat(google.refused() - refusedBefore).isZero();
  }

  @Test
  void serviceAccountKeyRefusedByTheTokenEndpoint_failsNamingRegistryAndAdc_withoutAnySecret() throws Exception {
    Path key = google.writeServiceAccount(tmp.resolve("sa.json"), GoogleTokenServer.rsaKey());
    String keyFile = Files.readString(key);
    RegistryContext context = context(adcStore(key, Map.of()).withGoogleRegistry(registry.host()));
    String stderr = capturingStderr(() -> assertThatThrownBy(() -> render(context))
        .isInstanceOf(RenderException.class)
        .hasMessageContaining("getting a Google access token for " + registry.host() + " from Application Default Credentials")
        .hasMessageContaining("400")
        .satisfies(e -> assertNoSecret(fullText(e), keyFile)));
    assertNoSecret(stderr, keyFile);
  }

  @Test
  void accessTokenRejectedByTheRegistry_failsNamingTheUser_withoutTheToken() throws Exception {
    String wrong = "ya29.wrong-" + HexFormat.of().formatHex(new SecureRandom().generateSeed(16));
    google.issue(wrong);
    Path key = google.writeServiceAccount(tmp.resolve("sa.json"), null);
    String keyFile = Files.readString(key);
    RegistryContext context = context(adcStore(key, Map.of()).withGoogleRegistry(registry.host()));
    String stderr = capturingStderr(() -> assertThatThrownBy(() -> render(context))
        .isInstanceOf(RenderException.class)
        .hasMessageContaining("rejected the credentials for user '" + GoogleCredentialSource.USERNAME + "'")
        .satisfies(e -> assertThat(fullText(e)).doesNotContain(wrong))
        .satisfies(e -> assertNoSecret(fullText(e), keyFile)));
    assertThat(stderr).doesNotContain(wrong);
    assertNoSecret(stderr, keyFile);
  }

  @Test
  void malformedKeyFile_isNamed_withoutItsContent() throws Exception {
    Path key = tmp.resolve("sa.json");
    Files.writeString(key, "{\"type\":\"service_account\",\"private_key\":\"-----BEGIN PRIVATE KEY-----\\nnot-really-a-key-XYZZY\"}");
    assertThatThrownBy(() -> render(context(adcStore(key, Map.of()).withGoogleRegistry(registry.host()))))
        .hasMessageContaining("malformed Google Application Default Credentials file " + key)
        .satisfies(e -> assertThat(fullText(e)).doesNotContain("XYZZY"));
  }

  @Test
  void googleRegistryNames() {
    CredentialStore store = CredentialStore.none();
    assertThat(List.of("gcr.io", "eu.gcr.io", "us.gcr.io:443", "europe-west1-docker.pkg.dev", "US-DOCKER.PKG.DEV"))
        .allMatch(store::isGoogleRegistry);
    assertThat(List.of("docker.io", "notgcr.io", "gcr.io.example.com", "docker.pkg.dev", "docker.pkg.dev.example.com",
        "127.0.0.1:5000")).noneMatch(store::isGoogleRegistry);
    assertThat(store.withGoogleRegistry("127.0.0.1:5000").isGoogleRegistry("127.0.0.1:5000")).isTrue();
  }

  /** Neither the token nor any part of the private key. */
  static void assertNoSecret(String text, String keyFile) {
    assertThat(text).doesNotContain(TOKEN);
    String pemBody = keyFile.replaceAll(".*BEGIN PRIVATE KEY-----\\\\n", "").substring(0, 40);
    assertThat(text).doesNotContain(pemBody).doesNotContain("BEGIN PRIVATE KEY");
  }

  /** Every message in the cause chain, and the stack trace as printed. */
  static String fullText(Throwable e) {
    java.io.StringWriter w = new java.io.StringWriter();
    e.printStackTrace(new java.io.PrintWriter(w));
    return w.toString();
  }

  static String capturingStderr(Runnable r) {
    PrintStream original = System.err;
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
    try {
      r.run();
    } finally {
      System.setErr(original);
    }
    return captured.toString(StandardCharsets.UTF_8);
  }
}
