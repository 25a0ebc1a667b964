package dev.ocirender.source.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ocirender.image.Descriptor;
import dev.ocirender.image.Platform;
import dev.ocirender.image.VerifyingInputStream.DigestMismatchException;
import dev.ocirender.render.OutputFormat;
import dev.ocirender.render.RenderException;
import dev.ocirender.render.Renderer;
import dev.ocirender.source.ImageSource;
import dev.ocirender.source.ImageSources;
import dev.ocirender.source.registry.FaultProxy.Fault;
import dev.ocirender.testing.Requires;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Faults injected by {@link FaultProxy} between the client and a real registry. Transient faults
 * (5xx, 429, a reset, cut-short or stalled body) end in a render equal to the layout's; corrupt content and
 * persistent failures end in a clean error and no output; never in a wrong output.
 */
@Requires(tools = {"docker-registry", "skopeo"})
class RegistryFaultTest {

  @TempDir static Path shared;
  static DistributionRegistry registry;
  static Path one;
  static Path two;
  static byte[] expectedOne;
  static List<Descriptor> layersOne;

  @TempDir Path tmp;
  FaultProxy proxy;
  RegistryContext context;

  @BeforeAll
  static void start() throws Exception {
    registry = DistributionRegistry.start(shared.resolve("registry"));
    one = shared.resolve("one");
    two = shared.resolve("two");
    layersOne = RegistryTestImages.app("one").writeLayout(one).layers().stream().map(l -> l.descriptor()).toList();
    RegistryTestImages.app("two").writeLayout(two);
    registry.push(one, "latest", "team/one:v1");
    registry.push(two, "latest", "team/two:v1");
    expectedOne = RegistryTestImages.renderTar("oci:" + one + ":latest", Platform.LINUX_AMD64, null);
  }

  @AfterAll
  static void stop() throws Exception {
    if (registry != null) {
      registry.close();
    }
  }

  @BeforeEach
  void proxyAndContext() throws Exception {
    proxy = new FaultProxy("http://" + registry.host());
    context = new RegistryContext(RegistryOptions.builder().cacheDir(tmp.resolve("cache"))
        .credentials(CredentialStore.none())
        .readTimeout(Duration.ofMillis(700))
        .retry(new RetryPolicy(4, Duration.ofMillis(20), Duration.ofMillis(100), Duration.ofSeconds(5))).build());
  }

  @AfterEach
  void closeProxy() throws Exception {
    context.cache().awaitIdle(Duration.ofSeconds(60)); // downloads outlive their image; let them land
    proxy.close();
  }

  byte[] render(String repo) throws Exception {
    return RegistryTestImages.renderTar("docker://" + proxy.host() + "/" + repo, Platform.LINUX_AMD64, context);
  }

  String baseBlob() {
    return "/blobs/" + layersOne.get(0).digest();
  }

  @Test
  void serverErrors_areRetried_andTheRenderIsRight() throws Exception {
    proxy.failNext("/manifests/", Fault.STATUS_500).failNext("/blobs/", Fault.STATUS_503).failNext(baseBlob(), Fault.STATUS_500);
    assertThat(render("team/one:v1")).isEqualTo(expectedOne);
    assertThat(proxy.count("/manifests/v1")).isEqualTo(2);
  }

  @Test
  void tooManyRequests_waitsForRetryAfter() throws Exception {
    proxy.failNext(baseBlob(), Fault.TOO_MANY_REQUESTS);
    long start = System.nanoTime();
    assertThat(render("team/one:v1")).isEqualTo(expectedOne);
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isGreaterThanOrEqualTo(Duration.ofMillis(950));
    assertThat(proxy.count(baseBlob())).isEqualTo(2);
  }

  @Test
  void connectionResetHalfwayThroughABlob_resumesWithARange_andVerifiesTheWhole() throws Exception {
    proxy.failNext(baseBlob(), Fault.RESET_HALFWAY);
    assertThat(render("team/one:v1")).isEqualTo(expectedOne);
    List<String> baseRequests = proxy.requests().stream().filter(r -> r.contains(baseBlob())).toList();
    assertThat(baseRequests).hasSize(2);
    assertThat(baseRequests.get(1)).contains("[bytes=").doesNotContain("[bytes=0-]");
  }

  @Test
  void truncatedBody_resumes() throws Exception {
    proxy.failNext(baseBlob(), Fault.TRUNCATE_HALFWAY).failNext("/blobs/", Fault.TRUNCATE_HALFWAY);
    assertThat(render("team/one:v1")).isEqualTo(expectedOne);
  }

  @Test
  void blobBodyStallingHalfway_timesOut_andResumesWithARange() throws Exception {
    proxy.failNext(baseBlob(), Fault.STALL_HALFWAY);
    long start = System.nanoTime();
    assertThat(render("team/one:v1")).isEqualTo(expectedOne);
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isGreaterThanOrEqualTo(Duration.ofMillis(700));
    List<String> baseRequests = proxy.requests().stream().filter(r -> r.contains(baseBlob())).toList();
    assertThat(baseRequests).hasSize(2);
    assertThat(baseRequests.get(1)).contains("[bytes=").doesNotContain("[bytes=0-]");
  }

  @Test
  void manifestBodyStallingOnce_isAskedForAgain() throws Exception {
    proxy.failNext("/manifests/v1", Fault.STALL_HALFWAY);
    assertThat(render("team/one:v1")).isEqualTo(expectedOne);
    assertThat(proxy.count("/manifests/v1")).isEqualTo(2);
  }

  @Test
  void manifestBodyThatAlwaysStalls_timesOut_namingRegistryAndRepository() {
    for (int i = 0; i < 4; i++) {
      proxy.failNext("/manifests/v1", Fault.STALL_HALFWAY);
    }
    assertThatThrownBy(() -> render("team/one:v1"))
        .isInstanceOf(RenderException.class)
        .hasMessageContaining("pulling manifest v1 from " + proxy.host() + "/team/one: gave up after 4 attempts: "
            + "no data received for 700 ms (read timeout)");
    assertThat(proxy.count("/manifests/v1")).isEqualTo(4);
  }

  @Test
  void corruptByte_failsWithADigestMismatch_andLeavesNoOutput() throws Exception {
    proxy.failNext(baseBlob(), Fault.CORRUPT_BYTE);
    Path output = tmp.resolve("out.tar");
    try (ImageSource source = ImageSources.open("docker://" + proxy.host() + "/team/one:v1", context)) {
      assertThatThrownBy(() -> new Renderer().renderToFile(source, Platform.LINUX_AMD64, OutputFormat.TAR, output))
          .isInstanceOf(RenderException.class)
          .hasMessageContaining("digest mismatch, expected " + layersOne.get(0).digest())
          .hasMessageContaining("pulling blob " + layersOne.get(0).digest() + " from " + proxy.host() + "/team/one")
          .hasRootCauseInstanceOf(DigestMismatchException.class);
      }
    assertThat(output).doesNotExist();
    assertThat(context.cache().contains(layersOne.get(0).digest())).isFalse();
    // Nothing bad was cached: the next render fetches it again and succeeds.
    assertThat(render("team/one:v1")).isEqualTo(expectedOne);
  }

  @Test
  void persistentFailure_givesUp_namingRegistryRepositoryDigestAndCause() {
    for (int i = 0; i < 4; i++) {
      proxy.failNext(baseBlob(), Fault.STATUS_503);
    }
    assertThatThrownBy(() -> render("team/one:v1"))
        .isInstanceOf(RenderException.class)
        .hasMessageContaining("pulling blob " + layersOne.get(0).digest() + " from " + proxy.host() + "/team/one: gave up after 4 attempts: HTTP 503");
    assertThat(proxy.count(baseBlob())).isEqualTo(4);
  }

  @Test
  void twoImagesSharingBaseLayers_fetchEachSharedBlobOnce() throws Exception {
    render("team/one:v1");
    render("team/two:v1");
    for (Descriptor shared : layersOne.subList(0, 2)) {
      assertThat(proxy.count("GET /v2/team/one/blobs/" + shared.digest()) + proxy.count("GET /v2/team/two/blobs/" + shared.digest()))
          .as(shared.digest().toString()).isEqualTo(1);
    }
    // Each top layer differs, so each is fetched once, from its own repository.
    assertThat(proxy.requests().stream().filter(r -> r.startsWith("GET") && r.contains("/blobs/")).count())
        .isEqualTo(2 /* configs */ + 2 /* shared */ + 2 /* tops */);
  }

  @Test
  void concurrentRendersOfOneImage_shareOneDownloadPerBlob() throws Exception {
    Thread[] threads = new Thread[3];
    byte[][] results = new byte[threads.length][];
    Throwable[] errors = new Throwable[threads.length];
    for (int i = 0; i < threads.length; i++) {
      int n = i;
      threads[i] = new Thread(() -> {
        try {
          results[n] = render("team/one:v1");
        } catch (Throwable t) {
          errors[n] = t;
        }
      });
      threads[i].start();
    }
    for (Thread t : threads) {
      t.join();
    }
    for (int i = 0; i < threads.length; i++) {
      assertThat(errors[i]).isNull();
      assertThat(results[i]).isEqualTo(expectedOne);
    }
    for (Descriptor layer : layersOne) {
      assertThat(proxy.count("GET /v2/team/one/blobs/" + layer.digest())).isEqualTo(1);
    }
  }
}
