package dev.ocirender.source.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpServer;
import dev.ocirender.image.Platform;
import dev.ocirender.render.RenderException;
import dev.ocirender.testing.ExternalTools;
import dev.ocirender.testing.Requires;
import dev.ocirender.testing.TestClock;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Authentication against real registries: htpasswd Basic auth, and Bearer tokens from a test token
 * server; credentials from config.json {@code auths}, {@code credHelpers} and {@code credsStore}
 * helpers (fake {@code docker-credential-*} scripts on an injected PATH) and containers auth.json.
 */
@Requires(tools = {"docker-registry", "skopeo", "htpasswd"})
class RegistryAuthTest {

  static final String USER = "tester";
  static final String PASSWORD = "s3cret-Pa55";

  @TempDir static Path shared;
  static DistributionRegistry basicRegistry;
  static DistributionRegistry tokenRegistry;
  static BearerTokenServer tokens;
  static Path layout;
  static byte[] expected;

  @TempDir Path tmp;

  @BeforeAll
  static void start() throws Exception {
    Path htpasswd = shared.resolve("htpasswd");
    Files.writeString(htpasswd, ExternalTools.output("htpasswd", "-Bbn", USER, PASSWORD));
    basicRegistry = DistributionRegistry.start(shared.resolve("basic"),
        "auth:\n  htpasswd:\n    realm: basic-realm\n    path: " + htpasswd + "\n");
    tokens = new BearerTokenServer(shared.resolve("tokens"));
    tokenRegistry = DistributionRegistry.start(shared.resolve("token"), tokens.registryAuthYaml());
    layout = shared.resolve("app");
    RegistryTestImages.app("auth").writeLayout(layout);
    basicRegistry.push(layout, "latest", "team/app:v1", "--dest-creds", USER + ":" + PASSWORD);
    tokenRegistry.push(layout, "latest", "team/app:v1", "--dest-creds", USER + ":" + PASSWORD);
    expected = RegistryTestImages.renderTar("oci:" + layout + ":latest", Platform.LINUX_AMD64, null);
  }

  @AfterAll
  static void stop() throws Exception {
    for (AutoCloseable c : new AutoCloseable[] {basicRegistry, tokenRegistry, tokens}) {
      if (c != null) {
        c.close();
      }
    }
  }

  private final List<RegistryContext> contexts = new ArrayList<>();
  /** The contexts' clock: moved forward to expire tokens, never slept on. */
  private final TestClock clock = new TestClock();

  RegistryContext context(Map<String, String> env) {
    RegistryContext c = new RegistryContext(RegistryOptions.builder().cacheDir(tmp.resolve("cache"))
        .credentials(new CredentialStore(env, tmp.resolve("home"))).clock(clock)
        .retry(new RetryPolicy(3, Duration.ofMillis(10), Duration.ofMillis(50), Duration.ofSeconds(5))).build());
    contexts.add(c);
    return c;
  }

  /** Layer downloads outlive the image that started them; let them land before @TempDir goes. */
  @AfterEach
  void letDownloadsFinish() throws Exception {
    for (RegistryContext c : contexts) {
      c.cache().awaitIdle(Duration.ofSeconds(60));
    }
  }

  Path dockerConfig(String json) throws Exception {
    Path dir = Files.createDirectories(tmp.resolve("docker-config"));
    Files.writeString(dir.resolve("config.json"), json);
    return dir;
  }

  static String basicAuth() {
    return Base64.getEncoder().encodeToString((USER + ":" + PASSWORD).getBytes(StandardCharsets.UTF_8));
  }

  /** A fake helper that answers for {@code server} only and says "credentials not found" otherwise. */
  Path helper(String name, String server) throws Exception {
    Path bin = Files.createDirectories(tmp.resolve("bin"));
    Path script = bin.resolve("docker-credential-" + name);
    Files.writeString(script, "#!/bin/sh\n"
        + "[ \"$1\" = get ] || exit 1\n"
        + "read server\n"
        + "if [ \"$server\" = '" + server + "' ]; then\n"
        + "  printf '{\"ServerURL\":\"%s\",\"Username\":\"" + USER + "\",\"Secret\":\"" + PASSWORD + "\"}' \"$server\"\n"
        + "else\n  echo 'credentials not found in native keychain'; exit 1\nfi\n");
    Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwxr-xr-x"));
    return bin;
  }

  byte[] render(DistributionRegistry registry, RegistryContext context) throws Exception {
    return RegistryTestImages.renderTar(registry.docker("team/app:v1"), Platform.LINUX_AMD64, context);
  }

  @Test
  void basic_credentialsFromDockerConfigAuths() throws Exception {
    Path config = dockerConfig("{\"auths\":{\"" + basicRegistry.host() + "\":{\"auth\":\"" + basicAuth() + "\"}}}");
    assertThat(render(basicRegistry, context(Map.of("DOCKER_CONFIG", config.toString())))).isEqualTo(expected);
  }

  @Test
  void basic_authsKeyWithSchemeAndPath_matches() throws Exception {
    Path config = dockerConfig("{\"auths\":{\"http://" + basicRegistry.host() + "/v2/\":{\"username\":\"" + USER
        + "\",\"password\":\"" + PASSWORD + "\"}}}");
    assertThat(render(basicRegistry, context(Map.of("DOCKER_CONFIG", config.toString())))).isEqualTo(expected);
  }

  @Test
  void basic_withoutCredentials_failsSayingSo() {
    assertThatThrownBy(() -> render(basicRegistry, context(Map.of())))
        .isInstanceOf(RenderException.class)
        .hasMessageContaining("authentication required and no credentials found for " + basicRegistry.host());
  }

  @Test
  void basic_wrongPassword_failsWithoutShowingAnySecret() throws Exception {
    String wrong = Base64.getEncoder().encodeToString((USER + ":wrong-Pa55").getBytes(StandardCharsets.UTF_8));
    Path config = dockerConfig("{\"auths\":{\"" + basicRegistry.host() + "\":{\"auth\":\"" + wrong + "\"}}}");
    assertThatThrownBy(() -> render(basicRegistry, context(Map.of("DOCKER_CONFIG", config.toString()))))
        .isInstanceOf(RenderException.class)
        .hasMessageContaining("rejected the credentials for user '" + USER + "'")
        .satisfies(e -> assertThat(e.getMessage()).doesNotContain("wrong-Pa55").doesNotContain(wrong));
  }

  @Test
  void basic_credHelper_foundOnTheInjectedPath() throws Exception {
    Path bin = helper("testhelper", basicRegistry.host());
    Path config = dockerConfig("{\"credHelpers\":{\"" + basicRegistry.host() + "\":\"testhelper\"}}");
    assertThat(render(basicRegistry, context(Map.of("DOCKER_CONFIG", config.toString(), "PATH", bin + ":/usr/bin:/bin"))))
        .isEqualTo(expected);
  }

  @Test
  void basic_credsStore_usedWhenNothingMoreSpecific() throws Exception {
    Path bin = helper("store", basicRegistry.host());
    Path config = dockerConfig("{\"auths\":{\"other.example\":{\"auth\":\"eDp5\"}},\"credsStore\":\"store\"}");
    assertThat(render(basicRegistry, context(Map.of("DOCKER_CONFIG", config.toString(), "PATH", bin + ":/usr/bin:/bin"))))
        .isEqualTo(expected);
  }

  @Test
  void basic_missingHelper_isNamed() throws Exception {
    Path config = dockerConfig("{\"credHelpers\":{\"" + basicRegistry.host() + "\":\"absent\"}}");
    assertThatThrownBy(() -> render(basicRegistry, context(Map.of("DOCKER_CONFIG", config.toString(), "PATH", "/nonexistent"))))
        .hasMessageContaining("docker-credential-absent");
  }

  @Test
  void basic_containersAuthFile_fromRegistryAuthFile() throws Exception {
    Path authFile = tmp.resolve("auth.json");
    Files.writeString(authFile, "{\"auths\":{\"" + basicRegistry.host() + "\":{\"auth\":\"" + basicAuth() + "\"}}}");
    assertThat(render(basicRegistry, context(Map.of("REGISTRY_AUTH_FILE", authFile.toString())))).isEqualTo(expected);
  }

  @Test
  void bearer_anonymous_oneTokenServesTheWholeRender() throws Exception {
    int before = tokens.tokensIssued();
    assertThat(render(tokenRegistry, context(Map.of()))).isEqualTo(expected);
    assertThat(tokens.tokensIssued() - before).isEqualTo(1);
  }

  @Test
  void bearer_tokenServerWantsCredentials_sentFromTheConfig() throws Exception {
    tokens.requireBasic(USER, PASSWORD);
    try {
      assertThatThrownBy(() -> render(tokenRegistry, context(Map.of())))
          .hasMessageContaining("getting a token for repository:team/app:pull")
          .hasMessageContaining("HTTP 401");
      Path config = dockerConfig("{\"auths\":{\"" + tokenRegistry.host() + "\":{\"auth\":\"" + basicAuth() + "\"}}}");
      assertThat(render(tokenRegistry, context(Map.of("DOCKER_CONFIG", config.toString())))).isEqualTo(expected);
    } finally {
      tokens.requireBasic(null, null);
    }
  }

  @Test
  void bearer_expiredToken_isFetchedAgain() throws Exception {
    // Tokens live 300 s; ours is replaced 10 s early (RegistryAuth's margin).
    RegistryContext context = context(Map.of());
    int before = tokens.tokensIssued();
    render(tokenRegistry, context);
    clock.advance(Duration.ofSeconds(289));
    assertThat(render(tokenRegistry, context)).isEqualTo(expected);
    assertThat(tokens.tokensIssued() - before).as("still fresh 289 s later").isEqualTo(1);
    clock.advance(Duration.ofSeconds(2));
    assertThat(render(tokenRegistry, context)).isEqualTo(expected);
    assertThat(tokens.tokensIssued() - before).as("within the margin at 291 s: fetched again").isEqualTo(2);
  }

  @Test
  void bearer_tokenRejectedWith401_isRefreshed() throws Exception {
    tokens.denyNextGrants(1);
    int before = tokens.tokensIssued();
    assertThat(render(tokenRegistry, context(Map.of()))).isEqualTo(expected);
    assertThat(tokens.tokensIssued() - before).isEqualTo(2);
  }

  @Test
  void redirectToBlobStorage_neverCarriesTheAuthorizationHeader() throws Exception {
    List<String> storageAuth = new CopyOnWriteArrayList<>();
    HttpServer storage = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    Path blobs = shared.resolve("basic/storage/docker/registry/v2/blobs/sha256");
    storage.createContext("/", exchange -> {
      try (exchange) {
        storageAuth.add(String.valueOf(exchange.getRequestHeaders().getFirst("Authorization")));
        String hex = exchange.getRequestURI().getPath().replaceAll(".*sha256:", "");
        byte[] body = Files.readAllBytes(blobs.resolve(hex.substring(0, 2)).resolve(hex).resolve("data"));
        exchange.sendResponseHeaders(200, body.length);
        exchange.getResponseBody().write(body);
      }
    });
    storage.start();
    try (FaultProxy proxy = new FaultProxy("http://" + basicRegistry.host())) {
      proxy.redirectBlobs(path -> "http://localhost:" + storage.getAddress().getPort() + "/storage" + path.replaceAll("^.*/blobs", ""));
      Path config = dockerConfig("{\"auths\":{\"" + proxy.host() + "\":{\"auth\":\"" + basicAuth() + "\"}}}");
      byte[] tar = RegistryTestImages.renderTar("docker://" + proxy.host() + "/team/app:v1", Platform.LINUX_AMD64,
          context(Map.of("DOCKER_CONFIG", config.toString())));
      assertThat(tar).isEqualTo(expected);
      assertThat(proxy.authorizations()).isNotEmpty().allMatch(a -> a.startsWith("Basic "));
      assertThat(storageAuth).hasSize(4).containsOnly("null"); // config + 3 layers, none with credentials
    } finally {
      storage.stop(0);
    }
  }
}
