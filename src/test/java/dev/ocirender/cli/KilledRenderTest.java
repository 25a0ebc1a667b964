package dev.ocirender.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static java.nio.charset.StandardCharsets.UTF_8;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.luben.zstd.ZstdOutputStream;
import dev.ocirender.image.Digest;
import dev.ocirender.io.TemporaryFiles;
import dev.ocirender.testing.ExternalTools;
import java.io.ByteArrayOutputStream;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A render stopped with SIGTERM (a separate JVM, as {@code timeout} or a pipeline runner stops it)
 * leaves no temporary output behind; a leftover of a SIGKILLed render is cleared by the next render
 * in the same directory once it is older than the threshold.
 *
 * <p>The slow inputs: for the directory output, one 8 GiB sparse file in a layer of a few KB,
 * written by GNU tar (the output scans its zeros for holes); for the tar output, which keeps such a
 * file sparse, a zstd layer of a few hundred KB holding a plain 4 GiB file of zeros, which it must
 * copy. Either way the render is still writing when the signal comes.
 */
class KilledRenderTest {

  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir Path tmp;

  /** An OCI layout of one uncompressed layer made by GNU tar from an 8 GiB sparse file. */
  private Path slowImage() throws Exception {
    ExternalTools.assumeTools("tar", "truncate");
    Path src = Files.createDirectories(tmp.resolve("src"));
    ExternalTools.bash(src, "printf x > big && truncate -s 8G big && tar --sparse --format=posix -cf ../layer.tar big");
    byte[] layer = Files.readAllBytes(tmp.resolve("layer.tar"));
    Digest layerDigest = Digest.sha256Of(layer);
    return layout(layer, "application/vnd.oci.image.layer.v1.tar", layerDigest, layerDigest);
  }

  /** An OCI layout of one zstd layer holding a plain (not sparse) 4 GiB file of zeros. */
  private Path slowPlainImage() throws Exception {
    long size = 4L << 30;
    ByteArrayOutputStream compressed = new ByteArrayOutputStream();
    MessageDigest diffId = MessageDigest.getInstance("SHA-256");
    try (TarArchiveOutputStream tar = new TarArchiveOutputStream(
        new DigestOutputStream(new ZstdOutputStream(compressed, 1), diffId))) {
      TarArchiveEntry e = new TarArchiveEntry("big");
      e.setSize(size);
      tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
      tar.putArchiveEntry(e);
      byte[] zeros = new byte[1 << 20];
      for (long written = 0; written < size; written += zeros.length) {
        tar.write(zeros);
      }
      tar.closeArchiveEntry();
    }
    byte[] layer = compressed.toByteArray();
    return layout(layer, "application/vnd.oci.image.layer.v1.tar+zstd", Digest.sha256Of(layer),
        Digest.sha256(diffId.digest()));
  }

  private Path layout(byte[] layer, String mediaType, Digest layerDigest, Digest diffId) throws Exception {
    Path dir = tmp.resolve("img");
    Path blobs = Files.createDirectories(dir.resolve("blobs/sha256"));
    Files.write(blobs.resolve(layerDigest.hex()), layer);
    byte[] config = JSON.writeValueAsBytes(Map.of("architecture", "amd64", "os", "linux",
        "rootfs", Map.of("type", "layers", "diff_ids", List.of(diffId.toString()))));
    Digest configDigest = Digest.sha256Of(config);
    Files.write(blobs.resolve(configDigest.hex()), config);
    byte[] manifest = JSON.writeValueAsBytes(Map.of("schemaVersion", 2,
        "mediaType", "application/vnd.oci.image.manifest.v1+json",
        "config", Map.of("mediaType", "application/vnd.oci.image.config.v1+json", "digest", configDigest.toString(),
            "size", config.length),
        "layers", List.of(Map.of("mediaType", mediaType, "digest", layerDigest.toString(),
            "size", layer.length))));
    Digest manifestDigest = Digest.sha256Of(manifest);
    Files.write(blobs.resolve(manifestDigest.hex()), manifest);
    Files.write(dir.resolve("index.json"), JSON.writeValueAsBytes(Map.of("schemaVersion", 2, "manifests", List.of(
        Map.of("mediaType", "application/vnd.oci.image.manifest.v1+json", "digest", manifestDigest.toString(),
            "size", manifest.length, "annotations", Map.of("org.opencontainers.image.ref.name", "v1"))))));
    Files.writeString(dir.resolve("oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}");
    return dir;
  }

  private static List<Path> temporaries(Path dir) throws Exception {
    try (Stream<Path> s = Files.list(dir)) {
      return s.filter(p -> TemporaryFiles.OUTPUT_TEMPORARY.matcher(p.getFileName().toString()).matches()).toList();
    }
  }

  private void renderAndTerminate(String format, Path img) throws Exception {
    Path out = Files.createDirectories(tmp.resolve("out-" + format));
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-cp", System.getProperty("java.class.path"), "dev.ocirender.cli.Main", "render", "oci:" + img + ":v1",
        "--format", format, "--output", out.resolve("image").toString()));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(tmp.resolve("log").toFile()).start();
    try {
      Instant deadline = Instant.now().plus(Duration.ofSeconds(120));
      while (temporaries(out).isEmpty() && p.isAlive() && Instant.now().isBefore(deadline)) {
        Thread.sleep(50);
      }
      assertThat(temporaries(out)).as("the render's temporary output exists while it runs; log: %s",
          Files.readString(tmp.resolve("log"))).isNotEmpty();
      Thread.sleep(300); // let it write into it
      assertThat(p.isAlive()).as("still rendering").isTrue();
      p.destroy(); // SIGTERM
      assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    } finally {
      p.destroyForcibly();
    }
    try (Stream<Path> s = Files.list(out)) {
      assertThat(s).as("nothing left after SIGTERM").isEmpty();
    }
  }

  @Test
  void tarRenderKilledWithSigterm_leavesNoTemporaryFile() throws Exception {
    renderAndTerminate("tar", slowPlainImage());
  }

  @Test
  void dirRenderKilledWithSigterm_leavesNoStagingDirectory() throws Exception {
    renderAndTerminate("dir", slowImage());
  }

  @Test
  void staleTemporariesOfAnEarlierRender_areRemovedByTheNextRender_recentOnesKept() throws Exception {
    Path img = slowImage().resolveSibling("small");
    dev.ocirender.testing.ImageBuilder.of(dev.ocirender.testing.LayerBuilder.layer().file("a", "x", 0644)).tag("v1")
        .writeLayout(img);
    Path out = Files.createDirectories(tmp.resolve("out"));
    Path staleFile = Files.writeString(out.resolve(".other.tar.tmp-0123456789ab"), "left by a SIGKILL");
    Path staleDir = Files.createDirectories(out.resolve(".rootfs.tmp-00aa11bb22cc/usr/bin"));
    Path recent = Files.writeString(out.resolve(".busy.tar.tmp-ba9876543210"), "another render, running now");
    Path unrelated = Files.writeString(out.resolve(".other.tar.tmp-notours"), "not our pattern");
    FileTime old = FileTime.from(Instant.now().minus(Duration.ofHours(25)));
    Files.setLastModifiedTime(staleFile, old);
    Files.setLastModifiedTime(out.resolve(".rootfs.tmp-00aa11bb22cc"), old);
    Files.setLastModifiedTime(unrelated, old);

    MainTest.Run r = MainTest.run("render", "oci:" + img + ":v1", "--output", out.resolve("image.tar").toString());
    assertThat(r.exitCode()).as(r.err()).isZero();
    assertThat(staleFile).doesNotExist();
    assertThat(out.resolve(".rootfs.tmp-00aa11bb22cc")).doesNotExist();
    assertThat(staleDir).doesNotExist();
    assertThat(recent).hasContent("another render, running now");
    assertThat(unrelated).exists();
    assertThat(new String(Files.readAllBytes(out.resolve("image.tar")), UTF_8)).isNotEmpty();
  }
}
