package dev.ocirender.source.layout;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.ocirender.image.Descriptor;
import dev.ocirender.image.Digest;
import dev.ocirender.image.MediaTypes;
import dev.ocirender.image.Platform;
import dev.ocirender.image.VerifyingInputStream;
import dev.ocirender.image.json.ImageConfigTemplate;
import dev.ocirender.image.json.IndexTemplate;
import dev.ocirender.image.json.JsonTemplates;
import dev.ocirender.image.json.MalformedTemplateException;
import dev.ocirender.image.json.ManifestTemplate;
import dev.ocirender.layer.LayerBlob;
import dev.ocirender.source.ImageSource;
import dev.ocirender.source.ImageSourceException;
import dev.ocirender.source.ResolvedImage;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Collectors;

/**
 * An OCI image layout directory: {@code oci:DIR}, {@code oci:DIR:TAG} or {@code oci:DIR@DIGEST}.
 *
 * <p>Resolution starts at {@code index.json}: the entries whose
 * {@code org.opencontainers.image.ref.name} is the tag, or all entries without a tag, or the one
 * descriptor (found anywhere in the layout) with the given digest. Indexes may nest (index, index,
 * manifest), in OCI or Docker manifest-list form; the first manifest whose platform matches the
 * requested one wins. An entry without a {@code platform} is judged by its config's
 * os/architecture/variant, and accepted if the config names none. Without a tag, several top-level
 * images are accepted only when they are platform variants of one image; otherwise the tags are
 * listed and the user must choose.
 *
 * <p>Every blob (nested indexes, manifests, configs, layers) is read through a
 * {@link VerifyingInputStream} against its descriptor; {@code index.json} itself has no descriptor
 * and is trusted as the layout's root. Manifests and configs are small: they are read whole, verified,
 * then parsed, and kept in memory for the life of the source. Layers are only opened, never decoded
 * here.
 *
 * <p>It does not write to the layout, follow descriptor {@code urls} (foreign layers must be in the
 * layout), or support Docker schema 1 manifests.
 *
 * @see <a href="https://github.com/opencontainers/image-spec/blob/main/image-layout.md">OCI image layout</a>
 */
public final class OciLayoutSource implements ImageSource {

  /** The annotation that carries a tag in {@code index.json}. */
  public static final String REF_NAME = "org.opencontainers.image.ref.name";

  /** Manifests are at most 4 MiB by convention; configs with long histories can be larger. */
  static final long MAX_JSON_BLOB = 32L << 20;

  // Deeper than any real image; it stops a malicious or broken layout from recursing forever.
  private static final int MAX_INDEX_DEPTH = 8;

  private enum Kind { INDEX, MANIFEST, OTHER }

  /** A manifest chosen or seen while walking; {@code platform} is null when nothing declares one. */
  private record Candidate(Descriptor descriptor, Platform platform) {}

  private final String reference;
  private final Path dir;
  private final String tag;
  private final Digest digest;
  // Verified bytes of the small JSON blobs, so that a config read for platform selection is not read
  // again for the image.
  private final Map<Digest, byte[]> jsonBlobs = new ConcurrentHashMap<>();

  private OciLayoutSource(String reference, Path dir, String tag, Digest digest) {
    this.reference = reference;
    this.dir = dir;
    this.tag = tag;
    this.digest = digest;
  }

  /**
   * Checks that {@code dir} is an OCI layout (an {@code oci-layout} file of version 1.x).
   *
   * @param reference the reference as the user gave it, for messages
   * @param tag a {@code ref.name} to select, or null
   * @param digest a manifest or index digest to select, or null
   */
  public static OciLayoutSource open(String reference, Path dir, String tag, Digest digest)
      throws ImageSourceException {
    if (!Files.isDirectory(dir)) {
      throw new ImageSourceException(reference + ": " + dir + " is not a directory");
    }
    Path layoutFile = dir.resolve("oci-layout");
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(layoutFile);
    } catch (NoSuchFileException e) {
      throw new ImageSourceException(reference + ": " + dir + " is not an OCI image layout (no oci-layout file)", e);
    } catch (IOException e) {
      throw new ImageSourceException(reference + ": reading " + layoutFile + ": " + e.getMessage(), e);
    }
    String version;
    try {
      JsonNode node = JsonTemplates.read(bytes, JsonNode.class);
      version = node.path("imageLayoutVersion").asText("");
    } catch (IOException e) {
      throw new ImageSourceException(reference + ": malformed " + layoutFile + ": " + JsonTemplates.describeError(e), e);
    }
    if (!version.startsWith("1.")) {
      throw new ImageSourceException(reference + ": unsupported imageLayoutVersion '" + version + "' in " + layoutFile);
    }
    return new OciLayoutSource(reference, dir, tag, digest);
  }

  @Override
  public String reference() {
    return reference;
  }

  @Override
  public ResolvedImage resolve(Platform platform) throws IOException {
    Objects.requireNonNull(platform, "platform");
    Candidate chosen = digest != null ? selectByDigest(platform) : selectFromIndexJson(platform);
    return build(chosen, platform);
  }

  @Override
  public InputStream openBlob(Descriptor descriptor) throws IOException {
    Path path = blobPath(descriptor.digest());
    InputStream in;
    try {
      in = Files.newInputStream(path);
    } catch (NoSuchFileException e) {
      String why = MediaTypes.isNondistributable(descriptor.mediaType())
          ? "; it is a non-distributable layer, which a layout may leave out, and ocirender does not fetch it"
          : "";
      throw new ImageSourceException(reference + ": blob " + descriptor.digest() + " is missing from the layout "
          + dir + " (no " + path + ")" + why, e);
    }
    return new VerifyingInputStream(in, descriptor.digest(), descriptor.size(),
        "reading blob " + descriptor.digest() + " of " + reference);
  }

  @Override
  public void close() {
    // Nothing is held open between calls: every blob stream owns its own file handle.
  }

  private Path blobPath(Digest d) {
    return dir.resolve("blobs").resolve(d.algorithm()).resolve(d.hex());
  }

  // ---- selection ----

  private Candidate selectFromIndexJson(Platform wanted) throws IOException {
    List<Descriptor> all = readIndexJson();
    List<Descriptor> candidates = new ArrayList<>();
    for (Descriptor d : all) {
      if (tag == null || tag.equals(d.annotation(REF_NAME))) {
        candidates.add(d);
      }
    }
    if (candidates.isEmpty()) {
      throw new ImageSourceException(tag == null
          ? reference + ": " + dir.resolve("index.json") + " lists no images"
          : reference + ": no image tagged '" + tag + "' in " + dir.resolve("index.json") + "; tags: " + tags(all));
    }
    candidates = imagesOnly(distinctByDigest(candidates));
    if (candidates.size() > 1 && !arePlatformVariants(candidates)) {
      if (tag == null) {
        throw new ImageSourceException(reference + ": " + dir.resolve("index.json") + " lists " + candidates.size()
            + " different images; choose one with oci:" + dir + ":TAG; tags: " + tags(candidates));
      }
      throw new ImageSourceException(reference + ": tag '" + tag + "' names " + candidates.size()
          + " images that are not platform variants of one image; choose one with oci:" + dir + "@DIGEST: "
          + candidates.stream().map(d -> d.digest().toString()).collect(Collectors.joining(", ")));
    }
    return selectOrFail(candidates, wanted);
  }

  private Candidate selectByDigest(Platform wanted) throws IOException {
    Descriptor root = findInLayout(digest);
    if (kindOf(root) == Kind.OTHER) {
      throw new ImageSourceException(reference + ": " + digest + " is a " + root.mediaType()
          + ", not an image manifest or index");
    }
    return selectOrFail(List.of(root), wanted);
  }

  private Candidate selectOrFail(List<Descriptor> roots, Platform wanted) throws IOException {
    Set<Platform> seen = new LinkedHashSet<>();
    Candidate chosen = select(roots, wanted, seen, new HashSet<>(), 0);
    if (chosen == null) {
      throw new ImageSourceException(reference + ": no manifest for platform " + wanted + "; available: "
          + (seen.isEmpty() ? "none" : seen.stream().map(Platform::toString).collect(Collectors.joining(", "))));
    }
    return chosen;
  }

  /**
   * Depth-first, in index order: the first manifest whose platform matches. Platforms that do not
   * match are collected in {@code seen} for the error message.
   */
  private Candidate select(List<Descriptor> entries, Platform wanted, Set<Platform> seen, Set<Digest> enclosing,
      int depth) throws IOException {
    for (Descriptor d : entries) {
      switch (kindOf(d)) {
        case INDEX -> {
          if (depth >= MAX_INDEX_DEPTH || enclosing.contains(d.digest())) {
            throw new ImageSourceException(reference + ": index " + d.digest()
                + " is nested too deeply or contains itself");
          }
          enclosing.add(d.digest());
          Candidate found = select(readIndex(d), wanted, seen, enclosing, depth + 1);
          enclosing.remove(d.digest());
          if (found != null) {
            return found;
          }
        }
        case MANIFEST -> {
          Platform p = effectivePlatform(d);
          if (p == null || wanted.matches(p)) {
            return new Candidate(d, p);
          }
          seen.add(p);
        }
        case OTHER -> {
          // Signatures, attestations and other artifacts stored next to images: not images.
        }
      }
    }
    return null;
  }

  /** The index entry's platform, else the config's; null when neither declares one. */
  private Platform effectivePlatform(Descriptor manifest) throws IOException {
    if (manifest.platform() != null) {
      return manifest.platform();
    }
    ManifestTemplate m = readManifest(manifest);
    return readConfig(configDescriptor(manifest, m)).platform();
  }

  /** Several images are one multi-platform image when each is a manifest of a distinct platform. */
  private boolean arePlatformVariants(List<Descriptor> candidates) throws IOException {
    Set<Platform> platforms = new HashSet<>();
    for (Descriptor d : candidates) {
      if (kindOf(d) != Kind.MANIFEST) {
        return false;
      }
      Platform p = effectivePlatform(d);
      if (p == null || !platforms.add(p)) {
        return false;
      }
    }
    return true;
  }

  private List<Descriptor> imagesOnly(List<Descriptor> descriptors) throws IOException {
    List<Descriptor> out = new ArrayList<>();
    for (Descriptor d : descriptors) {
      if (kindOf(d) != Kind.OTHER) {
        out.add(d);
      }
    }
    // If everything is "other", keep them so that the error names what is there.
    return out.isEmpty() ? descriptors : out;
  }

  private static List<Descriptor> distinctByDigest(List<Descriptor> descriptors) {
    Map<Digest, Descriptor> byDigest = new LinkedHashMap<>();
    for (Descriptor d : descriptors) {
      byDigest.putIfAbsent(d.digest(), d);
    }
    return new ArrayList<>(byDigest.values());
  }

  private static String tags(List<Descriptor> descriptors) {
    Set<String> names = new LinkedHashSet<>();
    for (Descriptor d : descriptors) {
      String name = d.annotation(REF_NAME);
      names.add(name != null ? name : "(untagged " + d.digest().shortForm() + ")");
    }
    return names.isEmpty() ? "none" : String.join(", ", names);
  }

  /**
   * The descriptor for {@code wanted}: from {@code index.json} or a nested index when listed there
   * (so the media type and platform are known), else from the blob itself if the layout has it.
   */
  private Descriptor findInLayout(Digest wanted) throws IOException {
    Deque<Descriptor> queue = new ArrayDeque<>(readIndexJson());
    Set<Digest> visited = new HashSet<>();
    while (!queue.isEmpty()) {
      Descriptor d = queue.removeFirst();
      if (d.digest().equals(wanted)) {
        return d;
      }
      if (visited.add(d.digest()) && MediaTypes.isIndex(d.mediaType()) && Files.exists(blobPath(d.digest()))) {
        queue.addAll(readIndex(d));
      }
    }
    Path path = blobPath(wanted);
    if (!Files.isRegularFile(path)) {
      throw new ImageSourceException(reference + ": no manifest or index " + wanted + " in the layout " + dir);
    }
    long size = Files.size(path);
    if (size > MAX_JSON_BLOB) {
      throw new ImageSourceException(reference + ": blob " + wanted + " is " + size + " bytes, too large for a manifest");
    }
    Descriptor unlisted = new Descriptor(null, wanted, size);
    JsonNode node = readJson(unlisted, JsonNode.class, "blob");
    String type = node.path("mediaType").isTextual() ? node.path("mediaType").asText() : null;
    if (type == null) {
      // The mediaType field is optional in OCI documents: tell an index from a manifest by shape.
      type = node.has("manifests") ? MediaTypes.OCI_INDEX
          : node.has("config") || node.has("layers") ? MediaTypes.OCI_MANIFEST : null;
    }
    return new Descriptor(type, wanted, size);
  }

  private Kind kindOf(Descriptor d) throws IOException {
    String type = d.mediaType();
    if (MediaTypes.isIndex(type)) {
      return Kind.INDEX;
    }
    if (MediaTypes.isManifest(type) || MediaTypes.DOCKER_MANIFEST_SCHEMA1.equals(type)
        || MediaTypes.DOCKER_MANIFEST_SCHEMA1_SIGNED.equals(type)) {
      return Kind.MANIFEST; // schema 1 is refused with a clear message when read
    }
    if (type == null) {
      // Descriptors must carry a mediaType, but some tools omit it; judge by the document's shape.
      JsonNode node = readJson(d, JsonNode.class, "blob");
      return node.has("manifests") ? Kind.INDEX : node.has("config") || node.has("layers") ? Kind.MANIFEST : Kind.OTHER;
    }
    return Kind.OTHER;
  }

  // ---- building the image ----

  private ResolvedImage build(Candidate chosen, Platform wanted) throws IOException {
    Descriptor manifestDescriptor = chosen.descriptor();
    ManifestTemplate manifest = readManifest(manifestDescriptor);
    Descriptor configDescriptor = configDescriptor(manifestDescriptor, manifest);
    ImageConfigTemplate config = readConfig(configDescriptor);
    List<Descriptor> layerDescriptors;
    List<Digest> diffIds;
    try {
      layerDescriptors = manifest.layerDescriptors();
    } catch (MalformedTemplateException e) {
      throw new ImageSourceException(reference + ": malformed manifest " + manifestDescriptor.digest() + ": "
          + e.getMessage(), e);
    }
    try {
      diffIds = config.diffIds();
    } catch (MalformedTemplateException e) {
      throw new ImageSourceException(reference + ": malformed config " + configDescriptor.digest() + ": "
          + e.getMessage(), e);
    }
    if (diffIds.size() != layerDescriptors.size()) {
      throw new ImageSourceException(reference + ": manifest " + manifestDescriptor.digest() + " lists "
          + layerDescriptors.size() + " layers but its config " + configDescriptor.digest() + " lists "
          + diffIds.size() + " diff_ids");
    }
    List<LayerBlob> layers = new ArrayList<>();
    for (int i = 0; i < layerDescriptors.size(); i++) {
      Descriptor layer = layerDescriptors.get(i);
      // The opener verifies the blob digest itself, so the decoded bytes need no second check.
      layers.add(new LayerBlob(i, layer, null, () -> openBlob(layer)));
    }
    Platform platform = chosen.platform() != null ? chosen.platform()
        : config.platform() != null ? config.platform() : wanted;
    return new ResolvedImage(reference, manifestDescriptor, platform, configDescriptor, config, layers);
  }

  private Descriptor configDescriptor(Descriptor manifestDescriptor, ManifestTemplate manifest)
      throws ImageSourceException {
    try {
      return manifest.configDescriptor();
    } catch (MalformedTemplateException e) {
      throw new ImageSourceException(reference + ": malformed manifest " + manifestDescriptor.digest() + ": "
          + e.getMessage(), e);
    }
  }

  // ---- reading JSON blobs ----

  private List<Descriptor> readIndexJson() throws IOException {
    Path path = dir.resolve("index.json");
    byte[] bytes;
    try {
      if (Files.size(path) > MAX_JSON_BLOB) {
        throw new ImageSourceException(reference + ": " + path + " is larger than " + MAX_JSON_BLOB + " bytes");
      }
      bytes = Files.readAllBytes(path);
    } catch (NoSuchFileException e) {
      throw new ImageSourceException(reference + ": " + dir + " is not an OCI image layout (no index.json)", e);
    }
    try {
      return JsonTemplates.read(bytes, IndexTemplate.class).descriptors();
    } catch (JsonProcessingException | MalformedTemplateException e) {
      throw new ImageSourceException(reference + ": malformed " + path + ": " + JsonTemplates.describeError(e), e);
    }
  }

  private List<Descriptor> readIndex(Descriptor d) throws IOException {
    IndexTemplate index = readJson(d, IndexTemplate.class, "index");
    try {
      return index.descriptors();
    } catch (MalformedTemplateException e) {
      throw new ImageSourceException(reference + ": malformed index " + d.digest() + ": " + e.getMessage(), e);
    }
  }

  private ManifestTemplate readManifest(Descriptor d) throws IOException {
    if (MediaTypes.DOCKER_MANIFEST_SCHEMA1.equals(d.mediaType())
        || MediaTypes.DOCKER_MANIFEST_SCHEMA1_SIGNED.equals(d.mediaType())) {
      throw new ImageSourceException(reference + ": manifest " + d.digest() + " is Docker schema 1, which is not supported");
    }
    ManifestTemplate m = readJson(d, ManifestTemplate.class, "manifest");
    Integer version = m.schemaVersion();
    if (version == null || version != 2) {
      throw new ImageSourceException(reference + ": manifest " + d.digest() + " has schemaVersion " + version
          + (Integer.valueOf(1).equals(version) ? " (Docker schema 1, not supported)" : ", want 2"));
    }
    if (MediaTypes.isIndex(m.mediaType())) {
      throw new ImageSourceException(reference + ": blob " + d.digest() + " is an index (" + m.mediaType()
          + "), but its descriptor says " + d.mediaType());
    }
    return m;
  }

  private ImageConfigTemplate readConfig(Descriptor d) throws IOException {
    return readJson(d, ImageConfigTemplate.class, "config");
  }

  private <T> T readJson(Descriptor d, Class<T> type, String what) throws IOException {
    byte[] bytes = readSmallBlob(d, what);
    try {
      return JsonTemplates.read(bytes, type);
    } catch (JsonProcessingException | MalformedTemplateException e) {
      throw new ImageSourceException(reference + ": malformed " + what + " " + d.digest() + ": "
          + JsonTemplates.describeError(e), e);
    }
  }

  private byte[] readSmallBlob(Descriptor d, String what) throws IOException {
    byte[] cached = jsonBlobs.get(d.digest());
    if (cached != null && cached.length == d.size()) {
      return cached;
    }
    if (d.size() > MAX_JSON_BLOB) {
      throw new ImageSourceException(reference + ": " + what + " " + d.digest() + " claims " + d.size()
          + " bytes, more than the " + MAX_JSON_BLOB + " allowed for JSON");
    }
    byte[] bytes;
    try (InputStream in = openBlob(d)) {
      bytes = in.readAllBytes(); // to the end, so the digest and size are checked before parsing
    }
    jsonBlobs.put(d.digest(), bytes);
    return bytes;
  }
}
