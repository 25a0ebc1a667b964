package dev.ocirender.source.registry;

import java.net.URI;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;

/**
 * How to reach registries: TLS, insecure registries, Docker Hub mirrors, timeouts, retries, the
 * blob cache and download concurrency. Immutable; make one with {@link #builder()}.
 *
 * <p>Insecure registries (by default {@code localhost} and {@code 127.0.0.1}, any port) are tried
 * over HTTPS without certificate checks first and then over plain HTTP, as Docker and skopeo do.
 * {@code tlsVerify=false} makes every registry insecure in that sense. Credentials are not options:
 * they come from {@link CredentialStore}.
 */
public final class RegistryOptions {

  private final boolean tlsVerify;
  private final Set<String> insecureRegistries;
  private final List<URI> dockerHubMirrors;
  private final Duration connectTimeout;
  private final Duration requestTimeout;
  private final Duration readTimeout;
  private final RetryPolicy retry;
  private final Path cacheDir;
  private final long cacheMaxBytes;
  private final int concurrentDownloads;
  private final CredentialStore credentials;
  private final Clock clock;

  private RegistryOptions(Builder b) {
    this.tlsVerify = b.tlsVerify;
    this.insecureRegistries = Set.copyOf(b.insecureRegistries);
    this.dockerHubMirrors = List.copyOf(b.dockerHubMirrors);
    this.connectTimeout = b.connectTimeout;
    this.requestTimeout = b.requestTimeout;
    this.readTimeout = b.readTimeout;
    this.retry = b.retry;
    this.cacheDir = b.cacheDir != null ? b.cacheDir : defaultCacheDir();
    this.cacheMaxBytes = b.cacheMaxBytes;
    this.concurrentDownloads = b.concurrentDownloads;
    this.credentials = b.credentials != null ? b.credentials : CredentialStore.fromEnvironment();
    this.clock = b.clock;
  }

  public static Builder builder() {
    return new Builder();
  }

  public static RegistryOptions defaults() {
    return builder().build();
  }

  /** {@code $XDG_CACHE_HOME/ocirender/blobs}, else {@code ~/.cache/ocirender/blobs}. */
  public static Path defaultCacheDir() {
    String xdg = System.getenv("XDG_CACHE_HOME");
    Path base = xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache");
    return base.resolve("ocirender").resolve("blobs");
  }

  public boolean tlsVerify() {
    return tlsVerify;
  }

  /** Whether {@code registry} ({@code host[:port]}) may be reached without TLS checks or over HTTP. */
  public boolean isInsecure(String registry) {
    if (!tlsVerify) {
      return true;
    }
    String r = registry.toLowerCase(Locale.ROOT);
    return insecureRegistries.contains(r) || insecureRegistries.contains(hostOf(r));
  }

  private static String hostOf(String registry) {
    if (registry.startsWith("[")) {
      int end = registry.indexOf(']');
      return end > 0 ? registry.substring(0, end + 1) : registry;
    }
    int colon = registry.lastIndexOf(':');
    return colon < 0 ? registry : registry.substring(0, colon);
  }

  public List<URI> dockerHubMirrors() {
    return dockerHubMirrors;
  }

  public Duration connectTimeout() {
    return connectTimeout;
  }

  /** The longest wait for a response's status and headers. */
  public Duration requestTimeout() {
    return requestTimeout;
  }

  /**
   * The longest a read of a response body may wait for its next byte; then the body fails as timed
   * out, a blob download resumes with a Range request, a manifest request is retried, a token
   * request fails (see {@link ReadTimeoutInputStream}). Time the consumer spends elsewhere does not count.
   */
  public Duration readTimeout() {
    return readTimeout;
  }

  public RetryPolicy retry() {
    return retry;
  }

  public Path cacheDir() {
    return cacheDir;
  }

  public long cacheMaxBytes() {
    return cacheMaxBytes;
  }

  public int concurrentDownloads() {
    return concurrentDownloads;
  }

  public CredentialStore credentials() {
    return credentials;
  }

  /** The clock that decides when a registry token has expired (the system clock; tests move their own). */
  public Clock clock() {
    return clock;
  }

  /** Builds {@link RegistryOptions}; every setting has a default. */
  public static final class Builder {
    private boolean tlsVerify = true;
    private final Set<String> insecureRegistries = new LinkedHashSet<>(List.of("localhost", "127.0.0.1", "[::1]"));
    private final List<URI> dockerHubMirrors = new ArrayList<>();
    private Duration connectTimeout = Duration.ofSeconds(30);
    private Duration requestTimeout = Duration.ofSeconds(60);
    private Duration readTimeout = Duration.ofSeconds(60);
    private RetryPolicy retry = RetryPolicy.DEFAULT;
    private Path cacheDir;
    private long cacheMaxBytes = 20L << 30;
    private int concurrentDownloads = 4;
    private CredentialStore credentials;
    private Clock clock = Clock.systemUTC();

    private Builder() {}

    public Builder tlsVerify(boolean value) {
      tlsVerify = value;
      return this;
    }

    /** Adds a registry ({@code host} or {@code host:port}) to reach without TLS checks or over HTTP. */
    public Builder insecureRegistry(String registry) {
      insecureRegistries.add(registry.toLowerCase(Locale.ROOT));
      return this;
    }

    /** Adds a mirror tried before Docker Hub, e.g. {@code https://mirror.gcr.io}. */
    public Builder dockerHubMirror(URI mirror) {
      if (mirror.getScheme() == null || mirror.getHost() == null) {
        throw new IllegalArgumentException("registry mirror must be a URL like https://mirror.example.com, got " + mirror);
      }
      dockerHubMirrors.add(mirror);
      return this;
    }

    public Builder connectTimeout(Duration value) {
      connectTimeout = Objects.requireNonNull(value);
      return this;
    }

    public Builder requestTimeout(Duration value) {
      requestTimeout = Objects.requireNonNull(value);
      return this;
    }

    public Builder readTimeout(Duration value) {
      readTimeout = Objects.requireNonNull(value);
      return this;
    }

    public Builder retry(RetryPolicy value) {
      retry = Objects.requireNonNull(value);
      return this;
    }

    public Builder cacheDir(Path value) {
      cacheDir = value;
      return this;
    }

    public Builder cacheMaxBytes(long value) {
      if (value <= 0) {
        throw new IllegalArgumentException("cache size must be positive, got " + value);
      }
      cacheMaxBytes = value;
      return this;
    }

    public Builder concurrentDownloads(int value) {
      if (value < 1) {
        throw new IllegalArgumentException("concurrent downloads must be at least 1, got " + value);
      }
      concurrentDownloads = value;
      return this;
    }

    public Builder credentials(CredentialStore value) {
      credentials = value;
      return this;
    }

    public Builder clock(Clock value) {
      clock = Objects.requireNonNull(value, "clock");
      return this;
    }

    public RegistryOptions build() {
      return new RegistryOptions(this);
    }
  }
}
