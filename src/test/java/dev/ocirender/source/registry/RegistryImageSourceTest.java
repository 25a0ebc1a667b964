package dev.ocirender.source.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ocirender.image.Digest;
import dev.ocirender.image.MediaTypes;
import dev.ocirender.image.Platform;
import dev.ocirender.layer.LayerBlob;
import dev.ocirender.render.RenderException;
import dev.ocirender.source.ImageSource;
import dev.ocirender.source.ImageSources;
import dev.ocirender.source.ResolvedImage;
import dev.ocirender.testing.ImageBuilder;
import dev.ocirender.testing.Requires;
import java.io.InputStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Pulls from a real distribution registry on 127.0.0.1, with images pushed by skopeo: whatever the
 * manifest form (OCI manifest, OCI index, Docker schema 2, Docker manifest list), rendering
 * {@code docker://} gives the same tar bytes as rendering the {@code oci:} layout it was pushed from.
 */
@Requires(tools = {"docker-registry", "skopeo"})
class RegistryImageSourceTest {

  static final Platform ARM64 = Platform.parse("linux/arm64/v8");

  @TempDir static Path shared;
  static DistributionRegistry registry;
  static Path appLayout;
  static Path multiLayout;

  @TempDir Path tmp;
  RegistryContext context;

  @BeforeAll
  static void startRegistryAndPush() throws Exception {
    registry = DistributionRegistry.start(shared.resolve("registry"));
    appLayout = shared.resolve("app");
    RegistryTestImages.app("one").writeLayout(appLayout);
    registry.push(appLayout, "latest", "team/app:v1");
    registry.push(appLayout, "latest", "team/app-docker:v1", "--format", "v2s2");
    Map<Platform, ImageBuilder> platforms = new LinkedHashMap<>();
    platforms.put(Platform.LINUX_AMD64, RegistryTestImages.app("amd64"));
    platforms.put(ARM64, RegistryTestImages.app("arm64"));
    multiLayout = RegistryTestImages.multiPlatformLayout(shared.resolve("multi"), "multi", platforms);
    registry.push(multiLayout, "multi", "team/multi:v1", "--all");
    registry.push(multiLayout, "multi", "team/multi-docker:v1", "--all", "--format", "v2s2");
  }

  @AfterAll
  static void stopRegistry() throws Exception {
    if (registry != null) {
      registry.close();
    }
  }

  @BeforeEach
  void freshContext() {
    context = new RegistryContext(options().build());
  }

  /** Layer downloads outlive the source that started them; let them land before @TempDir goes. */
  @AfterEach
  void letDownloadsFinish() throws Exception {
    assertThat(context.cache().awaitIdle(Duration.ofSeconds(60))).isTrue();
  }

  RegistryOptions.Builder options() {
    return RegistryOptions.builder().cacheDir(tmp.resolve("cache")).credentials(CredentialStore.none())
        .retry(new RetryPolicy(4, Duration.ofMillis(20), Duration.ofMillis(200), Duration.ofSeconds(5)));
  }

  @Test
  void ociManifest_rendersTheSameTarAsTheLayout() throws Exception {
    byte[] fromRegistry = RegistryTestImages.renderTar(registry.docker("team/app:v1"), Platform.LINUX_AMD64, context);
    byte[] fromLayout = RegistryTestImages.renderTar("oci:" + appLayout + ":latest", Platform.LINUX_AMD64, context);
    assertThat(fromRegistry).hasSizeGreaterThan(100_000).isEqualTo(fromLayout);
  }

  @Test
  void dockerSchema2Manifest_rendersTheSameTarAsTheLayout() throws Exception {
    try (ImageSource s = ImageSources.open(registry.docker("team/app-docker:v1"), context)) {
      ResolvedImage image = s.resolve(Platform.LINUX_AMD64);
      assertThat(image.manifest().mediaType()).isEqualTo(MediaTypes.DOCKER_MANIFEST);
      assertThat(image.layers()).hasSize(3);
    }
    assertThat(RegistryTestImages.renderTar(registry.docker("team/app-docker:v1"), Platform.LINUX_AMD64, context))
        .isEqualTo(RegistryTestImages.renderTar("oci:" + appLayout + ":latest", Platform.LINUX_AMD64, context));
  }

  @Test
  void ociIndex_selectsEachPlatform_likeTheLayout() throws Exception {
    for (Platform p : new Platform[] {Platform.LINUX_AMD64, ARM64}) {
      byte[] fromRegistry = RegistryTestImages.renderTar(registry.docker("team/multi:v1"), p, context);
      assertThat(fromRegistry).as(p.toString())
          .isEqualTo(RegistryTestImages.renderTar("oci:" + multiLayout + ":multi", p, context));
    }
    assertThat(RegistryTestImages.renderTar(registry.docker("team/multi:v1"), ARM64, context))
        .isNotEqualTo(RegistryTestImages.renderTar(registry.docker("team/multi:v1"), Platform.LINUX_AMD64, context));
  }

  @Test
  void dockerManifestList_selectsEachPlatform_likeTheLayout() throws Exception {
    try (ImageSource s = ImageSources.open(registry.docker("team/multi-docker:v1"), context)) {
      ResolvedImage image = s.resolve(ARM64);
      assertThat(image.platform()).isEqualTo(ARM64);
      assertThat(image.manifest().mediaType()).isEqualTo(MediaTypes.DOCKER_MANIFEST);
    }
    for (Platform p : new Platform[] {Platform.LINUX_AMD64, ARM64}) {
      assertThat(RegistryTestImages.renderTar(registry.docker("team/multi-docker:v1"), p, context)).as(p.toString())
          .isEqualTo(RegistryTestImages.renderTar("oci:" + multiLayout + ":multi", p, context));
    }
  }

  @Test
  void missingPlatform_listsTheAvailableOnes() {
    assertThatThrownBy(() -> RegistryTestImages.renderTar(registry.docker("team/multi:v1"), Platform.parse("linux/s390x"), context))
        .isInstanceOf(RenderException.class)
        .hasMessageContaining("no manifest for platform linux/s390x; available: linux/amd64, linux/arm64/v8");
  }

  @Test
  void pinnedDigest_pullsByDigest_andTagWithDigest_letsTheDigestWin() throws Exception {
    Digest digest;
    try (ImageSource s = ImageSources.open(registry.docker("team/app:v1"), context)) {
      digest = s.resolve(Platform.LINUX_AMD64).manifestDigest();
    }
    byte[] expected = RegistryTestImages.renderTar("oci:" + appLayout + ":latest", Platform.LINUX_AMD64, context);
    assertThat(RegistryTestImages.renderTar(registry.docker("team/app@" + digest), Platform.LINUX_AMD64, context))
        .isEqualTo(expected);
    // The tag does not exist, the digest does: the digest wins.
    assertThat(RegistryTestImages.renderTar(registry.docker("team/app:no-such-tag@" + digest), Platform.LINUX_AMD64, context))
        .isEqualTo(expected);
  }

  @Test
  void unknownTagOrRepository_isA404NamingTheManifest() {
    assertThatThrownBy(() -> ImageSources.open(registry.docker("team/app:nope"), context).resolve(Platform.LINUX_AMD64))
        .isInstanceOf(RegistryException.class)
        .hasMessageContaining("pulling manifest nope from " + registry.host() + "/team/app: HTTP 404 (MANIFEST_UNKNOWN");
    Digest absent = Digest.sha256Of(new byte[] {1});
    assertThatThrownBy(() -> ImageSources.open(registry.docker("team/app@" + absent), context).resolve(Platform.LINUX_AMD64))
        .isInstanceOf(RegistryException.class)
        .hasMessageContaining(absent.toString()).hasMessageContaining("HTTP 404");
  }

  @Test
  void inspectOnly_downloadsNoLayer() throws Exception {
    try (ImageSource s = ImageSources.open(registry.docker("team/app:v1"), context)) {
      s.resolve(Platform.LINUX_AMD64);
    }
    // Only the config went through the blob cache.
    assertThat(context.cache().downloadsStarted()).isEqualTo(1);
  }

  @Test
  void reopeningALayer_readsTheCache_notTheNetwork() throws Exception {
    try (ImageSource s = ImageSources.open(registry.docker("team/app:v1"), context)) {
      ResolvedImage image = s.resolve(Platform.LINUX_AMD64);
      byte[] first;
      LayerBlob base = image.layers().get(0);
      try (InputStream in = base.openRaw()) {
        first = in.readAllBytes();
      }
      long downloads = context.cache().downloadsStarted();
      assertThat(downloads).isEqualTo(1 + image.layers().size());
      try (InputStream in = base.openRaw()) {
        assertThat(in.readAllBytes()).isEqualTo(first);
      }
      assertThat(context.cache().downloadsStarted()).isEqualTo(downloads);
      assertThat(Digest.sha256Of(first)).isEqualTo(base.descriptor().digest());
    }
  }

  @Test
  void secondImageInTheSameProcess_reusesTheCachedLayers() throws Exception {
    RegistryTestImages.renderTar(registry.docker("team/app:v1"), Platform.LINUX_AMD64, context);
    long downloads = context.cache().downloadsStarted();
    // Another context (another CLI command, say) on the same cache directory: nothing new to fetch
    // but the manifest, which is not a blob.
    RegistryContext other = new RegistryContext(options().build());
    RegistryTestImages.renderTar(registry.docker("team/app:v1"), Platform.LINUX_AMD64, other);
    assertThat(other.cache()).isSameAs(context.cache());
    assertThat(context.cache().downloadsStarted()).isEqualTo(downloads);
  }

  @Test
  void cli_rendersAndInspectsADockerReference_withRegistryFlags() throws Exception {
    Path out = tmp.resolve("cli.tar");
    java.io.StringWriter err = new java.io.StringWriter();
    picocli.CommandLine cl = dev.ocirender.cli.Main.commandLine();
    cl.setErr(new java.io.PrintWriter(err));
    int code = cl.execute("render", registry.docker("team/multi-docker:v1"), "--platform", "linux/arm64",
        "--blob-cache", tmp.resolve("cli-cache").toString(), "--blob-cache-size", "1g", "--parallel-downloads", "2",
        "--registry-timeout", "30", "-o", out.toString());
    assertThat(code).as(err.toString()).isZero();
    assertThat(java.nio.file.Files.readAllBytes(out))
        .isEqualTo(RegistryTestImages.renderTar("oci:" + multiLayout + ":multi", ARM64, context));
    java.io.StringWriter stdout = new java.io.StringWriter();
    cl = dev.ocirender.cli.Main.commandLine();
    cl.setOut(new java.io.PrintWriter(stdout));
    assertThat(cl.execute("inspect", registry.docker("team/app:v1"), "--tls-verify=false",
        "--blob-cache", tmp.resolve("cli-cache").toString())).isZero();
    assertThat(stdout.toString()).contains("layers     3");
  }
}
