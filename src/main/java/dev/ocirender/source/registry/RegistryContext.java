package dev.ocirender.source.registry;

import dev.ocirender.image.ImageReference;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * What every registry image of one process shares: the HTTP clients, one {@link RegistryClient}
 * per endpoint (so tokens are reused across images), the {@link BlobCache}, and the bounded pool
 * that downloads layers. {@link #shared(RegistryOptions)} gives one context per options value for
 * the whole process, so shared base layers are fetched once however many images are rendered.
 *
 * <p>Download threads are daemons; nothing needs closing. It does not know about image formats.
 */
public final class RegistryContext {

  /** Where Docker Hub's API is, whatever users call it. */
  static final String DOCKER_HUB_API = "registry-1.docker.io";

  private static final Map<RegistryOptions, RegistryContext> SHARED = new ConcurrentHashMap<>();
  private static final AtomicInteger THREADS = new AtomicInteger();

  private final RegistryOptions options;
  private final HttpClient secureHttp;
  private final HttpClient insecureHttp;
  private final Map<String, RegistryClient> clients = new ConcurrentHashMap<>();
  private final ExecutorService downloads;
  private volatile BlobCache cache;

  public RegistryContext(RegistryOptions options) {
    this.options = options;
    this.secureHttp = HttpClient.newBuilder()
        .version(HttpClient.Version.HTTP_1_1)
        .followRedirects(HttpClient.Redirect.NEVER)
        .connectTimeout(options.connectTimeout())
        .build();
    this.insecureHttp = HttpClient.newBuilder()
        .version(HttpClient.Version.HTTP_1_1)
        .followRedirects(HttpClient.Redirect.NEVER)
        .connectTimeout(options.connectTimeout())
        .sslContext(trustingEverything())
        .build();
    this.downloads = Executors.newFixedThreadPool(options.concurrentDownloads(), r -> {
      Thread t = new Thread(r, "ocirender-download-" + THREADS.incrementAndGet());
      t.setDaemon(true);
      return t;
    });
  }

  /** The context of this process for this {@code options} instance. */
  public static RegistryContext shared(RegistryOptions options) {
    return SHARED.computeIfAbsent(options, RegistryContext::new);
  }

  /** The context of this process for {@link RegistryOptions#defaults()}. */
  public static RegistryContext defaultContext() {
    return DefaultHolder.CONTEXT;
  }

  private static final class DefaultHolder {
    static final RegistryContext CONTEXT = shared(RegistryOptions.defaults());
  }

  public RegistryOptions options() {
    return options;
  }

  public BlobCache cache() throws IOException {
    BlobCache c = cache;
    if (c == null) {
      c = BlobCache.shared(options.cacheDir(), options.cacheMaxBytes());
      cache = c;
    }
    return c;
  }

  ExecutorService downloads() {
    return downloads;
  }

  /** The endpoints to try for {@code reference}: Docker Hub mirrors first, then the registry itself. */
  List<RegistryClient> clientsFor(ImageReference reference) throws IOException {
    List<RegistryClient> out = new ArrayList<>();
    if (ImageReference.DOCKER_HUB.equals(reference.registry())) {
      for (URI mirror : options.dockerHubMirrors()) {
        String authority = mirror.getAuthority();
        out.add(client(mirror.toString(), authority, List.of(mirror)));
      }
    }
    String registry = reference.registry();
    String host = ImageReference.DOCKER_HUB.equals(registry) ? DOCKER_HUB_API : registry;
    List<URI> bases = new ArrayList<>();
    bases.add(URI.create("https://" + host));
    if (options.isInsecure(registry)) {
      bases.add(URI.create("http://" + host));
    }
    out.add(client(registry, registry, bases));
    return out;
  }

  private RegistryClient client(String key, String registryName, List<URI> bases) throws IOException {
    RegistryClient existing = clients.get(key);
    if (existing != null) {
      return existing;
    }
    CredentialSource credential = options.credentials().source(registryName);
    return clients.computeIfAbsent(key,
        k -> new RegistryClient(registryName, bases, credential, secureHttp, insecureHttp, options));
  }

  private static SSLContext trustingEverything() {
    // Only for registries the user named insecure (or --tls-verify=false): no certificate or host checks.
    TrustManager trustAll = new X509ExtendedTrustManager() {
      @Override
      public void checkClientTrusted(X509Certificate[] chain, String authType) {}

      @Override
      public void checkServerTrusted(X509Certificate[] chain, String authType) {}

      @Override
      public void checkClientTrusted(X509Certificate[] chain, String authType, java.net.Socket s) {}

      @Override
      public void checkServerTrusted(X509Certificate[] chain, String authType, java.net.Socket s) {}

      @Override
      public void checkClientTrusted(X509Certificate[] chain, String authType, javax.net.ssl.SSLEngine e) {}

      @Override
      public void checkServerTrusted(X509Certificate[] chain, String authType, javax.net.ssl.SSLEngine e) {}

      @Override
      public X509Certificate[] getAcceptedIssuers() {
        return new X509Certificate[0];
      }
    };
    try {
      SSLContext context = SSLContext.getInstance("TLS");
      context.init(null, new TrustManager[] {trustAll}, new SecureRandom());
      return context;
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }
}
