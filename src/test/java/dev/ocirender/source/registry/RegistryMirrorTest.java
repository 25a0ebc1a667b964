package dev.ocirender.source.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ocirender.image.Platform;
import dev.ocirender.testing.Requires;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Docker Hub mirrors ({@code --registry-mirror}): a real distribution registry on 127.0.0.1 plays
 * the mirror, behind a {@link FaultProxy} that records what was asked of it. This machine cannot
 * reach Docker Hub, so a Docker Hub image that renders at all came from the mirror.
 */
@Requires(tools = {"docker-registry", "skopeo"})
class RegistryMirrorTest {

  @TempDir static Path shared;
  static DistributionRegistry registry;
  static Path appLayout;

  @TempDir Path tmp;

  @BeforeAll
  static void startRegistryAndPush() throws Exception {
    registry = DistributionRegistry.start(shared.resolve("registry"));
    appLayout = shared.resolve("app");
    RegistryTestImages.app("mirror").writeLayout(appLayout);
    registry.push(appLayout, "latest", "library/app:v1");
    registry.push(appLayout, "latest", "team/app:v1");
  }

  @AfterAll
  static void stopRegistry() throws Exception {
    if (registry != null) {
      registry.close();
    }
  }

  private RegistryContext context(String... mirrors) {
    RegistryOptions.Builder b = RegistryOptions.builder().cacheDir(tmp.resolve("cache")).credentials(CredentialStore.none())
        .retry(new RetryPolicy(2, Duration.ofMillis(10), Duration.ofMillis(50), Duration.ofSeconds(5)));
    for (String m : mirrors) {
      b.dockerHubMirror(URI.create(m));
    }
    return new RegistryContext(b.build());
  }

  private byte[] layoutTar() throws Exception {
    return RegistryTestImages.renderTar("oci:" + appLayout + ":latest", Platform.LINUX_AMD64, context());
  }

  @Test
  void dockerHubImage_isPulledFromTheMirror() throws Exception {
    try (FaultProxy mirror = new FaultProxy("http://" + registry.host())) {
      RegistryContext context = context("http://" + mirror.host());
      byte[] tar = RegistryTestImages.renderTar("docker://app:v1", Platform.LINUX_AMD64, context);
      assertThat(tar).isEqualTo(layoutTar());
      assertThat(mirror.requests()).anyMatch(r -> r.contains("/v2/library/app/manifests/v1"))
          .anyMatch(r -> r.contains("/v2/library/app/blobs/sha256:"));
      assertThat(context.cache().awaitIdle(Duration.ofSeconds(60))).isTrue();
    }
  }

  @Test
  void aMirrorThatDoesNotAnswer_isSkippedForTheNextOne() throws Exception {
    int dead = DistributionRegistry.freePort();
    try (FaultProxy mirror = new FaultProxy("http://" + registry.host())) {
      RegistryContext context = context("http://127.0.0.1:" + dead, "http://" + mirror.host());
      byte[] tar = RegistryTestImages.renderTar("docker://docker.io/library/app:v1", Platform.LINUX_AMD64, context);
      assertThat(tar).isEqualTo(layoutTar());
      assertThat(mirror.count("/manifests/v1")).isPositive();
      assertThat(context.cache().awaitIdle(Duration.ofSeconds(60))).isTrue();
    }
  }

  @Test
  void otherRegistries_neverAskTheMirror() throws Exception {
    try (FaultProxy mirror = new FaultProxy("http://" + registry.host())) {
      RegistryContext context = context("http://" + mirror.host());
      byte[] tar = RegistryTestImages.renderTar(registry.docker("team/app:v1"), Platform.LINUX_AMD64, context);
      assertThat(tar).isEqualTo(layoutTar());
      assertThat(mirror.requests()).isEmpty();
      assertThat(context.cache().awaitIdle(Duration.ofSeconds(60))).isTrue();
    }
  }

  @Test
  void whenEveryEndpointFails_theErrorAlsoSaysWhatTheMirrorsSaid() throws Exception {
    int dead = DistributionRegistry.freePort();
    RegistryContext context = context("http://127.0.0.1:" + dead);
    // Docker Hub itself is the last endpoint: unreachable from here, or a 401/404 if it ever is.
    assertThatThrownBy(() -> RegistryTestImages.renderTar("docker://app:v1", Platform.LINUX_AMD64, context))
        .hasMessageContaining("from docker.io/library/app")
        .hasMessageContaining("after the mirrors failed: pulling manifest v1 from 127.0.0.1:" + dead + "/library/app");
  }
}
