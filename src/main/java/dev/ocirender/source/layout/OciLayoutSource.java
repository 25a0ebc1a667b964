package dev.ocirender.source.layout;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.ocirender.image.Descriptor;
import dev.ocirender.image.Digest;
import dev.ocirender.image.MediaTypes;
import dev.ocirender.image.Platform;
import dev.ocirender.image.VerifyingInputStream;
import dev.ocirender.image.json.IndexTemplate;
import dev.ocirender.image.json.JsonTemplates;
import dev.ocirender.image.json.OciLayoutTemplate;
import dev.ocirender.image.json.MalformedTemplateException;
import dev.ocirender.source.ImageSource;
import dev.ocirender.source.ImageSourceException;
import dev.ocirender.source.ManifestResolver;
import dev.ocirender.source.ManifestResolver.Candidate;
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
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
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
  static final long MAX_JSON_BLOB = ManifestResolver.MAX_JSON_BLOB;

  private final String reference;
  private final Path dir;
  private final String tag;
  private final Digest digest;
  // Selection and building are shared with the registry source; it keeps the verified JSON blobs.
  private final ManifestResolver resolver;

  private OciLayoutSource(String reference, Path dir, String tag, Digest digest) {
    this.reference = reference;
    this.dir = dir;
    this.tag = tag;
    this.digest = digest;
    this.resolver = new ManifestResolver(reference, (d, role) -> openBlob(d));
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
      version = JsonTemplates.read(bytes, OciLayoutTemplate.class).imageLayoutVersion();
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
    return resolver.build(chosen, platform, layer -> () -> openBlob(layer));
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
    candidates = resolver.imagesOnly(ManifestResolver.distinctByDigest(candidates));
    if (candidates.size() > 1 && !resolver.arePlatformVariants(candidates)) {
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
    if (resolver.kindOf(root) == ManifestResolver.Kind.OTHER) {
      throw new ImageSourceException(reference + ": " + digest + " is a " + root.mediaType()
          + ", not an image manifest or index");
    }
    return selectOrFail(List.of(root), wanted);
  }

  private Candidate selectOrFail(List<Descriptor> roots, Platform wanted) throws IOException {
    return resolver.selectOrFail(roots, wanted);
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
        queue.addAll(resolver.readIndex(d));
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
    JsonNode node = resolver.readJson(unlisted, JsonNode.class, ManifestResolver.Role.UNKNOWN, "blob");
    String type = node.path("mediaType").isTextual() ? node.path("mediaType").asText() : null;
    if (type == null) {
      // The mediaType field is optional in OCI documents: tell an index from a manifest by shape.
      type = node.has("manifests") ? MediaTypes.OCI_INDEX
          : node.has("config") || node.has("layers") ? MediaTypes.OCI_MANIFEST : null;
    }
    return new Descriptor(type, wanted, size);
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
}
