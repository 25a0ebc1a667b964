package dev.ocirender.cli;

import dev.ocirender.source.ImageSource;
import dev.ocirender.source.ImageSources;
import dev.ocirender.source.registry.RegistryContext;
import dev.ocirender.source.registry.RegistryOptions;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Option;

/**
 * The registry options of {@code render} and {@code inspect} ({@code docker://} sources), as a picocli
 * mixin, turned into one {@link RegistryContext} per command. Credentials are not flags: they come
 * from the Docker and containers auth files, credential helpers and, for Google's registries,
 * Application Default Credentials.
 */
final class RegistryFlags {

  @Option(names = "--tls-verify", arity = "0..1", defaultValue = "true", fallbackValue = "true", paramLabel = "BOOL",
      description = "Require HTTPS with valid certificates (--tls-verify=false also allows plain HTTP). Default: ${DEFAULT-VALUE}.")
  boolean tlsVerify;

  @Option(names = "--insecure-registry", paramLabel = "HOST[:PORT]",
      description = "A registry to reach without TLS checks or over plain HTTP (repeatable; localhost and 127.0.0.1 always are).")
  List<String> insecure = new ArrayList<>();

  @Option(names = "--registry-mirror", paramLabel = "URL",
      description = "A mirror tried before Docker Hub for docker.io images (repeatable).")
  List<URI> mirrors = new ArrayList<>();

  @Option(names = "--registry-timeout", paramLabel = "SECONDS", defaultValue = "60",
      description = "Connect, response and read timeout for registry requests (a body silent this long is resumed or retried). Default: ${DEFAULT-VALUE}.")
  long timeoutSeconds;

  @Option(names = "--registry-retries", paramLabel = "N", defaultValue = "6",
      description = "Attempts per registry request before giving up. Default: ${DEFAULT-VALUE}.")
  int attempts;

  @Option(names = "--blob-cache", paramLabel = "DIR",
      description = "The layer cache directory. Default: $XDG_CACHE_HOME/ocirender/blobs or ~/.cache/ocirender/blobs.")
  Path cacheDir;

  @Option(names = "--blob-cache-size", paramLabel = "BYTES", defaultValue = "20g", converter = Converters.SizeConverter.class,
      description = "The most the layer cache may hold (k, m, g suffixes). Default: ${DEFAULT-VALUE}.")
  long cacheSize;

  @Option(names = "--parallel-downloads", paramLabel = "N", defaultValue = "4",
      description = "Layers downloaded at once. Default: ${DEFAULT-VALUE}.")
  int parallel;

  private RegistryContext context;

  /**
   * Opens an image source; the registry context (HTTP clients, TLS, credentials, blob cache) is made
   * only for a {@code docker://} reference, once per command: a local layout or archive never pays
   * for it (about half a second of start-up). The flags are checked either way.
   */
  ImageSource open(String spec) throws IOException {
    RegistryOptions.Builder options = options();
    if (!ImageSources.isRegistryReference(spec)) {
      return ImageSources.open(spec);
    }
    if (context == null) {
      context = new RegistryContext(options.build());
    }
    return ImageSources.open(spec, context);
  }

  /** The flags as registry options; the builder checks them (a malformed mirror URL, say). */
  private RegistryOptions.Builder options() {
    Duration timeout = Duration.ofSeconds(timeoutSeconds);
    RegistryOptions.Builder b = RegistryOptions.builder()
        .tlsVerify(tlsVerify)
        .connectTimeout(timeout).requestTimeout(timeout).readTimeout(timeout)
        .retry(new dev.ocirender.source.registry.RetryPolicy(attempts, Duration.ofMillis(500), Duration.ofSeconds(20),
            Duration.ofSeconds(120)))
        .cacheDir(cacheDir)
        .cacheMaxBytes(cacheSize)
        .concurrentDownloads(parallel);
    insecure.forEach(b::insecureRegistry);
    mirrors.forEach(b::dockerHubMirror);
    return b;
  }
}
