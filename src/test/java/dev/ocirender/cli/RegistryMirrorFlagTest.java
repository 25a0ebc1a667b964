package dev.ocirender.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ocirender.source.registry.DistributionRegistry;
import dev.ocirender.source.registry.FaultProxy;
import dev.ocirender.testing.ExternalTools;
import dev.ocirender.testing.FsSnapshot;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code render --registry-mirror URL}: a Docker Hub reference is pulled from the mirror (a real
 * distribution registry on 127.0.0.1 behind a recording proxy; this machine cannot reach Docker
 * Hub) and renders like the layout it was pushed from.
 */
class RegistryMirrorFlagTest {

  @TempDir Path tmp;

  @Test
  void dockerHubReference_rendersFromTheMirror() throws Exception {
    ExternalTools.assumeTools("docker-registry", "skopeo");
    String spec = MainTest.run("sample", tmp.resolve("layout").toString()).out().strip();
    try (DistributionRegistry registry = DistributionRegistry.start(tmp.resolve("registry"));
        FaultProxy mirror = new FaultProxy("http://" + registry.host())) {
      registry.push(tmp.resolve("layout"), spec.substring(spec.lastIndexOf(':') + 1), "library/sample:1");
      Path fromMirror = tmp.resolve("mirror.tar");
      MainTest.Run r = MainTest.run("render", "docker://sample:1", "--registry-mirror", "http://" + mirror.host(),
          "--blob-cache", tmp.resolve("cache").toString(), "--output", fromMirror.toString());
      assertThat(r.exitCode()).as(r.err()).isZero();
      assertThat(mirror.requests()).anyMatch(req -> req.contains("/v2/library/sample/manifests/1"));

      Path fromLayout = tmp.resolve("layout.tar");
      assertThat(MainTest.run("render", spec, "--output", fromLayout.toString()).exitCode()).isZero();
      try (InputStream a = Files.newInputStream(fromMirror); InputStream b = Files.newInputStream(fromLayout)) {
        FsSnapshot.fromTarExact(b).assertMatches(FsSnapshot.fromTarExact(a), FsSnapshot.Compare.EXACT);
      }
    }
  }

  /** The registry context is made only for docker:// sources, but the flags are checked for all. */
  @Test
  void aMalformedMirror_isAnError_evenForALocalImage() {
    String spec = MainTest.run("sample", tmp.resolve("layout").toString()).out().strip();
    MainTest.Run r = MainTest.run("render", spec, "--registry-mirror", "not-a-url", "--output", tmp.resolve("o.tar").toString());
    assertThat(r.exitCode()).isNotZero();
    assertThat(r.err()).contains("registry mirror must be a URL").contains("not-a-url");
    assertThat(tmp.resolve("o.tar")).doesNotExist();
  }
}
