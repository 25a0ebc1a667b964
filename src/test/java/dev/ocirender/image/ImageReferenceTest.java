package dev.ocirender.image;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

class ImageReferenceTest {

  private static final String D = "sha256:" + "ab".repeat(32);

  @ParameterizedTest(name = "{0} -> {1}")
  @CsvSource({
      "alpine, docker.io/library/alpine:latest",
      "alpine:3.19, docker.io/library/alpine:3.19",
      "library/alpine, docker.io/library/alpine:latest",
      "user/app, docker.io/user/app:latest",
      "docker.io/alpine, docker.io/library/alpine:latest",
      "index.docker.io/user/app:1, docker.io/user/app:1",
      "localhost/app, localhost/app:latest",
      "localhost:5000/app, localhost:5000/app:latest",
      "127.0.0.1:5000/a/b/c:v1.2-x_y, 127.0.0.1:5000/a/b/c:v1.2-x_y",
      "gcr.io/project/img, gcr.io/project/img:latest",
      "us-docker.pkg.dev/p/r/img:tag, us-docker.pkg.dev/p/r/img:tag",
      "foo/bar:5000, docker.io/foo/bar:5000",
  })
  void normalises_likeDocker(String in, String canonical) {
    assertThat(ImageReference.parse(in).toString()).isEqualTo(canonical);
  }

  @Test
  void registryDetection_firstComponentWithDotColonOrLocalhost() {
    assertThat(ImageReference.parse("myhost/app").registry()).isEqualTo("docker.io");
    assertThat(ImageReference.parse("myhost/app").repository()).isEqualTo("myhost/app");
    assertThat(ImageReference.parse("my.host/app").registry()).isEqualTo("my.host");
    assertThat(ImageReference.parse("myhost:80/app").registry()).isEqualTo("myhost:80");
  }

  @Test
  void digestOnly_hasNoTag_andPullsByDigest() {
    ImageReference r = ImageReference.parse("alpine@" + D);
    assertThat(r.tag()).isNull();
    assertThat(r.digest()).isEqualTo(Digest.parse(D));
    assertThat(r.manifestReference()).isEqualTo(D);
    assertThat(r).hasToString("docker.io/library/alpine@" + D);
  }

  @Test
  void tagAndDigest_digestWins() {
    ImageReference r = ImageReference.parse("localhost:5000/app:v1@" + D);
    assertThat(r.tag()).isEqualTo("v1");
    assertThat(r.manifestReference()).isEqualTo(D);
    assertThat(r.registry()).isEqualTo("localhost:5000");
  }

  @Test
  void equality_byAllParts() {
    assertThat(ImageReference.parse("alpine")).isEqualTo(ImageReference.parse("docker.io/library/alpine:latest"));
    assertThat(ImageReference.parse("alpine")).isNotEqualTo(ImageReference.parse("alpine:3"));
  }

  @Test
  void invalid_namesWhatIsWrong() {
    assertThatThrownBy(() -> ImageReference.parse("Alpine")).hasMessageContaining("invalid repository");
    assertThatThrownBy(() -> ImageReference.parse("alpine:bad tag")).hasMessageContaining("invalid tag");
    assertThatThrownBy(() -> ImageReference.parse("alpine@sha256:123")).hasMessageContaining("malformed sha256 digest");
    assertThatThrownBy(() -> ImageReference.parse("")).hasMessageContaining("empty");
    assertThatThrownBy(() -> ImageReference.parse("localhost:5000/")).hasMessageContaining("repository");
  }
}
