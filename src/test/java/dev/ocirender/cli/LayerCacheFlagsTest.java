package dev.ocirender.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ocirender.layer.decoded.LayerCache;
import dev.ocirender.squashfs.writer.BlockStore;
import dev.ocirender.testing.ExternalTools;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code render --layer-cache DIR [--layer-cache-size SIZE]}: the sample image rendered without a
 * cache, then twice with one (cold, warm), gives the same bytes, tar and squashfs; the warm render
 * decodes nothing, and the cache stays within its size. GNU tar reads the cached render's output.
 */
class LayerCacheFlagsTest {

  @TempDir Path tmp;

  private String sample() {
    return MainTest.run("sample", tmp.resolve("layout").toString()).out().strip();
  }

  private MainTest.Run render(String spec, String format, Path out, String... extra) {
    List<String> args = new java.util.ArrayList<>(List.of("render", spec, "--format", format, "-o", out.toString()));
    args.addAll(List.of(extra));
    return MainTest.run(args.toArray(String[]::new));
  }

  private static long cacheEntries(Path cache) throws IOException {
    try (Stream<Path> files = Files.list(cache.resolve(LayerCache.LAYERS))) {
      return files.count();
    }
  }

  @Test
  void renderWithLayerCache_coldAndWarm_sameBytesAsWithout_warmDecodesNothing() throws IOException {
    String spec = sample();
    Path cache = tmp.resolve("cache");
    for (String format : new String[] {"tar", "squashfs"}) {
      Path plain = tmp.resolve("plain." + format);
      MainTest.Run r = render(spec, format, plain);
      assertThat(r.exitCode()).as(r.err()).isZero();
      assertThat(r.err()).doesNotContain("layer cache");

      Path cold = tmp.resolve("cold." + format);
      r = render(spec, format, cold, "--layer-cache", cache.toString(), "--layer-cache-size", "1g");
      assertThat(r.exitCode()).as(r.err()).isZero();
      assertThat(r.err()).contains("layer cache: ");
      assertThat(Files.readAllBytes(cold)).isEqualTo(Files.readAllBytes(plain));
      assertThat(cacheEntries(cache)).isGreaterThanOrEqualTo(2);

      Path warm = tmp.resolve("warm." + format);
      r = render(spec, format, warm, "--layer-cache", cache.toString());
      assertThat(r.exitCode()).as(r.err()).isZero();
      assertThat(r.err()).contains(" 0 misses, 0 B decoded");
      assertThat(Files.readAllBytes(warm)).isEqualTo(Files.readAllBytes(plain));
    }
    ExternalTools.assumeTools("tar");
    ExternalTools.run(tmp, List.of("tar", "-tf", tmp.resolve("warm.tar").toString()));
  }

  private static String between(String text, String before, String after) {
    Matcher m = Pattern.compile(Pattern.quote(before) + "(.+?)" + Pattern.quote(after)).matcher(text);
    assertThat(m.find()).as("'%s...%s' in %s", before, after, text).isTrue();
    return m.group(1);
  }

  /**
   * Squashfs with {@code --layer-cache}: the first render compresses the content and keeps its blocks
   * under DIR/blocks; the second compresses nothing and reuses exactly what the first compressed;
   * both are byte-identical to a render without the cache, and unsquashfs reads the warm one.
   */
  @Test
  void squashfsWithLayerCache_secondRenderCompressesNothing_sameBytesAsWithout() throws IOException {
    String spec = sample();
    Path cache = tmp.resolve("cache");
    Path plain = tmp.resolve("plain.sqfs");
    MainTest.Run r = render(spec, "squashfs", plain);
    assertThat(r.exitCode()).as(r.err()).isZero();
    assertThat(r.err()).doesNotContain("blocks:");

    Path cold = tmp.resolve("cold.sqfs");
    r = render(spec, "squashfs", cold, "--layer-cache", cache.toString());
    assertThat(r.exitCode()).as(r.err()).isZero();
    String compressed = between(r.err(), "; blocks: ", " compressed, ");
    assertThat(compressed).as(r.err()).isNotEqualTo("0 B");
    assertThat(between(r.err(), " compressed, ", " reused compressed")).as(r.err()).isEqualTo("0 B");
    assertThat(Files.readAllBytes(cold)).isEqualTo(Files.readAllBytes(plain));
    try (Stream<Path> blocks = Files.list(cache.resolve(BlockStore.DIRECTORY))) {
      assertThat(blocks.filter(p -> p.getFileName().toString().endsWith(".blk"))).isNotEmpty();
    }

    Path warm = tmp.resolve("warm.sqfs");
    r = render(spec, "squashfs", warm, "--layer-cache", cache.toString());
    assertThat(r.exitCode()).as(r.err()).isZero();
    assertThat(between(r.err(), "; blocks: ", " compressed, ")).as(r.err()).isEqualTo("0 B");
    assertThat(between(r.err(), " compressed, ", " reused compressed")).as(r.err()).isEqualTo(compressed);
    assertThat(Files.readAllBytes(warm)).isEqualTo(Files.readAllBytes(plain));

    // Tar has no blocks to report.
    r = render(spec, "tar", tmp.resolve("x.tar"), "--layer-cache", cache.toString());
    assertThat(r.err()).contains("layer cache: ").doesNotContain("blocks:");
    ExternalTools.assumeTools("unsquashfs");
    ExternalTools.run(tmp, List.of("unsquashfs", "-d", tmp.resolve("unpacked").toString(), warm.toString()));
  }

  @Test
  void layerCacheSize_smallerThanTheLayers_rendersTheSame_andTheCacheStaysWithinIt() throws IOException {
    String spec = sample();
    Path cache = tmp.resolve("cache");
    Path plain = tmp.resolve("plain.tar");
    assertThat(render(spec, "tar", plain).exitCode()).isZero();
    for (int i = 0; i < 2; i++) {
      Path out = tmp.resolve("small-" + i + ".tar");
      MainTest.Run r = render(spec, "tar", out, "--layer-cache", cache.toString(), "--layer-cache-size", "1k");
      assertThat(r.exitCode()).as(r.err()).isZero();
      assertThat(Files.readAllBytes(out)).isEqualTo(Files.readAllBytes(plain));
      assertThat(LayerCache.open(cache, 1L << 30).sizeOnDisk()).isLessThanOrEqualTo(1024);
    }
  }

  /** Bytes of the regular files under {@code root}, walked directly (opening a cache would evict). */
  private static long bytesUnder(Path root) throws IOException {
    try (Stream<Path> files = Files.walk(root)) {
      return files.filter(Files::isRegularFile).mapToLong(p -> p.toFile().length()).sum();
    }
  }

  /**
   * The block store's files count toward the cache's size limit: squashfs with a 1 KiB cache leaves
   * at most 1 KiB under DIR, layers and blocks together, and renders the same bytes.
   */
  @Test
  void squashfsWithSmallLayerCache_blocksAreEvictedToo_sameBytes() throws IOException {
    String spec = sample();
    Path cache = tmp.resolve("cache");
    Path plain = tmp.resolve("plain.sqfs");
    assertThat(render(spec, "squashfs", plain).exitCode()).isZero();
    for (int i = 0; i < 2; i++) {
      Path out = tmp.resolve("small-" + i + ".sqfs");
      MainTest.Run r = render(spec, "squashfs", out, "--layer-cache", cache.toString(), "--layer-cache-size", "1k");
      assertThat(r.exitCode()).as(r.err()).isZero();
      assertThat(Files.readAllBytes(out)).isEqualTo(Files.readAllBytes(plain));
      assertThat(bytesUnder(cache)).as(r.err()).isLessThanOrEqualTo(1024);
    }
  }

  @Test
  void layerCacheSize_withoutLayerCache_isAUsageError() {
    MainTest.Run r = render(sample(), "tar", tmp.resolve("x.tar"), "--layer-cache-size", "1g");
    assertThat(r.exitCode()).isEqualTo(2);
    assertThat(r.err()).contains("--layer-cache-size needs --layer-cache DIR");
    assertThat(tmp.resolve("x.tar")).doesNotExist();
  }

  @Test
  void badLayerCacheSize_isAUsageError() {
    MainTest.Run r = render(sample(), "tar", tmp.resolve("x.tar"), "--layer-cache", tmp.resolve("c").toString(),
        "--layer-cache-size", "lots");
    assertThat(r.exitCode()).isEqualTo(2);
    assertThat(r.err()).contains("not a size: 'lots'");
  }
}
