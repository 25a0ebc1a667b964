package dev.ocirender.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ocirender.image.Descriptor;
import dev.ocirender.image.Digest;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.stream.Collectors;
import org.apache.beam.sdk.values.KV;
import org.junit.jupiter.api.Test;

/**
 * The key and the split of {@link Affinity}: which layers make an image's base, and how a base's
 * images are shared out over keys. The chain digest is checked against {@code sha256sum}.
 */
class AffinityTest {

  private static final String MEDIA = "application/vnd.oci.image.layer.v1.tar+gzip";

  @Test
  void baseKey_isTheChainOfTheBottomLayersHoldingHalfTheBytes_checkedWithSha256sum() throws Exception {
    Descriptor distro = layer('a', 100 << 20);
    Descriptor jdk = layer('b', 200 << 20);
    Descriptor python = layer('c', 30 << 20);
    Descriptor top = layer('d', 10 << 20);
    // distro 100 of 310 MiB is not half: the base is distro + jdk, a chain of two.
    String expected = "sha256:" + sha256sum(distro.digest() + " " + jdk.digest());
    assertThat(Affinity.baseKey(List.of(distro, jdk, top))).isEqualTo(expected);
    // distro 100 of 140 MiB is: the base is the distro layer alone, its digest.
    assertThat(Affinity.baseKey(List.of(distro, python, top))).isEqualTo(distro.digest().toString());
    // Three layers: the chain goes on from the chain of the first two.
    Descriptor small = layer('e', 1);
    assertThat(Affinity.baseKey(List.of(small, small, layer('f', 50), top)))
        .isEqualTo("sha256:" + sha256sum("sha256:" + sha256sum(small.digest() + " " + small.digest()) + " " + layer('f', 50).digest()));
  }

  @Test
  void baseKey_leavesTheTopLayerOut_evenWhenItHoldsMostBytes_butNotForOneLayer() {
    Descriptor base = layer('a', 10);
    assertThat(Affinity.baseKey(List.of(base, layer('b', 1000)))).isEqualTo(base.digest().toString());
    assertThat(Affinity.baseKey(List.of(base, layer('c', 1000)))).isEqualTo(Affinity.baseKey(List.of(base, layer('b', 1000))));
    assertThat(Affinity.baseKey(List.of(layer('z', 5)))).isEqualTo(layer('z', 5).digest().toString());
    assertThat(Affinity.baseKey(List.of())).isEmpty();
  }

  @Test
  void split_smallBase_oneKey_hotBase_nearEqualRunsOfAtMostGroupSize() {
    List<ImageGroup> three = images("base", 3);
    assertThat(Affinity.split("k", three, 8)).extracting(KV::getKey).containsOnly("k/0");

    List<ImageGroup> twenty = images("hot", 20);
    List<KV<String, ImageGroup>> keyed = Affinity.split("k", twenty, 8);
    Map<String, Long> sizes = keyed.stream().collect(Collectors.groupingBy(KV::getKey, Collectors.counting()));
    assertThat(sizes).containsOnlyKeys("k/0", "k/1", "k/2");
    assertThat(sizes.values()).allSatisfy(n -> assertThat(n).isBetween(6L, 7L)).contains(7L, 6L);
    // Every image exactly once.
    assertThat(keyed).extracting(KV::getValue).containsExactlyInAnyOrderElementsOf(twenty);
    assertThat(Affinity.split("k", images("exact", 16), 8).stream().map(KV::getKey).collect(Collectors.toSet()))
        .isEqualTo(Set.of("k/0", "k/1"));
  }

  @Test
  void split_doesNotDependOnTheOrderImagesArrive() {
    List<ImageGroup> images = images("any", 13);
    Map<ImageGroup, String> first = keys(Affinity.split("k", images, 4));
    List<ImageGroup> shuffled = new ArrayList<>(images);
    for (long seed = 0; seed < 5; seed++) {
      Collections.shuffle(shuffled, new Random(seed));
      assertThat(keys(Affinity.split("k", shuffled, 4))).isEqualTo(first);
    }
  }

  private static Map<ImageGroup, String> keys(List<KV<String, ImageGroup>> keyed) {
    Map<ImageGroup, String> out = new HashMap<>();
    keyed.forEach(kv -> out.put(kv.getValue(), kv.getKey()));
    return out;
  }

  private static List<ImageGroup> images(String name, int n) {
    List<ImageGroup> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      ImageRequest q = new ImageRequest("catalog", i + 1, name + i, "oci:/" + name + i, "linux/amd64", "tar", "/out/" + i);
      String digest = "sha256:" + sha256(name + i);
      out.add(new ImageGroup(new ResolvedRequest(q, digest, 0, "base"), List.of(), null));
    }
    return out;
  }

  private static Descriptor layer(char seed, long size) {
    return new Descriptor(MEDIA, Digest.parse("sha256:" + String.valueOf(seed).repeat(64).replaceAll("[^0-9a-f]", "0")), size);
  }

  private static String sha256(String s) {
    try {
      return java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new AssertionError(e);
    }
  }

  /** {@code printf %s TEXT | sha256sum}: the chain digest from an independent implementation. */
  private static String sha256sum(String text) throws IOException, InterruptedException {
    Process p = new ProcessBuilder("sha256sum").start();
    p.getOutputStream().write(text.getBytes(StandardCharsets.UTF_8));
    p.getOutputStream().close();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
    assertThat(p.waitFor()).isZero();
    return out.substring(0, 64);
  }
}
