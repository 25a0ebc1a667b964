package dev.ocirender.source;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.ocirender.image.Descriptor;
import dev.ocirender.image.Digest;
import dev.ocirender.image.MediaTypes;
import dev.ocirender.image.Platform;
import dev.ocirender.image.json.ImageConfigTemplate;
import dev.ocirender.image.json.IndexTemplate;
import dev.ocirender.image.json.JsonTemplates;
import dev.ocirender.image.json.MalformedTemplateException;
import dev.ocirender.image.json.ManifestTemplate;
import dev.ocirender.layer.LayerBlob;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
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
 * The part of resolving an image that every source shares, whatever stores the blobs: walking
 * (nested) indexes to the manifest for a platform, reading and checking the manifest and config,
 * and building the {@link ResolvedImage}.
 *
 * <p>Selection is depth-first in index order: the first manifest whose platform matches wins. An
 * entry without a {@code platform} is judged by its config's os/architecture/variant, and accepted
 * if the config names none. Indexes may be OCI indexes or Docker manifest lists, manifests OCI or
 * Docker schema 2; schema 1 is refused with a clear message.
 *
 * <p>The source supplies the bytes through {@link JsonBlobs}, verified against the descriptor (the
 * resolver reads every JSON blob to its end before parsing, so the check has happened). Verified
 * JSON blobs are kept in memory for the life of the resolver. It does not decide where resolution
 * starts (a layout's {@code index.json} tags, a registry tag): the source passes the roots.
 */
public final class ManifestResolver {

  /** Manifests are at most 4 MiB by convention; configs with long histories can be larger. */
  public static final long MAX_JSON_BLOB = 32L << 20;

  // Deeper than any real image; it stops a malicious or broken source from recursing forever.
  private static final int MAX_INDEX_DEPTH = 8;

  /** What the resolver is reading a blob as: a registry serves indexes and manifests elsewhere than configs. */
  public enum Role { INDEX, MANIFEST, CONFIG, UNKNOWN }

  /** What a descriptor points at. */
  public enum Kind { INDEX, MANIFEST, OTHER }

  /** Opens a small JSON blob, verified against {@code descriptor} by the time its end is read. */
  @FunctionalInterface
  public interface JsonBlobs {
    InputStream open(Descriptor descriptor, Role role) throws IOException;
  }

  /** A manifest chosen while walking; {@code platform} is null when nothing declares one. */
  public record Candidate(Descriptor descriptor, Platform platform) {}

  private final String reference;
  private final JsonBlobs blobs;
  private final Map<Digest, byte[]> jsonBlobs = new ConcurrentHashMap<>();

  /** @param reference the reference as the user gave it, first in every message */
  public ManifestResolver(String reference, JsonBlobs blobs) {
    this.reference = Objects.requireNonNull(reference, "reference");
    this.blobs = Objects.requireNonNull(blobs, "blobs");
  }

  /**
   * Records bytes the source has already fetched and verified against {@code digest} (a registry
   * gets the root manifest by tag), so that they are not fetched again.
   */
  public void remember(Digest digest, byte[] verifiedBytes) {
    jsonBlobs.put(digest, verifiedBytes);
  }

  /** The first manifest for {@code wanted} under {@code roots}; fails listing the platforms seen. */
  public Candidate selectOrFail(List<Descriptor> roots, Platform wanted) throws IOException {
    Set<Platform> seen = new LinkedHashSet<>();
    Candidate chosen = select(roots, wanted, seen, new HashSet<>(), 0);
    if (chosen == null) {
      throw new ImageSourceException(reference + ": no manifest for platform " + wanted + "; available: "
          + (seen.isEmpty() ? "none" : seen.stream().map(Platform::toString).collect(Collectors.joining(", "))));
    }
    return chosen;
  }

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
  public Platform effectivePlatform(Descriptor manifest) throws IOException {
    if (manifest.platform() != null) {
      return manifest.platform();
    }
    ManifestTemplate m = readManifest(manifest);
    return readConfig(configDescriptor(manifest, m)).platform();
  }

  /** Several images are one multi-platform image when each is a manifest of a distinct platform. */
  public boolean arePlatformVariants(List<Descriptor> candidates) throws IOException {
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

  /** The indexes and manifests among {@code descriptors}, or all of them when none is one. */
  public List<Descriptor> imagesOnly(List<Descriptor> descriptors) throws IOException {
    List<Descriptor> out = new ArrayList<>();
    for (Descriptor d : descriptors) {
      if (kindOf(d) != Kind.OTHER) {
        out.add(d);
      }
    }
    // If everything is "other", keep them so that the error names what is there.
    return out.isEmpty() ? descriptors : out;
  }

  public static List<Descriptor> distinctByDigest(List<Descriptor> descriptors) {
    Map<Digest, Descriptor> byDigest = new LinkedHashMap<>();
    for (Descriptor d : descriptors) {
      byDigest.putIfAbsent(d.digest(), d);
    }
    return new ArrayList<>(byDigest.values());
  }

  public Kind kindOf(Descriptor d) throws IOException {
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
      JsonNode node = readJson(d, JsonNode.class, Role.UNKNOWN, "blob");
      return node.has("manifests") ? Kind.INDEX : node.has("config") || node.has("layers") ? Kind.MANIFEST : Kind.OTHER;
    }
    return Kind.OTHER;
  }

  /**
   * Reads the chosen manifest and its config and makes the image; each layer is opened through
   * {@code layerOpener}, which must verify the blob itself.
   */
  public ResolvedImage build(Candidate chosen, Platform wanted, LayerOpeners layerOpener) throws IOException {
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
      layers.add(new LayerBlob(i, layer, null, layerOpener.opener(layer)));
    }
    Platform platform = chosen.platform() != null ? chosen.platform()
        : config.platform() != null ? config.platform() : wanted;
    return new ResolvedImage(reference, manifestDescriptor, platform, configDescriptor, config, layers);
  }

  /** How a source opens each layer blob of a built image. */
  @FunctionalInterface
  public interface LayerOpeners {
    LayerBlob.Opener opener(Descriptor layer);
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

  public List<Descriptor> readIndex(Descriptor d) throws IOException {
    IndexTemplate index = readJson(d, IndexTemplate.class, Role.INDEX, "index");
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
    ManifestTemplate m = readJson(d, ManifestTemplate.class, Role.MANIFEST, "manifest");
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
    return readJson(d, ImageConfigTemplate.class, Role.CONFIG, "config");
  }

  /** Reads a small JSON blob whole, verified, then parses it; {@code what} names it in messages. */
  public <T> T readJson(Descriptor d, Class<T> type, Role role, String what) throws IOException {
    byte[] bytes = readSmallBlob(d, role, what);
    try {
      return JsonTemplates.read(bytes, type);
    } catch (JsonProcessingException | MalformedTemplateException e) {
      throw new ImageSourceException(reference + ": malformed " + what + " " + d.digest() + ": "
          + JsonTemplates.describeError(e), e);
    }
  }

  private byte[] readSmallBlob(Descriptor d, Role role, String what) throws IOException {
    byte[] cached = jsonBlobs.get(d.digest());
    if (cached != null && cached.length == d.size()) {
      return cached;
    }
    if (d.size() > MAX_JSON_BLOB) {
      throw new ImageSourceException(reference + ": " + what + " " + d.digest() + " claims " + d.size()
          + " bytes, more than the " + MAX_JSON_BLOB + " allowed for JSON");
    }
    byte[] bytes;
    try (InputStream in = blobs.open(d, role)) {
      bytes = in.readAllBytes(); // to the end, so the digest and size are checked before parsing
    }
    jsonBlobs.put(d.digest(), bytes);
    return bytes;
  }
}
