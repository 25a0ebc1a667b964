package dev.ocirender.pipeline;

import static dev.ocirender.testing.LayerBuilder.layer;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ocirender.image.Digest;
import dev.ocirender.testing.Compression;
import dev.ocirender.testing.ImageBuilder;
import dev.ocirender.testing.SparseLayers;
import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.Deflater;
import java.util.zip.GZIPOutputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;

/**
 * Hostile, broken and huge images for the poison catalog, built in code as OCI layouts. Layers
 * with enormous names are written by hand (a PAX {@code path} record, then a short ustar header),
 * because a general tar writer spends quadratic time fitting such a name into the ustar field; the
 * gzip bomb is one tar header followed by copies of one gzip member of a repeated byte (multi-member
 * gzip, as pigz writes), so a 2 MB blob expands to gigabytes without the test ever holding them. The sparse
 * layer is written by GNU tar itself ({@code --sparse --format=posix}), as the sparse output tests
 * build theirs; the million-entry layer is streamed straight to its blob file.
 */
final class PoisonImages {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String GZIP_TAR = Compression.GZIP.mediaType();

  private PoisonImages() {}

  /** A small good image; {@code seed} makes each one distinct. */
  static String good(Path dir, String seed) throws IOException {
    ImageBuilder.image()
        .layer(layer().dir("etc", 0755).file("etc/os-release", "ID=" + seed + "\n", 0644).symlink("bin", "usr/bin"))
        .layer(layer().file("srv/" + seed + ".txt", ("content of " + seed + "\n").repeat(50), 0640)
            .hardlink("srv/link", "srv/" + seed + ".txt"), Compression.ZSTD)
        .tag("v1").writeLayout(dir);
    return "oci:" + dir + ":v1";
  }

  /** A layer blob cut in half: the decoder meets the end of its stream early. */
  static String truncatedBlob(Path dir) throws IOException {
    ImageBuilder.Layout l = ImageBuilder.image()
        .layer(layer().file("data/big.bin", "0123456789abcdef".repeat(4096), 0644), Compression.GZIP)
        .tag("v1").writeLayout(dir);
    Path blob = blobPath(l);
    byte[] bytes = Files.readAllBytes(blob);
    Files.write(blob, Arrays.copyOf(bytes, bytes.length / 2));
    return "oci:" + dir + ":v1";
  }

  /** One byte of the layer's content changed: the tar parses, only the digest is wrong. */
  static String digestMismatch(Path dir) throws IOException {
    ImageBuilder.Layout l = ImageBuilder.image()
        .layer(layer().file("data/blob.bin", "0123456789".repeat(200), 0644), Compression.NONE)
        .tag("v1").writeLayout(dir);
    Path blob = blobPath(l);
    byte[] bytes = Files.readAllBytes(blob);
    bytes[700] ^= 0x01;
    Files.write(blob, bytes);
    return "oci:" + dir + ":v1";
  }

  /**
   * A gzip layer of about 2 MB holding one file of {@code expandedGiB} GiB of zeros: a header member,
   * then the same 16 MiB-of-zeros member again and again.
   */
  static String gzipBomb(Path dir, int expandedGiB) throws IOException {
    int chunk = 16 << 20;
    long copies = ((long) expandedGiB << 30) / chunk;
    TarArchiveEntry e = new TarArchiveEntry("bomb/zeros");
    e.setSize(copies * chunk);
    e.setMode(0100644);
    e.setModTime(1_600_000_000_000L);
    byte[] header = new byte[512];
    e.writeEntryHeader(header);
    ByteArrayOutputStream blob = new ByteArrayOutputStream();
    blob.write(gzip(header));
    // Not zeros: a file of zeros is written sparse (a few KB of output), so only the time limit
    // would stop it, after gigabytes of inflating; bytes of 'A' meet the output size limit at once.
    byte[] filled = new byte[chunk];
    java.util.Arrays.fill(filled, (byte) 'A');
    byte[] content = gzip(filled);
    for (long i = 0; i < copies; i++) {
      blob.write(content);
    }
    blob.write(gzip(new byte[chunk])); // the end-of-archive blocks (and padding) are zeros
    writeLayout(dir, blob.toByteArray(), GZIP_TAR);
    return "oci:" + dir + ":v1";
  }

  /** One file at the end of {@code depth} nested directories (a PAX path of about 2 × depth bytes). */
  static String deepPath(Path dir, int depth) throws IOException {
    byte[] path = ("d/".repeat(depth) + "f").getBytes(StandardCharsets.US_ASCII);
    writeLayout(dir, gzip(paxTar(path, "deep\n".getBytes(StandardCharsets.US_ASCII))), GZIP_TAR);
    return "oci:" + dir + ":v1";
  }

  /** A file whose name (PAX path) holds a NUL byte, which no filesystem and no squashfs name can. */
  static String nulInName(Path dir) throws IOException {
    writeLayout(dir, gzip(paxTar("etc/bad\0name".getBytes(StandardCharsets.US_ASCII), "x".getBytes(StandardCharsets.US_ASCII))), GZIP_TAR);
    return "oci:" + dir + ":v1";
  }

  /** A file whose single name component is 1 MiB long (a PAX path record of 1 MiB). */
  static String mebibyteName(Path dir) throws IOException {
    byte[] name = new byte[1 << 20];
    Arrays.fill(name, (byte) 'n');
    writeLayout(dir, gzip(paxTar(name, "long name\n".getBytes(StandardCharsets.US_ASCII))), GZIP_TAR);
    return "oci:" + dir + ":v1";
  }

  /**
   * A layer of a few KB holding a 60 GiB sparse file ("big": data at its start, middle and end, holes
   * between), written by GNU tar {@code --sparse --format=posix} (PAX sparse 1.0) from a file made
   * sparse with {@code truncate} ({@link SparseLayers}, as the sparse output tests build theirs).
   */
  static String sparse60GiB(Path dir) throws IOException {
    writeLayout(dir, gzip(SparseLayers.gnuTar(Files.createDirectories(dir), 60L << 30, false)), GZIP_TAR);
    return "oci:" + dir + ":v1";
  }

  /**
   * A gzip layer of {@code count} empty files ({@code e/NNNN/NNNN}, a thousand per directory name),
   * streamed to its blob file: the uncompressed tar (512 bytes per entry) is never held in memory.
   */
  static String manyEntries(Path dir, int count) throws IOException {
    Path blobs = Files.createDirectories(dir.resolve("blobs/sha256"));
    Path tmp = blobs.resolve("layer.tmp");
    MessageDigest sha;
    try {
      sha = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
    try (OutputStream file = new DigestOutputStream(new BufferedOutputStream(Files.newOutputStream(tmp), 1 << 16), sha);
        GZIPOutputStream z = new GZIPOutputStream(file, 1 << 16) {
          {
            def.setLevel(Deflater.BEST_SPEED);
          }
        };
        TarArchiveOutputStream t = new TarArchiveOutputStream(new BufferedOutputStream(z, 1 << 16))) {
      for (int i = 0; i < count; i++) {
        TarArchiveEntry f = new TarArchiveEntry(String.format("e/%04d/%04d", i / 1000, i % 1000));
        f.setMode(0100644);
        f.setModTime(1_600_000_000_000L);
        t.putArchiveEntry(f);
        t.closeArchiveEntry();
      }
      t.finish();
    }
    Digest layer = Digest.sha256(sha.digest());
    Files.move(tmp, blobs.resolve(layer.hex()));
    writeManifests(dir, layer, Files.size(blobs.resolve(layer.hex())), GZIP_TAR);
    return "oci:" + dir + ":v1";
  }

  /** A tar of one regular file whose name is given by a PAX {@code path} record. */
  static byte[] paxTar(byte[] path, byte[] content) throws IOException {
    byte[] pax = paxRecord("path", path);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (TarArchiveOutputStream t = new TarArchiveOutputStream(out)) {
      TarArchiveEntry x = new TarArchiveEntry("PaxHeaders/0", TarConstants.LF_PAX_EXTENDED_HEADER_LC, true);
      x.setSize(pax.length);
      x.setModTime(1_600_000_000_000L);
      t.putArchiveEntry(x);
      t.write(pax);
      t.closeArchiveEntry();
      TarArchiveEntry f = new TarArchiveEntry("placeholder");
      f.setSize(content.length);
      f.setMode(0100644);
      f.setModTime(1_600_000_000_000L);
      t.putArchiveEntry(f);
      t.write(content);
      t.closeArchiveEntry();
      t.finish();
    }
    return out.toByteArray();
  }

  /** {@code "LEN key=value\n"}, LEN counting its own digits. */
  private static byte[] paxRecord(String key, byte[] value) {
    int body = 1 + key.length() + 1 + value.length + 1;
    int len = body + 1;
    while (Integer.toString(len).length() + body != len) {
      len = Integer.toString(len).length() + body;
    }
    ByteArrayOutputStream r = new ByteArrayOutputStream();
    r.writeBytes((len + " " + key + "=").getBytes(StandardCharsets.US_ASCII));
    r.writeBytes(value);
    r.write('\n');
    return r.toByteArray();
  }

  private static byte[] gzip(byte[] data) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (GZIPOutputStream z = new GZIPOutputStream(out) {
      {
        def.setLevel(Deflater.BEST_COMPRESSION);
      }
    }) {
      z.write(data);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toByteArray();
  }

  /** An OCI layout (tag v1, linux/amd64) of one layer given as its blob. */
  static void writeLayout(Path dir, byte[] layerBlob, String mediaType) throws IOException {
    Path blobs = Files.createDirectories(dir.resolve("blobs/sha256"));
    writeManifests(dir, write(blobs, layerBlob), layerBlob.length, mediaType);
  }

  /** Config, manifest, index and oci-layout for a layer blob already under {@code blobs/sha256}. */
  private static void writeManifests(Path dir, Digest layer, long layerSize, String mediaType) throws IOException {
    Path blobs = dir.resolve("blobs/sha256");
    Map<String, Object> config = new LinkedHashMap<>();
    config.put("architecture", "amd64");
    config.put("os", "linux");
    // The diff_id is not what the layer expands to: computing that would read gigabytes for the bomb,
    // and no reader checks it while rendering.
    config.put("rootfs", Map.of("type", "layers", "diff_ids", List.of(layer.toString())));
    byte[] configBytes = JSON.writeValueAsBytes(config);
    Digest configDigest = write(blobs, configBytes);
    Map<String, Object> manifest = new LinkedHashMap<>();
    manifest.put("schemaVersion", 2);
    manifest.put("mediaType", ImageBuilder.MANIFEST_MEDIA_TYPE);
    manifest.put("config", Map.of("mediaType", ImageBuilder.CONFIG_MEDIA_TYPE, "digest", configDigest.toString(), "size", configBytes.length));
    manifest.put("layers", List.of(Map.of("mediaType", mediaType, "digest", layer.toString(), "size", layerSize)));
    byte[] manifestBytes = JSON.writeValueAsBytes(manifest);
    Digest manifestDigest = write(blobs, manifestBytes);
    Map<String, Object> entry = new LinkedHashMap<>();
    entry.put("mediaType", ImageBuilder.MANIFEST_MEDIA_TYPE);
    entry.put("digest", manifestDigest.toString());
    entry.put("size", manifestBytes.length);
    entry.put("annotations", Map.of(ImageBuilder.REF_NAME, "v1"));
    entry.put("platform", Map.of("architecture", "amd64", "os", "linux"));
    Files.write(dir.resolve("index.json"), JSON.writeValueAsBytes(Map.of("schemaVersion", 2, "manifests", List.of(entry))));
    Files.write(dir.resolve("oci-layout"), JSON.writeValueAsBytes(Map.of("imageLayoutVersion", "1.0.0")));
  }

  private static Digest write(Path blobs, byte[] bytes) throws IOException {
    Digest d = Digest.sha256Of(bytes);
    Files.write(blobs.resolve(d.hex()), bytes);
    return d;
  }

  private static Path blobPath(ImageBuilder.Layout l) {
    return l.dir().resolve("blobs/sha256/" + l.layers().get(0).descriptor().digest().hex());
  }
}
