package dev.ocirender.store;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.CRC32C;

/**
 * A small in-memory server for the parts of the GCS JSON API that the google-cloud-storage client
 * uses for our store: object metadata reads ({@code GET …/o/NAME}), content reads
 * ({@code alt=media}), metadata patches, deletes, media and multipart uploads, and resumable
 * uploads (session start, chunks with {@code Content-Range}, status queries), each with
 * {@code ifGenerationMatch}/{@code ifMetagenerationMatch} preconditions answered with 412.
 *
 * <p>Also what Beam's {@code gs://} filesystem (gcsio, over the same JSON API at
 * {@code --gcsEndpoint}) needs to read a catalog and write results: ranged media reads, object
 * listing by prefix (with delimiter), rewrites (Beam's rename is rewrite then delete) and batch
 * requests ({@code multipart/mixed}, each part answered by sending it to this server again).
 *
 * <p>It exists because no real GCS emulator can run here (none is packaged for Debian or Maven
 * Central in a form that runs without network access or containers), so the client's wire behaviour
 * is checked against this. It can fail the next N chunk uploads with 503 to exercise the client's
 * retry. Loopback only; not a general emulator (no ACLs, versioning, composition, pagination).
 */
public final class FakeGcsServer implements Closeable {

  public record StoredObject(byte[] content, long generation, long metageneration, Map<String, String> metadata, String contentType) {}

  private record Session(String bucket, String name, Map<String, String> metadata, String contentType,
      Long ifGenerationMatch, ByteArrayOutputStream data) {}

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Pattern OBJECT = Pattern.compile("^(?:/download)?/storage/v1/b/([^/]+)/o/(.+)$");
  private static final Pattern UPLOAD = Pattern.compile("^/upload/storage/v1/b/([^/]+)/o$");
  private static final Pattern LIST = Pattern.compile("^/storage/v1/b/([^/]+)/o/?$");
  private static final Pattern REWRITE = Pattern.compile("^/storage/v1/b/([^/]+)/o/([^/]+)/(?:rewriteTo|copyTo)/b/([^/]+)/o/([^/]+)$");
  private static final Pattern BUCKET = Pattern.compile("^/storage/v1/b/([^/]+)/?$");
  private static final Pattern BYTES = Pattern.compile("bytes=(\\d+)-(\\d*)");
  private static final Pattern RANGE = Pattern.compile("bytes (\\*|(\\d+)-(\\d+))/(\\*|\\d+)");

  final Map<String, StoredObject> objects = new ConcurrentHashMap<>();
  private final Map<String, Session> sessions = new ConcurrentHashMap<>();
  private final AtomicLong generations = new AtomicLong(1_000);
  private final AtomicInteger sessionIds = new AtomicInteger();
  /** How many coming chunk uploads to answer with 503 before storing anything. */
  final AtomicInteger failNextChunks = new AtomicInteger();
  final AtomicInteger served503 = new AtomicInteger();
  final List<String> requests = Collections.synchronizedList(new ArrayList<>());
  private final HttpServer server;

  public FakeGcsServer() throws IOException {
    server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    server.createContext("/", this::handle);
    // Several threads: a batch request's parts are sent back to this server while the batch waits.
    server.setExecutor(Executors.newCachedThreadPool(r -> {
      Thread t = new Thread(r, "fake-gcs");
      t.setDaemon(true);
      return t;
    }));
    server.start();
  }

  public String host() {
    return "http://127.0.0.1:" + server.getAddress().getPort();
  }

  public void put(String bucket, String name, byte[] content, Map<String, String> metadata) {
    objects.put(bucket + "/" + name, new StoredObject(content, generations.incrementAndGet(), 1, metadata, "application/octet-stream"));
  }

  public StoredObject get(String bucket, String name) {
    return objects.get(bucket + "/" + name);
  }

  /** The names of the objects in {@code bucket}, sorted. */
  public List<String> names(String bucket) {
    return objects.keySet().stream().filter(k -> k.startsWith(bucket + "/")).map(k -> k.substring(bucket.length() + 1)).sorted().toList();
  }

  /** Every request served so far, as "METHOD PATH [query names]", in order. */
  public List<String> requests() {
    synchronized (requests) {
      return List.copyOf(requests);
    }
  }

  @Override
  public void close() {
    server.stop(0);
  }

  private void handle(HttpExchange ex) throws IOException {
    try {
      String path = ex.getRequestURI().getRawPath();
      Map<String, String> query = query(ex.getRequestURI().getRawQuery());
      requests.add(ex.getRequestMethod() + " " + path + (query.isEmpty() ? "" : " " + query.keySet()));
      Matcher obj = OBJECT.matcher(path);
      Matcher up = UPLOAD.matcher(path);
      Matcher list = LIST.matcher(path);
      Matcher rewrite = REWRITE.matcher(path);
      Matcher bucket = BUCKET.matcher(path);
      if (path.equals("/batch/storage/v1") && "POST".equals(ex.getRequestMethod())) {
        batch(ex);
      } else if (rewrite.matches() && "POST".equals(ex.getRequestMethod())) {
        rewrite(ex, rewrite.group(1) + "/" + decode(rewrite.group(2)), rewrite.group(3) + "/" + decode(rewrite.group(4)));
      } else if (list.matches() && "GET".equals(ex.getRequestMethod())) {
        list(ex, list.group(1), query);
      } else if (bucket.matches() && "GET".equals(ex.getRequestMethod())) {
        ObjectNode b = JSON.createObjectNode().put("kind", "storage#bucket").put("id", bucket.group(1)).put("name", bucket.group(1));
        send(ex, 200, b);
      } else if (obj.matches()) {
        String key = obj.group(1) + "/" + decode(obj.group(2));
        // The JDK's HttpURLConnection cannot send PATCH; the client tunnels it through POST.
        String override = ex.getRequestHeaders().getFirst("X-HTTP-Method-Override");
        switch (override != null ? override : ex.getRequestMethod()) {
          case "GET" -> getObject(ex, key, query);
          case "PATCH", "PUT" -> patchObject(ex, key, query);
          case "DELETE" -> deleteObject(ex, key, query);
          default -> send(ex, 405, null);
        }
      } else if (up.matches() && "POST".equals(ex.getRequestMethod())) {
        upload(ex, up.group(1), query);
      } else if (up.matches() && "PUT".equals(ex.getRequestMethod()) && query.containsKey("upload_id")) {
        chunk(ex, query.get("upload_id"));
      } else {
        send(ex, 404, error(404, "no route " + ex.getRequestMethod() + " " + path));
      }
    } catch (RuntimeException | IOException e) {
      e.printStackTrace();
      send(ex, 500, error(500, e.toString()));
    } finally {
      ex.close();
    }
  }

  private void getObject(HttpExchange ex, String key, Map<String, String> q) throws IOException {
    StoredObject o = objects.get(key);
    if (o == null) {
      send(ex, 404, error(404, "No such object: " + key));
    } else if (!preconditionsHold(o, q)) {
      send(ex, 412, error(412, "conditionNotMet"));
    } else if ("media".equals(q.get("alt"))) {
      ex.getResponseHeaders().add("Content-Type", o.contentType());
      ex.getResponseHeaders().add("x-goog-generation", Long.toString(o.generation()));
      String range = ex.getRequestHeaders().getFirst("Range");
      Matcher r = range == null ? null : BYTES.matcher(range);
      if (r != null && r.matches() && o.content().length > 0) {
        // gcsio's read channel asks for a range; answer it as GCS does (206 and Content-Range).
        int first = (int) Math.min(Long.parseLong(r.group(1)), o.content().length);
        int last = r.group(2).isEmpty() ? o.content().length - 1 : (int) Math.min(Long.parseLong(r.group(2)), o.content().length - 1);
        if (first > last) {
          send(ex, 416, error(416, "requested range not satisfiable"));
          return;
        }
        ex.getResponseHeaders().add("Content-Range", "bytes " + first + "-" + last + "/" + o.content().length);
        ex.sendResponseHeaders(206, last - first + 1);
        ex.getResponseBody().write(o.content(), first, last - first + 1);
        return;
      }
      ex.sendResponseHeaders(200, o.content().length == 0 ? -1 : o.content().length);
      ex.getResponseBody().write(o.content());
    } else {
      send(ex, 200, resource(key, o));
    }
  }

  private void patchObject(HttpExchange ex, String key, Map<String, String> q) throws IOException {
    StoredObject o = objects.get(key);
    if (o == null) {
      send(ex, 404, error(404, "No such object: " + key));
      return;
    }
    if (!preconditionsHold(o, q)) {
      send(ex, 412, error(412, "conditionNotMet"));
      return;
    }
    JsonNode body = JSON.readTree(body(ex));
    Map<String, String> metadata = new LinkedHashMap<>(o.metadata());
    if (body.has("metadata")) {
      body.get("metadata").fields().forEachRemaining(e -> {
        if (e.getValue().isNull()) {
          metadata.remove(e.getKey());
        } else {
          metadata.put(e.getKey(), e.getValue().asText());
        }
      });
    }
    StoredObject updated = new StoredObject(o.content(), o.generation(), o.metageneration() + 1, metadata, o.contentType());
    objects.put(key, updated);
    send(ex, 200, resource(key, updated));
  }

  private void deleteObject(HttpExchange ex, String key, Map<String, String> q) throws IOException {
    StoredObject o = objects.get(key);
    if (o == null) {
      send(ex, 404, error(404, "No such object: " + key));
    } else if (!preconditionsHold(o, q)) {
      send(ex, 412, error(412, "conditionNotMet"));
    } else {
      objects.remove(key);
      send(ex, 204, null);
    }
  }

  private void upload(HttpExchange ex, String bucket, Map<String, String> q) throws IOException {
    String type = q.getOrDefault("uploadType", "");
    byte[] body = body(ex);
    Long ifGen = q.containsKey("ifGenerationMatch") ? Long.valueOf(q.get("ifGenerationMatch")) : null;
    switch (type) {
      case "resumable" -> {
        JsonNode meta = body.length == 0 ? JSON.createObjectNode() : JSON.readTree(body);
        String name = meta.has("name") ? meta.get("name").asText() : q.get("name");
        String id = "s" + sessionIds.incrementAndGet();
        sessions.put(id, new Session(bucket, name, metadataOf(meta), contentType(meta), ifGen, new ByteArrayOutputStream()));
        ex.getResponseHeaders().add("Location", host() + "/upload/storage/v1/b/" + bucket + "/o?uploadType=resumable&upload_id=" + id);
        send(ex, 200, null);
      }
      case "media" -> finish(ex, bucket, q.get("name"), Map.of(), "application/octet-stream", ifGen, body);
      case "multipart" -> {
        String ct = ex.getRequestHeaders().getFirst("Content-Type");
        String boundary = "--" + ct.substring(ct.indexOf("boundary=") + 9).replace("\"", "").strip();
        List<byte[]> parts = splitMultipart(body, boundary.getBytes(StandardCharsets.ISO_8859_1));
        JsonNode meta = JSON.readTree(parts.get(0));
        finish(ex, bucket, meta.get("name").asText(), metadataOf(meta), contentType(meta), ifGen, parts.get(1));
      }
      default -> send(ex, 400, error(400, "uploadType " + type));
    }
  }

  private void chunk(HttpExchange ex, String id) throws IOException {
    Session s = sessions.get(id);
    byte[] body = body(ex);
    if (s == null) {
      send(ex, 404, error(404, "no upload session " + id));
      return;
    }
    String header = ex.getRequestHeaders().getFirst("Content-Range");
    Matcher m = header == null ? null : RANGE.matcher(header);
    if (m == null || !m.find()) {
      send(ex, 400, error(400, "bad Content-Range " + header));
      return;
    }
    boolean statusQuery = m.group(1).equals("*");
    if (!statusQuery && failNextChunks.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
      served503.incrementAndGet();
      send(ex, 503, error(503, "try again"));
      return;
    }
    if (!statusQuery) {
      long first = Long.parseLong(m.group(2));
      int have = s.data().size();
      if (first > have) {
        send(ex, 400, error(400, "gap: have " + have + ", chunk starts at " + first));
        return;
      }
      // A resent chunk may overlap what is already committed; keep only the new tail.
      int skip = (int) (have - first);
      if (skip < body.length) {
        s.data().write(body, skip, body.length - skip);
      }
    }
    String total = m.group(4);
    if (!total.equals("*") && Long.parseLong(total) == s.data().size()) {
      sessions.remove(id);
      finish(ex, s.bucket(), s.name(), s.metadata(), s.contentType(), s.ifGenerationMatch(), s.data().toByteArray());
      return;
    }
    if (s.data().size() > 0) {
      ex.getResponseHeaders().add("Range", "bytes=0-" + (s.data().size() - 1));
    }
    send(ex, 308, null);
  }

  private void finish(HttpExchange ex, String bucket, String name, Map<String, String> metadata, String contentType,
      Long ifGen, byte[] content) throws IOException {
    String key = bucket + "/" + name;
    synchronized (objects) {
      StoredObject existing = objects.get(key);
      long current = existing == null ? 0 : existing.generation();
      if (ifGen != null && ifGen != current) {
        send(ex, 412, error(412, "conditionNotMet: ifGenerationMatch=" + ifGen + ", generation is " + current));
        return;
      }
      StoredObject o = new StoredObject(content, generations.incrementAndGet(), 1, metadata, contentType);
      objects.put(key, o);
      send(ex, 200, resource(key, o));
    }
  }

  /** {@code objects.list}: every object of the bucket under {@code prefix}, one page; with a delimiter, the "directories". */
  private void list(HttpExchange ex, String bucket, Map<String, String> q) throws IOException {
    String prefix = q.getOrDefault("prefix", "");
    String delimiter = q.get("delimiter");
    ObjectNode n = JSON.createObjectNode().put("kind", "storage#objects");
    java.util.TreeSet<String> prefixes = new java.util.TreeSet<>();
    List<String> keys = new ArrayList<>(objects.keySet());
    Collections.sort(keys);
    for (String key : keys) {
      String name = key.substring(key.indexOf('/') + 1);
      if (!key.startsWith(bucket + "/") || !name.startsWith(prefix)) {
        continue;
      }
      int cut = delimiter == null || delimiter.isEmpty() ? -1 : name.indexOf(delimiter, prefix.length());
      if (cut >= 0) {
        prefixes.add(name.substring(0, cut + delimiter.length()));
      } else {
        StoredObject o = objects.get(key);
        if (o != null) {
          n.withArray("items").add(resource(key, o));
        }
      }
    }
    prefixes.forEach(p -> n.withArray("prefixes").add(p));
    send(ex, 200, n);
  }

  /** {@code objects.rewrite} (and {@code copy}), done in one call. */
  private void rewrite(HttpExchange ex, String from, String to) throws IOException {
    body(ex);
    StoredObject o = objects.get(from);
    if (o == null) {
      send(ex, 404, error(404, "No such object: " + from));
      return;
    }
    StoredObject copy = new StoredObject(o.content(), generations.incrementAndGet(), 1, o.metadata(), o.contentType());
    objects.put(to, copy);
    ObjectNode n = JSON.createObjectNode().put("kind", "storage#rewriteResponse").put("done", true)
        .put("totalBytesRewritten", Long.toString(o.content().length)).put("objectSize", Long.toString(o.content().length));
    n.set("resource", resource(to, copy));
    // copy answers with the new object; rewrite with a response that says it is done and holds it.
    send(ex, 200, ex.getRequestURI().getRawPath().contains("/copyTo/") ? resource(to, copy) : n);
  }

  /**
   * A JSON API batch ({@code multipart/mixed} of {@code application/http} parts): each part is sent
   * to this server as its own request, and the answers go back as one {@code multipart/mixed}.
   */
  private void batch(HttpExchange ex) throws IOException {
    String ct = ex.getRequestHeaders().getFirst("Content-Type");
    String boundary = "--" + ct.substring(ct.indexOf("boundary=") + 9).replace("\"", "").strip();
    java.net.http.HttpClient http = java.net.http.HttpClient.newHttpClient();
    StringBuilder out = new StringBuilder();
    String answerBoundary = "batch_fake_gcs";
    for (byte[] part : splitMultipart(body(ex), boundary.getBytes(StandardCharsets.ISO_8859_1))) {
      // The part's own headers are gone (splitMultipart); what is left is the inner HTTP request.
      String inner = new String(part, StandardCharsets.ISO_8859_1);
      int headEnd = inner.indexOf("\r\n\r\n");
      String[] head = (headEnd < 0 ? inner : inner.substring(0, headEnd)).split("\r\n");
      byte[] innerBody = headEnd < 0 ? new byte[0] : inner.substring(headEnd + 4).getBytes(StandardCharsets.ISO_8859_1);
      String[] requestLine = head[0].split(" ");
      java.net.URI target = java.net.URI.create(requestLine[1]);
      java.net.http.HttpRequest.Builder request = java.net.http.HttpRequest.newBuilder(
          java.net.URI.create(host() + target.getRawPath() + (target.getRawQuery() == null ? "" : "?" + target.getRawQuery())))
          .method(requestLine[0], java.net.http.HttpRequest.BodyPublishers.ofByteArray(innerBody));
      for (int i = 1; i < head.length; i++) {
        int colon = head[i].indexOf(':');
        String name = head[i].substring(0, colon).strip();
        if (!name.equalsIgnoreCase("content-length") && !name.equalsIgnoreCase("host")) {
          request.header(name, head[i].substring(colon + 1).strip());
        }
      }
      java.net.http.HttpResponse<byte[]> answer;
      try {
        answer = http.send(request.build(), java.net.http.HttpResponse.BodyHandlers.ofByteArray());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException(e);
      }
      out.append("--").append(answerBoundary).append("\r\nContent-Type: application/http\r\n\r\n")
          .append("HTTP/1.1 ").append(answer.statusCode()).append(answer.statusCode() < 300 ? " OK" : " Error").append("\r\n")
          .append("Content-Type: application/json; charset=UTF-8\r\n")
          .append("Content-Length: ").append(answer.body().length).append("\r\n\r\n")
          .append(new String(answer.body(), StandardCharsets.ISO_8859_1)).append("\r\n");
    }
    out.append("--").append(answerBoundary).append("--\r\n");
    byte[] bytes = out.toString().getBytes(StandardCharsets.ISO_8859_1);
    ex.getResponseHeaders().add("Content-Type", "multipart/mixed; boundary=" + answerBoundary);
    ex.sendResponseHeaders(200, bytes.length);
    try (OutputStream o = ex.getResponseBody()) {
      o.write(bytes);
    }
  }

  private static boolean preconditionsHold(StoredObject o, Map<String, String> q) {
    if (q.containsKey("ifGenerationMatch") && Long.parseLong(q.get("ifGenerationMatch")) != o.generation()) {
      return false;
    }
    return !q.containsKey("ifMetagenerationMatch") || Long.parseLong(q.get("ifMetagenerationMatch")) == o.metageneration();
  }

  private static ObjectNode resource(String key, StoredObject o) {
    int slash = key.indexOf('/');
    ObjectNode n = JSON.createObjectNode();
    n.put("kind", "storage#object");
    n.put("id", key + "/" + o.generation());
    n.put("bucket", key.substring(0, slash));
    n.put("name", key.substring(slash + 1));
    n.put("generation", Long.toString(o.generation()));
    n.put("metageneration", Long.toString(o.metageneration()));
    n.put("size", Long.toString(o.content().length));
    n.put("contentType", o.contentType());
    CRC32C crc = new CRC32C();
    crc.update(o.content());
    n.put("crc32c", GcsOutputStore.crc32cBase64(crc.getValue()));
    try {
      n.put("md5Hash", Base64.getEncoder().encodeToString(MessageDigest.getInstance("MD5").digest(o.content())));
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
    n.put("timeCreated", "2026-01-01T00:00:00.000Z");
    n.put("updated", "2026-01-01T00:00:00.000Z");
    if (!o.metadata().isEmpty()) {
      ObjectNode meta = n.putObject("metadata");
      o.metadata().forEach(meta::put);
    }
    return n;
  }

  private static Map<String, String> metadataOf(JsonNode meta) {
    Map<String, String> out = new LinkedHashMap<>();
    if (meta.has("metadata")) {
      meta.get("metadata").fields().forEachRemaining(e -> out.put(e.getKey(), e.getValue().asText()));
    }
    return out;
  }

  private static String contentType(JsonNode meta) {
    return meta.has("contentType") ? meta.get("contentType").asText() : "application/octet-stream";
  }

  private static ObjectNode error(int code, String message) {
    ObjectNode n = JSON.createObjectNode();
    ObjectNode e = n.putObject("error");
    e.put("code", code);
    e.put("message", message);
    e.putArray("errors").addObject().put("message", message).put("reason", code == 412 ? "conditionNotMet" : "backendError");
    return n;
  }

  private static void send(HttpExchange ex, int status, JsonNode body) throws IOException {
    if (body == null) {
      ex.sendResponseHeaders(status, -1);
      return;
    }
    byte[] bytes = JSON.writeValueAsBytes(body);
    ex.getResponseHeaders().add("Content-Type", "application/json; charset=UTF-8");
    ex.sendResponseHeaders(status, bytes.length);
    try (OutputStream out = ex.getResponseBody()) {
      out.write(bytes);
    }
  }

  /** The request body; the client gzips JSON bodies. */
  private static byte[] body(HttpExchange ex) throws IOException {
    byte[] raw = ex.getRequestBody().readAllBytes();
    if ("gzip".equalsIgnoreCase(ex.getRequestHeaders().getFirst("Content-Encoding"))) {
      return new java.util.zip.GZIPInputStream(new java.io.ByteArrayInputStream(raw)).readAllBytes();
    }
    return raw;
  }

  private static Map<String, String> query(String raw) {
    Map<String, String> out = new HashMap<>();
    if (raw == null) {
      return out;
    }
    for (String pair : raw.split("&")) {
      int eq = pair.indexOf('=');
      out.put(decode(eq < 0 ? pair : pair.substring(0, eq)), eq < 0 ? "" : decode(pair.substring(eq + 1)));
    }
    return out;
  }

  private static String decode(String s) {
    return URLDecoder.decode(s.replace("+", "%2B"), StandardCharsets.UTF_8);
  }

  /** The bodies of a multipart/related request, headers stripped. */
  private static List<byte[]> splitMultipart(byte[] body, byte[] boundary) {
    List<byte[]> parts = new ArrayList<>();
    int pos = indexOf(body, boundary, 0);
    while (pos >= 0) {
      int start = pos + boundary.length;
      if (start + 1 < body.length && body[start] == '-' && body[start + 1] == '-') {
        break;
      }
      int headersEnd = indexOf(body, "\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1), start);
      int next = indexOf(body, boundary, headersEnd);
      int end = next - 2; // the CRLF before the boundary
      byte[] part = new byte[end - (headersEnd + 4)];
      System.arraycopy(body, headersEnd + 4, part, 0, part.length);
      parts.add(part);
      pos = next;
    }
    return parts;
  }

  private static int indexOf(byte[] haystack, byte[] needle, int from) {
    outer:
    for (int i = Math.max(0, from); i <= haystack.length - needle.length; i++) {
      for (int j = 0; j < needle.length; j++) {
        if (haystack[i + j] != needle[j]) {
          continue outer;
        }
      }
      return i;
    }
    return -1;
  }
}
