package dev.ocirender.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ocirender.image.Digest;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.zip.GZIPOutputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;

/**
 * Writes large synthetic OCI images for benchmarks, streaming (nothing is held in memory), so
 * images of gigabytes cost no heap. Content is text-like (words from a fixed vocabulary), which
 * gzip compresses about 3:1 like typical image content, not zeros or random bytes.
 *
 * <p>Deterministic: the same arguments give the same image. Not a test fixture builder: the
 * scenario tests use {@code testing.LayerBuilder}, whose layers are small and hand-written.
 */
final class SyntheticImage {

  /** One layer's plan: files under {@code dir}, and paths of lower layers this layer whites out. */
  record LayerPlan(String dir, int files, int meanFileSize, List<String> whiteouts, List<String> replaced) {}

  private static final String[] WORDS = (
      "the of and to in is for on with as by at from this that be are was it or an which not have has "
      + "lib usr bin share include python java node index module config build data test value error file "
      + "return function class import static public private void int string null true false const let var "
      + "0 1 2 3 4 5 6 7 8 9 10 42 100 255 1024 4096 0x0 0xff ; { } ( ) [ ] = == != < > / * + - _ . , :")
      .split(" ");
  private static final byte[][] WORD_BYTES = new byte[WORDS.length * 2][];

  static {
    for (int i = 0; i < WORDS.length; i++) {
      WORD_BYTES[2 * i] = (WORDS[i] + " ").getBytes(StandardCharsets.US_ASCII);
      WORD_BYTES[2 * i + 1] = (WORDS[i] + "\n").getBytes(StandardCharsets.US_ASCII);
    }
  }

  private SyntheticImage() {}

  /** Writes an OCI layout at {@code dir} with tag {@code latest}; returns total uncompressed bytes. */
  static long write(Path dir, List<LayerPlan> plans, long seed) throws IOException {
    Files.createDirectories(dir.resolve("blobs/sha256"));
    ObjectMapper json = new ObjectMapper();
    ArrayNode layers = json.createArrayNode();
    ArrayNode diffIds = json.createArrayNode();
    long total = 0;
    for (int i = 0; i < plans.size(); i++) {
      Path tmp = dir.resolve("blobs/layer-" + i + ".tmp");
      MessageDigest compressed = sha256();
      MessageDigest uncompressed = sha256();
      long[] sizes = new long[2];
      try (OutputStream file = new BufferedOutputStream(Files.newOutputStream(tmp), 1 << 16);
          DigestOutputStream cd = new DigestOutputStream(file, compressed);
          CountingStream cc = new CountingStream(cd);
          GZIPOutputStream gz = new GZIPOutputStream(cc, 1 << 16);
          DigestOutputStream ud = new DigestOutputStream(gz, uncompressed);
          CountingStream uc = new CountingStream(ud);
          TarArchiveOutputStream tar = new TarArchiveOutputStream(uc)) {
        tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
        tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
        writeLayer(tar, plans.get(i), new SplittableRandom(seed * 31 + i));
        tar.finish();
        gz.finish();
        sizes[0] = cc.count;
        sizes[1] = uc.count;
      }
      Digest digest = Digest.sha256(compressed.digest());
      Files.move(tmp, dir.resolve("blobs/sha256/" + digest.hex()));
      total += sizes[1];
      ObjectNode d = layers.addObject();
      d.put("mediaType", "application/vnd.oci.image.layer.v1.tar+gzip");
      d.put("digest", digest.toString());
      d.put("size", sizes[0]);
      diffIds.add(Digest.sha256(uncompressed.digest()).toString());
    }
    ObjectNode config = json.createObjectNode();
    config.put("architecture", "amd64");
    config.put("os", "linux");
    config.putObject("rootfs").put("type", "layers").set("diff_ids", diffIds);
    Descriptor cfg = blob(dir, json.writeValueAsBytes(config));
    ObjectNode manifest = json.createObjectNode();
    manifest.put("schemaVersion", 2);
    manifest.put("mediaType", "application/vnd.oci.image.manifest.v1+json");
    manifest.putObject("config").put("mediaType", "application/vnd.oci.image.config.v1+json")
        .put("digest", cfg.digest.toString()).put("size", cfg.size);
    manifest.set("layers", layers);
    Descriptor man = blob(dir, json.writeValueAsBytes(manifest));
    ObjectNode index = json.createObjectNode();
    index.put("schemaVersion", 2);
    ObjectNode entry = index.putArray("manifests").addObject();
    entry.put("mediaType", "application/vnd.oci.image.manifest.v1+json");
    entry.put("digest", man.digest.toString());
    entry.put("size", man.size);
    entry.putObject("annotations").put("org.opencontainers.image.ref.name", "latest");
    Files.write(dir.resolve("index.json"), json.writeValueAsBytes(index));
    Files.writeString(dir.resolve("oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}");
    return total;
  }

  private static void writeLayer(TarArchiveOutputStream tar, LayerPlan plan, SplittableRandom random) throws IOException {
    for (String w : plan.whiteouts()) {
      int slash = w.lastIndexOf('/');
      String name = slash < 0 ? ".wh." + w : w.substring(0, slash + 1) + ".wh." + w.substring(slash + 1);
      TarArchiveEntry e = new TarArchiveEntry(name);
      e.setSize(0);
      tar.putArchiveEntry(e);
      tar.closeArchiveEntry();
    }
    List<String> names = new ArrayList<>(plan.replaced());
    for (int f = 0; f < plan.files(); f++) {
      names.add(plan.dir() + "/d" + (f / 100) + "/file-" + f + ".txt");
    }
    String lastDir = null;
    byte[] buffer = new byte[1 << 16];
    for (String name : names) {
      String parent = name.substring(0, name.lastIndexOf('/'));
      if (!parent.equals(lastDir)) {
        TarArchiveEntry d = new TarArchiveEntry(parent + "/");
        d.setMode(040755);
        tar.putArchiveEntry(d);
        tar.closeArchiveEntry();
        lastDir = parent;
      }
      // sizes: mostly small, a few large (mean about meanFileSize)
      long size = random.nextInt(10) == 0 ? (long) plan.meanFileSize() * 5 : random.nextInt(plan.meanFileSize() * 5 / 9 + 1);
      TarArchiveEntry e = new TarArchiveEntry(name);
      e.setSize(size);
      e.setMode(0100644);
      e.setModTime(1_700_000_000_000L);
      tar.putArchiveEntry(e);
      long left = size;
      while (left > 0) {
        int n = fillText(buffer, (int) Math.min(buffer.length, left), random);
        tar.write(buffer, 0, n);
        left -= n;
      }
      tar.closeArchiveEntry();
    }
  }

  private static int fillText(byte[] buffer, int len, SplittableRandom random) {
    int pos = 0;
    while (pos < len) {
      byte[] word = WORD_BYTES[2 * random.nextInt(WORDS.length) + (random.nextInt(12) == 0 ? 1 : 0)];
      int n = Math.min(word.length, len - pos);
      System.arraycopy(word, 0, buffer, pos, n);
      pos += n;
    }
    return len;
  }

  private record Descriptor(Digest digest, long size) {}

  private static Descriptor blob(Path dir, byte[] content) throws IOException {
    Digest d = Digest.sha256Of(content);
    Files.write(dir.resolve("blobs/sha256/" + d.hex()), content);
    return new Descriptor(d, content.length);
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static final class CountingStream extends java.io.FilterOutputStream {
    long count;

    CountingStream(OutputStream out) {
      super(out);
    }

    @Override
    public void write(int b) throws IOException {
      out.write(b);
      count++;
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      out.write(b, off, len);
      count += len;
    }
  }
}
