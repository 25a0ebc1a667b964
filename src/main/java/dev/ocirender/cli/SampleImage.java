package dev.ocirender.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.github.luben.zstd.ZstdOutputStream;
import dev.ocirender.image.Digest;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.GZIPOutputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;

/**
 * Writes a small, fixed, three-layer OCI image layout that exercises what makes rendering
 * non-trivial: a whiteout, an opaque directory, a file replaced under a hard link (the link must
 * keep the old content), a same-layer hard link, a symlink, and gzip, zstd and uncompressed layers.
 * It is the image behind {@code ocirender sample} and the README's first command, so a fresh
 * checkout can demonstrate a render without network access or docker.
 *
 * <p>Deterministic: fixed timestamps and owners, so the layout's digests are the same on every
 * run. Not a general image builder (the tests have their own fixtures model) and not a conformance
 * suite; the merge's rules are tested elsewhere.
 *
 * <p>What the merged result must look like is in {@link #EXPECTED_SUMMARY}.
 */
final class SampleImage {

  static final String TAG = "latest";

  /** For the README and the tests: what rendering the sample must produce. */
  static final String EXPECTED_SUMMARY = """
      etc/hostname           "sample-v2" (replaced in layer 1)
      etc/motd               absent (whiteout in layer 1)
      usr/bin/tool           "tool v2" (replaced in layer 1)
      usr/bin/tool-alias     "tool v1" (hard link from layer 0, promoted: its target was replaced)
      bin -> usr/bin         symlink
      var/cache/             only fresh.dat (opaque whiteout in layer 1 hides a.dat, b.dat)
      home/                  empty (home/user whited out in layer 2)
      opt/app/run.sh, opt/app/run   one file with two names (hard link within layer 2)
      """;

  private static final long MTIME = 1_700_000_000L; // fixed, for reproducible digests
  private static final ObjectMapper JSON = new ObjectMapper();

  private SampleImage() {}

  /** Writes the layout into {@code dir} (created if missing) and returns the image's spec, {@code oci:DIR:latest}. */
  static String write(Path dir) throws IOException {
    return write(dir, 0);
  }

  /**
   * Like {@link #write(Path)}; a {@code variant} above 0 adds a fourth, uncompressed layer with
   * {@code etc/variant} holding the number, so several sample images share their three base layers
   * but differ in manifest digest (for catalogs and pipeline benchmarks).
   */
  static String write(Path dir, int variant) throws IOException {
    Files.createDirectories(dir.resolve("blobs/sha256"));

    Layer base = new Layer();
    base.dir("etc", 0755);
    base.file("etc/hostname", 0644, "sample-v1\n");
    base.file("etc/motd", 0644, "welcome\n");
    base.dir("usr", 0755);
    base.dir("usr/bin", 0755);
    base.file("usr/bin/tool", 0755, "#!/bin/sh\necho tool v1\n");
    base.hardLink("usr/bin/tool-alias", "usr/bin/tool");
    base.symlink("bin", "usr/bin");
    base.dir("var", 0755);
    base.dir("var/cache", 0755);
    base.file("var/cache/a.dat", 0644, "a\n");
    base.file("var/cache/b.dat", 0644, "b\n");
    base.dir("home", 0755);
    ownedBy(base.dir("home/user", 0700), 1000);
    ownedBy(base.file("home/user/.profile", 0644, "export PS1='$ '\n"), 1000);

    Layer update = new Layer();
    update.whiteout("etc/.wh.motd");
    update.file("etc/hostname", 0644, "sample-v2\n");
    update.file("usr/bin/tool", 0755, "#!/bin/sh\necho tool v2\n");
    update.whiteout("var/cache/.wh..wh..opq");
    update.file("var/cache/fresh.dat", 0644, "fresh\n");

    Layer app = new Layer();
    app.dir("opt", 0755);
    app.dir("opt/app", 0755);
    app.file("opt/app/run.sh", 0755, "#!/bin/sh\nexec /usr/bin/tool \"$@\"\n");
    app.hardLink("opt/app/run", "opt/app/run.sh");
    app.whiteout("home/.wh.user");

    List<ObjectNode> layerDescriptors = new ArrayList<>();
    ArrayNode diffIds = JSON.createArrayNode();
    addLayer(dir, base.tar(), Compression.GZIP, layerDescriptors, diffIds);
    addLayer(dir, update.tar(), Compression.ZSTD, layerDescriptors, diffIds);
    addLayer(dir, app.tar(), Compression.NONE, layerDescriptors, diffIds);
    if (variant > 0) {
      Layer extra = new Layer();
      extra.file("etc/variant", 0644, variant + "\n");
      addLayer(dir, extra.tar(), Compression.NONE, layerDescriptors, diffIds);
    }

    ObjectNode config = JSON.createObjectNode();
    config.put("created", "2023-11-14T22:13:20Z");
    config.put("architecture", "amd64");
    config.put("os", "linux");
    config.putObject("config").putArray("Cmd").add("/bin/sh");
    ObjectNode rootfs = config.putObject("rootfs");
    rootfs.put("type", "layers");
    rootfs.set("diff_ids", diffIds);
    ObjectNode configDescriptor = writeBlob(dir, "application/vnd.oci.image.config.v1+json", JSON.writeValueAsBytes(config));

    ObjectNode manifest = JSON.createObjectNode();
    manifest.put("schemaVersion", 2);
    manifest.put("mediaType", "application/vnd.oci.image.manifest.v1+json");
    manifest.set("config", configDescriptor);
    manifest.putArray("layers").addAll(layerDescriptors);
    ObjectNode manifestDescriptor = writeBlob(dir, "application/vnd.oci.image.manifest.v1+json", JSON.writeValueAsBytes(manifest));
    manifestDescriptor.putObject("platform").put("architecture", "amd64").put("os", "linux");
    manifestDescriptor.putObject("annotations").put("org.opencontainers.image.ref.name", TAG);

    ObjectNode index = JSON.createObjectNode();
    index.put("schemaVersion", 2);
    index.put("mediaType", "application/vnd.oci.image.index.v1+json");
    index.putArray("manifests").add(manifestDescriptor);
    Files.write(dir.resolve("index.json"), JSON.writeValueAsBytes(index));
    Files.write(dir.resolve("oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}".getBytes(StandardCharsets.UTF_8));
    return "oci:" + dir + ":" + TAG;
  }

  private static void ownedBy(TarArchiveEntry e, int id) {
    e.setUserId(id);
    e.setGroupId(id);
    e.setUserName("user");
    e.setGroupName("user");
  }

  private enum Compression {
    GZIP("application/vnd.oci.image.layer.v1.tar+gzip"),
    ZSTD("application/vnd.oci.image.layer.v1.tar+zstd"),
    NONE("application/vnd.oci.image.layer.v1.tar");

    final String mediaType;

    Compression(String mediaType) {
      this.mediaType = mediaType;
    }

    byte[] apply(byte[] tar) throws IOException {
      ByteArrayOutputStream bytes = new ByteArrayOutputStream();
      switch (this) {
        case GZIP -> {
          try (OutputStream z = new GZIPOutputStream(bytes)) {
            z.write(tar);
          }
        }
        case ZSTD -> {
          try (OutputStream z = new ZstdOutputStream(bytes)) {
            z.write(tar);
          }
        }
        case NONE -> bytes.writeBytes(tar);
      }
      return bytes.toByteArray();
    }
  }

  private static void addLayer(Path dir, byte[] tar, Compression compression, List<ObjectNode> descriptors, ArrayNode diffIds) throws IOException {
    diffIds.add(Digest.sha256Of(tar).toString());
    descriptors.add(writeBlob(dir, compression.mediaType, compression.apply(tar)));
  }

  private static ObjectNode writeBlob(Path dir, String mediaType, byte[] content) throws IOException {
    Digest digest = Digest.sha256Of(content);
    Files.write(dir.resolve("blobs").resolve(digest.algorithm()).resolve(digest.hex()), content);
    ObjectNode d = JSON.createObjectNode();
    d.put("mediaType", mediaType);
    d.put("digest", digest.toString());
    d.put("size", content.length);
    return d;
  }

  /** One layer's tar, built entry by entry in the order given. */
  private static final class Layer {
    private final List<TarArchiveEntry> entries = new ArrayList<>();
    private final List<byte[]> contents = new ArrayList<>();

    TarArchiveEntry dir(String path, int mode) {
      return add(new TarArchiveEntry(path + "/"), mode, null);
    }

    TarArchiveEntry file(String path, int mode, String content) {
      byte[] bytes = content.getBytes(StandardCharsets.UTF_8);
      TarArchiveEntry e = new TarArchiveEntry(path);
      e.setSize(bytes.length);
      return add(e, mode, bytes);
    }

    /** A whiteout is an empty regular file with a special name. */
    TarArchiveEntry whiteout(String path) {
      return file(path, 0644, "");
    }

    TarArchiveEntry hardLink(String path, String target) {
      TarArchiveEntry e = new TarArchiveEntry(path, TarConstants.LF_LINK);
      e.setLinkName(target);
      return add(e, 0755, null);
    }

    TarArchiveEntry symlink(String path, String target) {
      TarArchiveEntry e = new TarArchiveEntry(path, TarConstants.LF_SYMLINK);
      e.setLinkName(target);
      return add(e, 0777, null);
    }

    private TarArchiveEntry add(TarArchiveEntry e, int mode, byte[] content) {
      e.setMode((e.isDirectory() ? 040000 : e.isSymbolicLink() ? 0120000 : 0100000) | mode);
      e.setModTime(MTIME * 1000);
      e.setUserId(0);
      e.setGroupId(0);
      e.setUserName("root");
      e.setGroupName("root");
      entries.add(e);
      contents.add(content);
      return e;
    }

    byte[] tar() throws IOException {
      ByteArrayOutputStream bytes = new ByteArrayOutputStream();
      try (TarArchiveOutputStream tar = new TarArchiveOutputStream(bytes)) {
        tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
        tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
        for (int i = 0; i < entries.size(); i++) {
          tar.putArchiveEntry(entries.get(i));
          if (contents.get(i) != null) {
            tar.write(contents.get(i));
          }
          tar.closeArchiveEntry();
        }
      }
      return bytes.toByteArray();
    }
  }
}
