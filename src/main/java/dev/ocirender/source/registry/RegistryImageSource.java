package dev.ocirender.source.registry;

import dev.ocirender.image.Descriptor;
import dev.ocirender.image.Digest;
import dev.ocirender.image.ImageReference;
import dev.ocirender.image.Platform;
import dev.ocirender.image.VerifyingInputStream;
import dev.ocirender.layer.LayerBlob;
import dev.ocirender.source.ImageSource;
import dev.ocirender.source.ImageSourceException;
import dev.ocirender.source.ManifestResolver;
import dev.ocirender.source.ResolvedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * An image in a registry: {@code docker://[REGISTRY/]REPOSITORY[:TAG][@DIGEST]}, normalised as
 * Docker does ({@link ImageReference}).
 *
 * <p>Resolution fetches the manifest or index by tag or digest (from a Docker Hub mirror first when
 * configured, falling back to the next endpoint on any failure), then walks it with the same
 * {@link ManifestResolver} as the layout source: nested indexes and Docker manifest lists are
 * resolved by platform, child manifests are fetched by digest and verified.
 *
 * <p>Layers come through the process-wide {@link BlobCache}: the first time any layer is opened, all
 * layers of the image start downloading, newest first (the order the merge reads them), on the
 * context's bounded pool, and each opener follows its download as it arrives or reads the cached
 * copy. Re-opening a layer hits the cache, not the network. Resolution alone ({@code inspect})
 * downloads no layer.
 *
 * <p>It does not push, does not follow descriptor {@code urls} (foreign layers), and does not read
 * Docker schema 1 manifests.
 */
public final class RegistryImageSource implements ImageSource {

  /** The transport prefix. */
  public static final String TRANSPORT = "docker://";

  private final String spec;
  private final ImageReference reference;
  private final RegistryContext context;
  private final AtomicBoolean prefetched = new AtomicBoolean();
  // The first stream of each layer, opened when its download was started: the merge reads this one,
  // so a failed download is reported to the render that started it, not silently retried by a
  // second download. Re-opens go to the cache.
  private final Map<Digest, InputStream> firstStreams = new ConcurrentHashMap<>();
  private volatile RegistryClient client;

  private RegistryImageSource(String spec, ImageReference reference, RegistryContext context) {
    this.spec = spec;
    this.reference = reference;
    this.context = context;
  }

  /** Parses {@code docker://…}; nothing is fetched until {@link #resolve}. */
  public static RegistryImageSource open(String spec, RegistryContext context) throws ImageSourceException {
    Objects.requireNonNull(context, "context");
    if (!spec.startsWith(TRANSPORT)) {
      throw new ImageSourceException(spec + ": not a " + TRANSPORT + " reference");
    }
    try {
      return new RegistryImageSource(spec, ImageReference.parse(spec.substring(TRANSPORT.length())), context);
    } catch (IllegalArgumentException e) {
      throw new ImageSourceException(spec + ": " + e.getMessage(), e);
    }
  }

  public ImageReference imageReference() {
    return reference;
  }

  @Override
  public String reference() {
    return spec;
  }

  @Override
  public ResolvedImage resolve(Platform platform) throws IOException {
    Objects.requireNonNull(platform, "platform");
    ManifestPuller.Manifest root = null;
    List<RegistryClient> endpoints = context.clientsFor(reference);
    List<String> mirrorFailures = new java.util.ArrayList<>();
    for (int i = 0; i < endpoints.size() && root == null; i++) {
      RegistryClient c = endpoints.get(i);
      try {
        root = c.pullManifest(reference.repository(), reference.manifestReference(), reference.digest());
        client = c;
      } catch (IOException e) {
        if (i == endpoints.size() - 1) {
          // The registry itself is the last word; what the mirrors said goes with it.
          throw mirrorFailures.isEmpty() ? e
              : new IOException(e.getMessage() + " (after the mirrors failed: " + String.join("; ", mirrorFailures) + ")", e);
        }
        // A mirror that fails for any reason is skipped.
        mirrorFailures.add(e.getMessage());
      }
    }
    ManifestResolver resolver = new ManifestResolver(spec, this::openJson);
    resolver.remember(root.digest(), root.bytes());
    Descriptor rootDescriptor = new Descriptor(root.mediaType(), root.digest(), root.bytes().length);
    ManifestResolver.Candidate chosen = resolver.selectOrFail(List.of(rootDescriptor), platform);
    ResolvedImage[] image = new ResolvedImage[1];
    image[0] = resolver.build(chosen, platform, layer -> () -> {
      prefetch(image[0].layers());
      InputStream first = firstStreams.remove(layer.digest());
      return first != null ? first : openBlob(layer);
    });
    return image[0];
  }

  /** Starts every layer's download once, newest first. */
  private void prefetch(List<LayerBlob> layers) throws IOException {
    if (!prefetched.compareAndSet(false, true)) {
      return;
    }
    for (int i = layers.size() - 1; i >= 0; i--) {
      Descriptor d = layers.get(i).descriptor();
      if (!firstStreams.containsKey(d.digest())) {
        try {
          firstStreams.put(d.digest(), openBlob(d));
        } catch (IOException e) {
          // Reported when that layer is opened.
        }
      }
    }
  }

  @Override
  public InputStream openBlob(Descriptor descriptor) throws IOException {
    return context.cache().open(descriptor, fetcher(descriptor), context.downloads(), subject(descriptor));
  }

  private BlobCache.Fetcher fetcher(Descriptor d) throws ImageSourceException {
    RegistryClient c = requireClient();
    return sink -> c.downloadBlob(reference.repository(), d, sink);
  }

  private String subject(Descriptor d) throws ImageSourceException {
    return "pulling blob " + d.digest() + " from " + requireClient().registry() + "/" + reference.repository();
  }

  private RegistryClient requireClient() throws ImageSourceException {
    RegistryClient c = client;
    if (c == null) {
      throw new ImageSourceException(spec + ": resolve the image before opening its blobs");
    }
    return c;
  }

  /** Indexes and manifests come from the manifests endpoint by digest, configs from the blob store. */
  private InputStream openJson(Descriptor d, ManifestResolver.Role role) throws IOException {
    if (role == ManifestResolver.Role.CONFIG) {
      return openBlob(d);
    }
    ManifestPuller.Manifest m = requireClient().pullManifest(reference.repository(), d.digest().toString(), d.digest());
    return new VerifyingInputStream(new ByteArrayInputStream(m.bytes()), d.digest(), d.size(),
        "pulling manifest " + d.digest() + " from " + client.registry() + "/" + reference.repository());
  }

  @Override
  public void close() throws IOException {
    // The context, its clients and the cache outlive one image on purpose; downloads in flight finish
    // into the cache for the next image that needs them. Only unread first streams are closed.
    for (InputStream in : firstStreams.values()) {
      in.close();
    }
    firstStreams.clear();
  }
}
