package dev.ocirender.source.registry;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;

/**
 * A small HTTP/1.1 proxy on raw sockets in front of a real registry, for GET and HEAD only (pushes go
 * to the registry directly). It counts requests by path and injects faults on request: error
 * statuses, 429 with Retry-After, a connection reset (RST) or a clean close halfway through a body,
 * a body that stops halfway with the connection left open (until the proxy closes), a corrupted byte,
 * a redirect of blob requests to another server. Raw sockets because a reset and a
 * short body cannot be produced through an HTTP server library.
 */
public final class FaultProxy implements AutoCloseable {

  enum Fault { STATUS_500, STATUS_503, TOO_MANY_REQUESTS, RESET_HALFWAY, TRUNCATE_HALFWAY, STALL_HALFWAY, CORRUPT_BYTE }

  private record Rule(String pathContains, Fault fault) {}

  private final ServerSocket server;
  private final String upstream;
  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .followRedirects(HttpClient.Redirect.NEVER).build();
  private final Deque<Rule> rules = new ArrayDeque<>();
  private final List<String> requests = new CopyOnWriteArrayList<>();
  private volatile boolean always500;
  private final List<String> authorizations = new CopyOnWriteArrayList<>();
  private final Set<Socket> open = ConcurrentHashMap.newKeySet();
  private volatile Function<String, String> redirect;
  private volatile boolean closed;

  /** @param upstream {@code http://127.0.0.1:PORT} of the registry */
  public FaultProxy(String upstream) throws IOException {
    this.upstream = upstream;
    this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    Thread t = new Thread(this::acceptLoop, "fault-proxy");
    t.setDaemon(true);
    t.start();
  }

  public String host() {
    return "127.0.0.1:" + server.getLocalPort();
  }

  /** The next request whose path contains {@code pathContains} gets {@code fault}, once per call. */
  synchronized FaultProxy failNext(String pathContains, Fault fault) {
    rules.addLast(new Rule(pathContains, fault));
    return this;
  }

  /**
   * Every request from now on is answered with 500 and never reaches the upstream: a registry that
   * is broken for good (the upstream need not even exist).
   */
  public FaultProxy failAllWith500() {
    always500 = true;
    return this;
  }

  /** Blob GETs are answered with a 307 to {@code target.apply(path)} instead of being forwarded. */
  void redirectBlobs(Function<String, String> target) {
    redirect = target;
  }

  /** Request lines ({@code GET /v2/...}) seen so far, faults included. */
  public List<String> requests() {
    return List.copyOf(requests);
  }

  long count(String pathContains) {
    return requests.stream().filter(r -> r.contains(pathContains)).count();
  }

  /** The Authorization headers clients sent, in order (null-free: requests without one are not listed). */
  List<String> authorizations() {
    return List.copyOf(authorizations);
  }

  private synchronized Fault takeFault(String path) {
    if (always500) {
      return Fault.STATUS_500;
    }
    for (Rule r : rules) {
      if (path.contains(r.pathContains())) {
        rules.remove(r);
        return r.fault();
      }
    }
    return null;
  }

  private void acceptLoop() {
    while (!closed) {
      try {
        Socket s = server.accept();
        open.add(s);
        Thread t = new Thread(() -> serve(s), "fault-proxy-conn");
        t.setDaemon(true);
        t.start();
      } catch (IOException e) {
        return;
      }
    }
  }

  private void serve(Socket socket) {
    try (socket) {
      InputStream in = new BufferedInputStream(socket.getInputStream());
      OutputStream out = socket.getOutputStream();
      in.mark(1);
      if (in.read() == 0x16) {
        return; // a TLS handshake: this proxy speaks plain HTTP only, and says so by hanging up
      }
      in.reset();
      while (true) {
        String head = readHead(in);
        if (head == null) {
          return;
        }
        String[] lines = head.split("\r\n");
        String[] requestLine = lines[0].split(" ");
        if (requestLine.length < 3) {
          return; // not HTTP (a TLS hello, say)
        }
        String method = requestLine[0];
        String path = requestLine[1];
        Map<String, String> headers = new LinkedHashMap<>();
        for (int i = 1; i < lines.length; i++) {
          int colon = lines[i].indexOf(':');
          if (colon > 0) {
            headers.put(lines[i].substring(0, colon).trim().toLowerCase(Locale.ROOT), lines[i].substring(colon + 1).trim());
          }
        }
        requests.add(method + " " + path + (headers.containsKey("range") ? " [" + headers.get("range") + "]" : ""));
        if (headers.containsKey("authorization")) {
          authorizations.add(headers.get("authorization"));
        }
        if (!handle(method, path, headers, socket, out)) {
          return;
        }
      }
    } catch (IOException e) {
      // The client went away.
    } finally {
      open.remove(socket);
    }
  }

  /** Returns whether the connection stays usable. */
  private boolean handle(String method, String path, Map<String, String> headers, Socket socket, OutputStream out)
      throws IOException {
    Fault fault = takeFault(path);
    if (fault == Fault.STATUS_500 || fault == Fault.STATUS_503) {
      int code = fault == Fault.STATUS_500 ? 500 : 503;
      writeResponse(out, code, code == 500 ? "Internal Server Error" : "Service Unavailable", Map.of(), new byte[0]);
      return true;
    }
    if (fault == Fault.TOO_MANY_REQUESTS) {
      writeResponse(out, 429, "Too Many Requests", Map.of("Retry-After", "1"), new byte[0]);
      return true;
    }
    Function<String, String> r = redirect;
    if (r != null && method.equals("GET") && path.contains("/blobs/sha256:")) {
      writeResponse(out, 307, "Temporary Redirect", Map.of("Location", r.apply(path)), new byte[0]);
      return true;
    }
    HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(upstream + path))
        .method(method, HttpRequest.BodyPublishers.noBody());
    for (String h : List.of("authorization", "accept", "range")) {
      if (headers.containsKey(h)) {
        request.header(h, headers.get(h));
      }
    }
    HttpResponse<byte[]> response;
    try {
      response = http.send(request.build(), HttpResponse.BodyHandlers.ofByteArray());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
    Map<String, String> responseHeaders = new LinkedHashMap<>();
    response.headers().map().forEach((k, v) -> {
      String key = k.toLowerCase(Locale.ROOT);
      if (!Set.of("content-length", "connection", "transfer-encoding", "keep-alive", ":status").contains(key)) {
        responseHeaders.put(k, v.get(0));
      }
    });
    byte[] body = method.equals("HEAD") ? new byte[0] : response.body();
    long declared = method.equals("HEAD")
        ? response.headers().firstValueAsLong("content-length").orElse(0) : body.length;
    if (fault == Fault.CORRUPT_BYTE && body.length > 0) {
      body = body.clone();
      body[body.length / 2] ^= 0x20;
    }
    String status = "HTTP/1.1 " + response.statusCode() + " X\r\n";
    StringBuilder h = new StringBuilder(status);
    responseHeaders.forEach((k, v) -> h.append(k).append(": ").append(v).append("\r\n"));
    h.append("Content-Length: ").append(declared).append("\r\n\r\n");
    out.write(h.toString().getBytes(StandardCharsets.ISO_8859_1));
    if (fault == Fault.STALL_HALFWAY) {
      out.write(body, 0, body.length / 2);
      out.flush();
      while (!closed && !socket.isClosed()) {
        try {
          Thread.sleep(20);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return false;
        }
      }
      return false;
    }
    if (fault == Fault.RESET_HALFWAY || fault == Fault.TRUNCATE_HALFWAY) {
      out.write(body, 0, body.length / 2);
      out.flush();
      if (fault == Fault.RESET_HALFWAY) {
        socket.setSoLinger(true, 0); // close() now sends RST instead of FIN
      }
      return false;
    }
    out.write(body);
    out.flush();
    return true;
  }

  private static void writeResponse(OutputStream out, int code, String reason, Map<String, String> headers, byte[] body)
      throws IOException {
    StringBuilder h = new StringBuilder("HTTP/1.1 " + code + " " + reason + "\r\n");
    headers.forEach((k, v) -> h.append(k).append(": ").append(v).append("\r\n"));
    h.append("Content-Length: ").append(body.length).append("\r\n\r\n");
    out.write(h.toString().getBytes(StandardCharsets.ISO_8859_1));
    out.write(body);
    out.flush();
  }

  private static String readHead(InputStream in) throws IOException {
    ByteArrayOutputStream head = new ByteArrayOutputStream();
    int state = 0;
    while (true) {
      int b = in.read();
      if (b < 0) {
        return null;
      }
      head.write(b);
      state = (b == '\r' && (state == 0 || state == 2)) ? state + 1 : (b == '\n' && (state == 1 || state == 3)) ? state + 1 : 0;
      if (state == 4) {
        return head.toString(StandardCharsets.ISO_8859_1);
      }
      if (head.size() > 64 << 10) {
        return null;
      }
    }
  }

  @Override
  public void close() throws IOException {
    closed = true;
    server.close();
    for (Socket s : new ArrayList<>(open)) {
      s.close();
    }
  }
}
