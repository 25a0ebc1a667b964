package dev.ocirender.source.registry;

import com.fasterxml.jackson.databind.JsonNode;
import dev.ocirender.image.Descriptor;
import dev.ocirender.image.Messages;
import dev.ocirender.image.json.JsonTemplates;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import javax.net.ssl.SSLException;

/**
 * The thread-safe facade for one registry endpoint ({@code https://host[:port]}, or a mirror): it
 * owns the parts every request shares, so that the endpoint classes ({@link ManifestPuller},
 * {@link BlobPuller}, {@link TokenEndpoint}) only build requests and read responses.
 *
 * <ul>
 *   <li>Scheme: HTTPS; for an insecure registry HTTPS without certificate checks, then plain HTTP
 *       when the TLS handshake fails, remembered for the endpoint's life.
 *   <li>Authentication: the header from {@link RegistryAuth}, and one more round after a 401.
 *   <li>Redirects (to blob storage): followed, and the Authorization header is sent only to the
 *       registry's own host and port, never to another host.
 *   <li>Retries: connection errors, 429 and 5xx, with {@link RetryPolicy}'s backoff and
 *       {@code Retry-After}; then a {@link RegistryException} naming the action and the last cause.
 * </ul>
 *
 * <p>Every response body it returns fails when a read waits longer than the read timeout
 * ({@link ReadTimeoutInputStream}). It does not retry a response body that breaks off or stalls: the
 * blob download resumes that with a Range request ({@link BlobPuller}), the manifest request starts
 * again ({@link ManifestPuller}). It never logs, and nothing it throws contains a secret.
 */
public final class RegistryClient {

  private static final int MAX_REDIRECTS = 10;
  private static final int MAX_AUTH_ROUNDS = 2;

  private final String registry;
  private final List<URI> bases;
  private final HttpClient secureHttp;
  private final HttpClient insecureHttp;
  private final RegistryOptions options;
  private final RegistryAuth auth;
  private final ManifestPuller manifests = new ManifestPuller(this);
  private final BlobPuller blobs = new BlobPuller(this);
  private volatile int baseIndex;

  /**
   * @param registry the registry as users name it, for messages ({@code docker.io}, {@code localhost:5000})
   * @param bases the endpoints to try in order (an insecure registry has an https and an http one)
   */
  RegistryClient(String registry, List<URI> bases, CredentialSource credential, HttpClient secureHttp,
      HttpClient insecureHttp, RegistryOptions options) {
    this.registry = Objects.requireNonNull(registry, "registry");
    this.bases = List.copyOf(bases);
    this.secureHttp = secureHttp;
    this.insecureHttp = insecureHttp;
    this.options = options;
    this.auth = new RegistryAuth(this, credential);
  }

  public String registry() {
    return registry;
  }

  RegistryOptions options() {
    return options;
  }

  /** Fetches and verifies a manifest or index by tag or digest. */
  public ManifestPuller.Manifest pullManifest(String repository, String reference, dev.ocirender.image.Digest pinned)
      throws IOException {
    return manifests.pull(repository, reference, pinned);
  }

  /** Downloads a blob into {@code sink}, resuming after breaks; the sink verifies the digest. */
  public void downloadBlob(String repository, Descriptor descriptor, BlobPuller.Sink sink) throws IOException {
    blobs.download(repository, descriptor, sink);
  }

  static String pullScope(String repository) {
    return "repository:" + repository + ":pull";
  }

  /**
   * GETs {@code path} (below the endpoint, e.g. {@code /v2/app/blobs/sha256:…}) with authentication,
   * redirects and retries. Returns a 2xx response whose body the caller must close.
   *
   * @param what the action, for messages: {@code pulling blob sha256:… from localhost:5000/app}
   */
  HttpResponse<InputStream> get(String path, Map<String, String> headers, String scope, String what) throws IOException {
    int failures = 0;
    int authRounds = 0;
    int redirects = 0;
    URI uri = null;
    boolean toRegistry = true;
    while (true) {
      int base = baseIndex;
      if (uri == null) {
        uri = URI.create(bases.get(base).toString().replaceAll("/+$", "") + path);
        toRegistry = true;
      }
      HttpRequest.Builder request = HttpRequest.newBuilder(uri).timeout(options.requestTimeout()).GET();
      headers.forEach(request::header);
      String authorization = toRegistry ? auth.authorization(scope) : null;
      if (authorization != null) {
        request.header("Authorization", authorization);
      }
      HttpResponse<InputStream> response;
      try {
        response = guarded(httpFor(uri).send(request.build(), HttpResponse.BodyHandlers.ofInputStream()));
      } catch (IOException e) {
        if (toRegistry && base + 1 < bases.size() && (e instanceof SSLException || e instanceof ConnectException)
            && "https".equals(uri.getScheme())) {
          // An insecure registry that does not speak TLS: fall back to plain HTTP for good.
          baseIndex = base + 1;
          uri = null;
          continue;
        }
        failures = failed(failures, what, Messages.describe(e), e, null);
        uri = null;
        continue;
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new InterruptedIOException(what + ": interrupted");
      }
      int status = response.statusCode();
      if (status >= 200 && status < 300) {
        return response;
      }
      if (status >= 300 && status < 400 && response.headers().firstValue("Location").isPresent()) {
        discard(response);
        if (++redirects > MAX_REDIRECTS) {
          throw new RegistryException(what + ": more than " + MAX_REDIRECTS + " redirects", status, null);
        }
        URI next = uri.resolve(response.headers().firstValue("Location").get());
        toRegistry = toRegistry && sameEndpoint(uri, next);
        uri = next;
        continue;
      }
      String error = errorText(response);
      if (status == 401 && toRegistry && authRounds++ < MAX_AUTH_ROUNDS) {
        auth.challenged(response.headers().firstValue("WWW-Authenticate").orElse(null), scope, authorization, what);
        continue;
      }
      if (status == 429 || status >= 500) {
        failures = failed(failures, what, error, null, retryAfter(response));
        uri = null;
        continue;
      }
      throw new RegistryException(what + ": " + error, status, null);
    }
  }

  /** A request outside the registry API (the token endpoint): retries, no auth, no redirects to follow. */
  HttpResponse<InputStream> sendUnauthenticated(HttpRequest.Builder request, String what) throws IOException {
    int failures = 0;
    request.timeout(options.requestTimeout());
    while (true) {
      HttpRequest built = request.build();
      HttpResponse<InputStream> response;
      try {
        response = guarded(httpFor(built.uri()).send(built, HttpResponse.BodyHandlers.ofInputStream()));
      } catch (IOException e) {
        failures = failed(failures, what, Messages.describe(e), e, null);
        continue;
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new InterruptedIOException(what + ": interrupted");
      }
      int status = response.statusCode();
      if (status >= 200 && status < 300) {
        return response;
      }
      String error = errorText(response);
      if (status == 429 || status >= 500) {
        failures = failed(failures, what, error, null, retryAfter(response));
        continue;
      }
      throw new RegistryException(what + ": " + error
          + (status == 401 || status == 403 ? " (credentials rejected or missing)" : ""), status, null);
    }
  }

  /**
   * Counts a retryable failure and sleeps before the next attempt, or gives up with the last cause.
   * Also used by the blob download for bodies that break off.
   */
  int failed(int failures, String what, String cause, Throwable exception, Duration retryAfter) throws IOException {
    RetryPolicy retry = options.retry();
    int n = failures + 1;
    if (n >= retry.maxAttempts()) {
      throw new RegistryException(what + ": gave up after " + n + " attempts: " + cause, 0, exception);
    }
    if (retryAfter != null && retryAfter.compareTo(retry.maxRetryAfter()) > 0) {
      throw new RegistryException(what + ": the registry asks to retry after " + retryAfter.toSeconds()
          + " s, longer than the " + retry.maxRetryAfter().toSeconds() + " s allowed: " + cause, 0, exception);
    }
    try {
      Thread.sleep(retry.delay(n, retryAfter).toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException(what + ": interrupted while waiting to retry after: " + cause);
    }
    return n;
  }

  /** {@code response} with a body that times out when it stalls. */
  private HttpResponse<InputStream> guarded(HttpResponse<InputStream> response) {
    InputStream body = new ReadTimeoutInputStream(response.body(), options.readTimeout());
    return new HttpResponse<>() {
      @Override
      public int statusCode() {
        return response.statusCode();
      }

      @Override
      public HttpRequest request() {
        return response.request();
      }

      @Override
      public java.util.Optional<HttpResponse<InputStream>> previousResponse() {
        return response.previousResponse();
      }

      @Override
      public java.net.http.HttpHeaders headers() {
        return response.headers();
      }

      @Override
      public InputStream body() {
        return body;
      }

      @Override
      public java.util.Optional<javax.net.ssl.SSLSession> sslSession() {
        return response.sslSession();
      }

      @Override
      public URI uri() {
        return response.uri();
      }

      @Override
      public HttpClient.Version version() {
        return response.version();
      }
    };
  }

  private HttpClient httpFor(URI uri) {
    return options.isInsecure(registry) ? insecureHttp : secureHttp;
  }

  private static boolean sameEndpoint(URI a, URI b) {
    return Objects.equals(a.getScheme(), b.getScheme()) && a.getHost() != null
        && a.getHost().equalsIgnoreCase(b.getHost()) && port(a) == port(b);
  }

  private static int port(URI u) {
    return u.getPort() >= 0 ? u.getPort() : "https".equals(u.getScheme()) ? 443 : 80;
  }

  static void discard(HttpResponse<InputStream> response) {
    try (InputStream in = response.body()) {
      in.readNBytes(64 << 10);
    } catch (IOException ignored) {
      // Only draining so the connection can be reused.
    }
  }

  /** {@code HTTP 404 (MANIFEST_UNKNOWN: manifest unknown)} from the registry's error JSON when it sent one. */
  static String errorText(HttpResponse<InputStream> response) {
    String detail = "";
    try (InputStream in = response.body()) {
      byte[] body = in.readNBytes(16 << 10);
      JsonNode errors = JsonTemplates.read(body, JsonNode.class).path("errors");
      if (errors.isArray() && errors.size() > 0) {
        JsonNode first = errors.get(0);
        detail = " (" + first.path("code").asText("") + ": " + first.path("message").asText("") + ")";
      }
    } catch (IOException | RuntimeException ignored) {
      // Not JSON: the status alone says enough, and an HTML error page is noise.
    }
    return "HTTP " + response.statusCode() + detail;
  }

  private static Duration retryAfter(HttpResponse<?> response) {
    String value = response.headers().firstValue("Retry-After").orElse(null);
    if (value == null) {
      return null;
    }
    try {
      return Duration.ofSeconds(Math.max(0, Long.parseLong(value.trim())));
    } catch (NumberFormatException e) {
      try {
        ZonedDateTime at = ZonedDateTime.parse(value.trim(), DateTimeFormatter.RFC_1123_DATE_TIME);
        Duration d = Duration.between(ZonedDateTime.now(at.getZone()), at);
        return d.isNegative() ? Duration.ZERO : d;
      } catch (RuntimeException ignored) {
        return null;
      }
    }
  }

  static String utf8(byte[] b) {
    return new String(b, StandardCharsets.UTF_8);
  }
}
