package dev.ocirender.source.layout;

import com.fasterxml.jackson.core.JsonProcessingException;
import dev.ocirender.image.Descriptor;
import dev.ocirender.image.Digest;
import dev.ocirender.image.MediaTypes;
import dev.ocirender.image.Platform;
import dev.ocirender.image.VerifyingInputStream;
import dev.ocirender.image.json.DockerArchiveManifestTemplate;
import dev.ocirender.image.json.ImageConfigTemplate;
import dev.ocirender.image.json.JsonTemplates;
import dev.ocirender.image.json.MalformedTemplateException;
import dev.ocirender.image.json.ManifestTemplate;
import dev.ocirender.layer.LayerBlob;
import dev.ocirender.source.ImageSource;
import dev.ocirender.source.ImageSourceException;
import dev.ocirender.source.ResolvedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A {@code docker save} archive: {@code docker-archive:PATH[:REFERENCE]}, where PATH is the tarball
 * or the directory it was extracted to.
 *
 * <p>The archive's {@code manifest.json} lists the images, each with a config file, its
 * {@code RepoTags} and its layer files, base first. Three layouts occur and all are read through
 * {@code manifest.json}: classic {@code docker save} ({@code <id>/layer.tar}, config
 * {@code <hex>.json}), skopeo ({@code <hex>.tar}, with {@code <id>/layer.tar} links), and Docker 25+
 * ({@code blobs/sha256/<hex>}, next to an OCI {@code index.json} that is ignored here). The image is
 * chosen by a REFERENCE matched against {@code RepoTags} ({@code busybox}, {@code busybox:1.36} and
 * {@code docker.io/library/busybox:1.36} are the same), by {@code @N} (the N-th image), or is the only
 * one.
 *
 * <p>What is verified: the config against its file name when the name is a digest, and a layer file
 * named {@code blobs/<alg>/<hex>} against that digest. Layer files are otherwise known only by the
 * config's {@code rootfs.diff_ids}, the digest of the <em>uncompressed</em> tar, so each
 * {@link LayerBlob} carries its diff ID for the decoder to verify on the decoded bytes, and its
 * descriptor has no media type (the decoder sniffs the compression). The manifest of a
 * {@link ResolvedImage} is synthesised from the config and the diff IDs, so that the same image saved
 * twice has the same manifest digest; it is not a copy of any registry manifest.
 *
 * <p>It does not extract the archive or keep it open between reads, does not read the legacy
 * {@code repositories} file or per-layer {@code json} files, and does not support {@code LayerSources}
 * (foreign layers).
 */
public final class DockerArchiveSource implements ImageSource {

  private static final long MAX_JSON_FILE = OciLayoutSource.MAX_JSON_BLOB;
  // <hex>.json (classic config name) or blobs/<alg>/<hex> (Docker 25+ and OCI-style names).
  private static final Pattern HEX_JSON = Pattern.compile("(?:.*/)?([a-f0-9]{64})\\.json");
  private static final Pattern BLOB_PATH = Pattern.compile("(?:.*/)?blobs/(sha256|sha512)/([a-f0-9]+)");

  /** What {@link #openBlob} can serve: a file of the archive or bytes this source made. */
  private record Blob(ArchiveFiles.Entry file, Digest verifyAs, byte[] bytes) {}

  private final String reference;
  private final Path path;
  private final String imageReference;
  private final ArchiveFiles files;
  private final Map<Digest, Blob> blobs = new ConcurrentHashMap<>();

  private DockerArchiveSource(String reference, Path path, String imageReference, ArchiveFiles files) {
    this.reference = reference;
    this.path = path;
    this.imageReference = imageReference;
    this.files = files;
  }

  /**
   * Opens the archive (a tar file is indexed, nothing is extracted) and checks it has a
   * {@code manifest.json}.
   *
   * @param reference the reference as the user gave it, for messages
   * @param imageReference a RepoTags reference or {@code @N}, or null for the only image
   */
  public static DockerArchiveSource open(String reference, Path path, String imageReference)
      throws ImageSourceException {
    ArchiveFiles files = ArchiveFiles.open(reference, path);
    try {
      if (files.find("manifest.json") == null) {
        String hint = files.find("index.json") != null && files.find("oci-layout") != null
            ? "; it looks like an OCI layout, use oci:" + path : "";
        throw new ImageSourceException(reference + ": " + path + " is not a docker save archive (no manifest.json)" + hint);
      }
    } catch (ImageSourceException e) {
      throw e;
    } catch (IOException e) {
      throw new ImageSourceException(reference + ": reading " + path + ": " + e.getMessage(), e);
    }
    return new DockerArchiveSource(reference, path, imageReference, files);
  }

  @Override
  public String reference() {
    return reference;
  }

  @Override
  public ResolvedImage resolve(Platform platform) throws IOException {
    Objects.requireNonNull(platform, "platform");
    DockerArchiveManifestTemplate image = choose(readManifestJson());

    // Config: verified against its name when the name is a digest.
    String configName = files.safeName(image.config());
    ArchiveFiles.Entry configFile = find(configName, "config");
    Digest named = digestFromName(configName, true);
    byte[] configBytes = readSmall(configFile, named, "config " + configName);
    Descriptor config = new Descriptor(MediaTypes.DOCKER_CONFIG, Digest.sha256Of(configBytes), configBytes.length);
    ImageConfigTemplate configJson;
    List<Digest> diffIds;
    try {
      configJson = JsonTemplates.read(configBytes, ImageConfigTemplate.class);
      diffIds = configJson.diffIds();
    } catch (JsonProcessingException | MalformedTemplateException e) {
      throw new ImageSourceException(reference + ": malformed config " + configName + ": "
          + JsonTemplates.describeError(e), e);
    }

    // One image per archive entry: there is nothing to select, only a request to check.
    Platform declared = configJson.platform();
    if (declared != null && !platform.matches(declared)) {
      throw new ImageSourceException(reference + ": the image is " + declared + ", not the requested " + platform
          + " (a docker-archive image has one platform)");
    }

    if (diffIds.size() != image.layers().size()) {
      throw new ImageSourceException(reference + ": manifest.json lists " + image.layers().size()
          + " layers but config " + configName + " lists " + diffIds.size() + " diff_ids");
    }
    List<LayerBlob> layers = new ArrayList<>();
    List<Descriptor> layerDescriptors = new ArrayList<>();
    for (int i = 0; i < diffIds.size(); i++) {
      String name = files.safeName(image.layers().get(i));
      ArchiveFiles.Entry file = find(name, "layer " + i);
      Digest diffId = diffIds.get(i);
      Digest blobDigest = digestFromName(name, false);
      // Media type unknown: docker save writes plain tar, Docker 25+ with containerd may keep the
      // registry's compressed blobs; the decoder sniffs the magic bytes.
      Descriptor layer = new Descriptor(null, diffId, file.size());
      blobs.putIfAbsent(diffId, new Blob(file, blobDigest, null));
      layers.add(new LayerBlob(i, layer, diffId, () -> openFile(file, blobDigest)));
      layerDescriptors.add(layer);
    }
    blobs.put(config.digest(), new Blob(null, null, configBytes));

    byte[] manifestBytes = JsonTemplates.write(ManifestTemplate.of(MediaTypes.DOCKER_MANIFEST, config, layerDescriptors));
    Descriptor manifest = new Descriptor(MediaTypes.DOCKER_MANIFEST, Digest.sha256Of(manifestBytes), manifestBytes.length);
    blobs.put(manifest.digest(), new Blob(null, null, manifestBytes));

    return new ResolvedImage(reference, manifest, declared != null ? declared : platform, config, configJson, layers);
  }

  /**
   * Serves the synthesised manifest, the config (verified against its digest) and layers by diff ID
   * (the raw file, verified only when it is named by its digest; see the class comment). Only blobs
   * of an image that {@link #resolve} has returned are known.
   */
  @Override
  public InputStream openBlob(Descriptor descriptor) throws IOException {
    Blob blob = blobs.get(descriptor.digest());
    if (blob == null) {
      throw new ImageSourceException(reference + ": no blob " + descriptor.digest() + " in the resolved image");
    }
    if (blob.bytes() != null) {
      return new VerifyingInputStream(new ByteArrayInputStream(blob.bytes()), descriptor.digest(), descriptor.size(),
          "reading blob " + descriptor.digest() + " of " + reference);
    }
    return openFile(blob.file(), blob.verifyAs());
  }

  @Override
  public void close() {
    // Nothing is held open: every stream has its own file handle.
  }

  private InputStream openFile(ArchiveFiles.Entry file, Digest verifyAs) throws IOException {
    InputStream in = files.open(file);
    return verifyAs == null ? in
        : new VerifyingInputStream(in, verifyAs, file.size(), "reading " + file.name() + " of " + reference);
  }

  private List<DockerArchiveManifestTemplate> readManifestJson() throws IOException {
    ArchiveFiles.Entry entry = find("manifest.json", "manifest.json");
    byte[] bytes = readSmall(entry, null, "manifest.json");
    DockerArchiveManifestTemplate[] images;
    try {
      images = JsonTemplates.read(bytes, DockerArchiveManifestTemplate[].class);
    } catch (JsonProcessingException | MalformedTemplateException e) {
      throw new ImageSourceException(reference + ": malformed manifest.json: " + JsonTemplates.describeError(e), e);
    }
    for (int i = 0; i < images.length; i++) {
      if (images[i] == null || images[i].config() == null) {
        throw new ImageSourceException(reference + ": malformed manifest.json: image " + i + " has no Config");
      }
    }
    if (images.length == 0) {
      throw new ImageSourceException(reference + ": manifest.json lists no images");
    }
    return List.of(images);
  }

  private DockerArchiveManifestTemplate choose(List<DockerArchiveManifestTemplate> images) throws ImageSourceException {
    if (imageReference == null) {
      if (images.size() == 1) {
        return images.get(0);
      }
      throw new ImageSourceException(reference + ": the archive holds " + images.size()
          + " images; choose one with docker-archive:" + path + ":REFERENCE or :@N; " + listTags(images));
    }
    if (imageReference.startsWith("@")) {
      int n;
      try {
        n = Integer.parseInt(imageReference.substring(1));
      } catch (NumberFormatException e) {
        throw new ImageSourceException(reference + ": '" + imageReference + "' is not @N with N a number", e);
      }
      if (n < 0 || n >= images.size()) {
        throw new ImageSourceException(reference + ": no image " + imageReference + "; the archive holds "
            + images.size() + " (@0 to @" + (images.size() - 1) + ")");
      }
      return images.get(n);
    }
    String wanted = normalizeReference(imageReference);
    for (DockerArchiveManifestTemplate image : images) {
      for (String tag : image.repoTags()) {
        if (normalizeReference(tag).equals(wanted)) {
          return image;
        }
      }
    }
    throw new ImageSourceException(reference + ": no image tagged " + imageReference + " in the archive; "
        + listTags(images));
  }

  private static String listTags(List<DockerArchiveManifestTemplate> images) {
    List<String> tags = new ArrayList<>();
    for (int i = 0; i < images.size(); i++) {
      List<String> repoTags = images.get(i).repoTags();
      tags.add(repoTags.isEmpty() ? "@" + i + " (untagged)" : "@" + i + " " + String.join(" ", repoTags));
    }
    return "RepoTags: " + String.join(", ", tags);
  }

  /**
   * The familiar form used for matching: no {@code docker.io/} or {@code library/} prefix, and
   * {@code :latest} when no tag or digest is given.
   */
  static String normalizeReference(String ref) {
    String r = ref;
    for (String registry : List.of("docker.io/", "index.docker.io/")) {
      if (r.startsWith(registry)) {
        r = r.substring(registry.length());
        break;
      }
    }
    if (r.startsWith("library/")) {
      r = r.substring("library/".length());
    }
    int lastSlash = r.lastIndexOf('/');
    if (r.indexOf('@') < 0 && r.indexOf(':', lastSlash + 1) < 0) {
      r = r + ":latest";
    }
    return r;
  }

  private ArchiveFiles.Entry find(String name, String what) throws IOException {
    ArchiveFiles.Entry entry = files.find(name);
    if (entry == null) {
      throw new ImageSourceException(reference + ": " + what + " file " + name + " is missing from the archive " + path);
    }
    return entry;
  }

  private byte[] readSmall(ArchiveFiles.Entry entry, Digest verifyAs, String what) throws IOException {
    if (entry.size() > MAX_JSON_FILE) {
      throw new ImageSourceException(reference + ": " + what + " is " + entry.size() + " bytes, more than the "
          + MAX_JSON_FILE + " allowed for JSON");
    }
    try (InputStream in = openFile(entry, verifyAs)) {
      return in.readAllBytes();
    }
  }

  /**
   * The digest a file is named after: {@code blobs/<alg>/<hex>}, or for configs also
   * {@code <hex>.json}; null for other names. ({@code <hex>.tar} layers are not trusted to be named
   * after their raw bytes: the hex is the diff ID, which is only the raw digest when uncompressed.)
   */
  private static Digest digestFromName(String name, boolean hexJsonToo) {
    Matcher blob = BLOB_PATH.matcher(name);
    if (blob.matches()) {
      try {
        return Digest.parse(blob.group(1) + ":" + blob.group(2));
      } catch (IllegalArgumentException e) {
        return null; // a hex of the wrong length is just a name
      }
    }
    Matcher json = HEX_JSON.matcher(name);
    return hexJsonToo && json.matches() ? Digest.parse("sha256:" + json.group(1)) : null;
  }
}
