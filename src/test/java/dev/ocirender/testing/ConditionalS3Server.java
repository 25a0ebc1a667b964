package dev.ocirender.testing;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import javax.xml.parsers.DocumentBuilderFactory;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

/**
 * An in-memory server for the part of the S3 REST API that s3rver (the real S3 implementation the
 * other S3 tests use) does not implement: conditional writes and server-side part copies. s3rver
 * ignores {@code If-None-Match}/{@code If-Match} on PutObject and CompleteMultipartUpload and
 * {@code x-amz-copy-source-if-match} on CopyObject, and answers UploadPartCopy with NotImplemented.
 *
 * <p>Speaks the wire protocol of AWS S3 as documented, for path-style requests: HeadObject, GetObject,
 * PutObject, DeleteObject, CopyObject (PutObject and CopyObject with {@code If-None-Match: *} or {@code If-Match: ETAG}: 412
 * PreconditionFailed when it does not hold, 404 NoSuchKey for If-Match on a missing key; CopyObject
 * with {@code x-amz-copy-source-if-match} and a source above the copy limit refused with
 * InvalidRequest, as AWS does above 5 GiB), CreateMultipartUpload, UploadPart, UploadPartCopy (with
 * ranges and {@code x-amz-copy-source-if-match}), CompleteMultipartUpload (with the same conditions;
 * a failed condition keeps the upload, as on AWS, so the client must abort it; parts other than the
 * last below 5 MiB are EntityTooSmall) and AbortMultipartUpload. Errors are S3's XML error bodies,
 * ETags are S3's (MD5 of the content; MD5 of the parts' MD5s and "-N" for multipart objects). Each
 * write is decided under one lock, so a condition is checked and applied atomically, as S3 does.
 *
 * <p>Not S3: requests are not authenticated (signatures are ignored), no buckets API (any bucket
 * exists), no versioning, no listing. For a test of a race it can hold conditional writes until a
 * number of them have arrived ({@link #holdConditionalWrites}), and answer a failed condition with
 * 409 ConditionalRequestConflict, what AWS answers when the conflicting write was concurrent.
 */
public final class ConditionalS3Server implements AutoCloseable {

  /** S3's smallest part except the last. */
  private static final int MIN_PART_SIZE = 5 << 20;
  private static final AtomicInteger REQUESTS = new AtomicInteger();
  private static final DateTimeFormatter HTTP_DATE = DateTimeFormatter.RFC_1123_DATE_TIME.withZone(ZoneOffset.UTC);

  private final HttpServer http;
  private final long copyLimit;
  private final Map<String, StoredObject> objects = new HashMap<>();
  private final Map<String, MultipartUpload> uploads = new HashMap<>();
  private final List<String> operations = new ArrayList<>();
  private volatile CountDownLatch gate;
  private volatile boolean conflictAs409;
  private final Map<String, Runnable> before = new java.util.concurrent.ConcurrentHashMap<>();

  private record StoredObject(byte[] data, Map<String, String> metadata, String contentType, String etag, Instant modified) {}

  private record Part(byte[] data, String etag) {}

  private record MultipartUpload(String name, Map<String, String> metadata, String contentType, Map<Integer, Part> parts) {}

  /** An S3 error answer: status, S3 error code, message. */
  private static final class S3Error extends Exception {
    final int status;
    final String code;

    S3Error(int status, String code, String message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  private ConditionalS3Server(long copyLimit) throws IOException {
    this.copyLimit = copyLimit;
    http = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    http.setExecutor(Executors.newCachedThreadPool(r -> {
      Thread t = new Thread(r, "conditional-s3");
      t.setDaemon(true);
      return t;
    }));
    http.createContext("/", this::handle);
    http.start();
  }

  /** A server on 127.0.0.1 whose CopyObject takes sources up to {@code copyLimit} bytes (AWS: 5 GiB). */
  public static ConditionalS3Server start(long copyLimit) throws IOException {
    return new ConditionalS3Server(copyLimit);
  }

  public String endpoint() {
    return "http://127.0.0.1:" + http.getAddress().getPort();
  }

  /** The pipeline options that reach this server (any credentials do: signatures are not checked). */
  public List<String> pipelineOptions() {
    return List.of("--endpoint=" + endpoint(), "--awsRegion=us-east-1", "--s3PathStyleAccess=true",
        "--awsCredentialsProvider={\"@type\":\"StaticCredentialsProvider\",\"accessKeyId\":\"test\",\"secretAccessKey\":\"test\"}");
  }

  /** The next {@code writers} conditional PutObject/CompleteMultipartUpload requests wait until all have arrived. */
  public void holdConditionalWrites(int writers) {
    gate = new CountDownLatch(writers);
  }

  /** Answer a failed write condition with 409 ConditionalRequestConflict (a concurrent writer) instead of 412. */
  public void answerConflictsWith409(boolean on) {
    conflictAs409 = on;
  }

  /**
   * Runs {@code action} once, just before the next {@code operation} ("UploadPartCopy", ...) is served:
   * another writer acting between two requests of the client under test.
   */
  public void beforeNext(String operation, Runnable action) {
    before.put(operation, action);
  }

  /**
   * The operations served so far, by S3 name ("PutObject", "UploadPartCopy", ...), in order; a write
   * refused for its condition is followed by "PreconditionFailed" or "ConditionalRequestConflict".
   */
  public synchronized List<String> operations() {
    return List.copyOf(operations);
  }

  /** Multipart uploads neither completed nor aborted. */
  public synchronized int openUploads() {
    return uploads.size();
  }

  @Override
  public void close() {
    http.stop(0);
    ((java.util.concurrent.ExecutorService) http.getExecutor()).shutdownNow();
  }

  private void handle(HttpExchange ex) throws IOException {
    try (ex) {
      byte[] body = ex.getRequestBody().readAllBytes();
      String path = ex.getRequestURI().getPath();
      Map<String, String> query = query(ex.getRequestURI().getRawQuery());
      try {
        if (path.indexOf('/', 1) < 0) {
          throw new S3Error(501, "NotImplemented", "only object requests are implemented here");
        }
        String name = path.substring(1); // bucket/key
        String method = ex.getRequestMethod();
        String copySource = ex.getRequestHeaders().getFirst("x-amz-copy-source");
        if (method.equals("HEAD") || method.equals("GET")) {
          getObject(ex, name, method.equals("HEAD"));
        } else if (method.equals("PUT") && query.containsKey("uploadId") && copySource != null) {
          uploadPartCopy(ex, name, query, copySource);
        } else if (method.equals("PUT") && query.containsKey("uploadId")) {
          uploadPart(ex, query, body);
        } else if (method.equals("PUT") && copySource != null) {
          copyObject(ex, name, copySource);
        } else if (method.equals("PUT") && query.isEmpty()) {
          putObject(ex, name, body);
        } else if (method.equals("POST") && query.containsKey("uploads")) {
          createMultipartUpload(ex, name);
        } else if (method.equals("POST") && query.containsKey("uploadId")) {
          completeMultipartUpload(ex, name, query.get("uploadId"), body);
        } else if (method.equals("DELETE") && query.containsKey("uploadId")) {
          abortMultipartUpload(ex, query.get("uploadId"));
        } else if (method.equals("DELETE") && query.isEmpty()) {
          deleteObject(ex, name);
        } else {
          throw new S3Error(501, "NotImplemented", "A header or parameter you provided implies functionality that is not implemented");
        }
      } catch (S3Error e) {
        sendError(ex, e, path);
      }
    }
  }

  private void getObject(HttpExchange ex, String name, boolean headOnly) throws IOException, S3Error {
    StoredObject o;
    synchronized (this) {
      operations.add(headOnly ? "HeadObject" : "GetObject");
      o = objects.get(name);
    }
    if (o == null) {
      if (headOnly) { // HEAD answers carry no body
        ex.sendResponseHeaders(404, -1);
        return;
      }
      throw new S3Error(404, "NoSuchKey", "The specified key does not exist.");
    }
    ex.getResponseHeaders().add("ETag", o.etag);
    ex.getResponseHeaders().add("Last-Modified", HTTP_DATE.format(o.modified));
    ex.getResponseHeaders().add("Content-Type", o.contentType);
    o.metadata.forEach((k, v) -> ex.getResponseHeaders().add("x-amz-meta-" + k, v));
    if (headOnly) {
      ex.getResponseHeaders().add("Content-Length", Long.toString(o.data.length));
      ex.sendResponseHeaders(200, -1);
    } else {
      ex.sendResponseHeaders(200, o.data.length == 0 ? -1 : o.data.length);
      ex.getResponseBody().write(o.data);
    }
  }

  private void putObject(HttpExchange ex, String name, byte[] body) throws IOException, S3Error {
    runHook("PutObject");
    awaitOtherWriters(ex);
    StoredObject o;
    synchronized (this) {
      operations.add("PutObject");
      checkWriteCondition(ex, name);
      o = new StoredObject(body, metadata(ex), contentType(ex), quoted(md5(body)), Instant.now());
      objects.put(name, o);
    }
    ex.getResponseHeaders().add("ETag", o.etag);
    ex.sendResponseHeaders(200, -1);
  }

  private void copyObject(HttpExchange ex, String name, String copySource) throws IOException, S3Error {
    runHook("CopyObject");
    StoredObject copy;
    synchronized (this) {
      operations.add("CopyObject");
      StoredObject source = copySource(ex, copySource);
      if (source.data.length > copyLimit) {
        throw new S3Error(400, "InvalidRequest",
            "The specified copy source is larger than the maximum allowable size for a copy source: " + copyLimit);
      }
      boolean replace = "REPLACE".equals(ex.getRequestHeaders().getFirst("x-amz-metadata-directive"));
      if (!replace && name.equals(sourceName(copySource))) {
        throw new S3Error(400, "InvalidRequest", "This copy request is illegal because it is trying to copy an object to itself "
            + "without changing the object's metadata, storage class, website redirect location or encryption attributes.");
      }
      checkWriteCondition(ex, name);
      // The copy has the source's ETag (one part) or a new one for multipart sources, as AWS gives.
      String etag = source.etag.contains("-") ? quoted(md5(source.data)) : source.etag;
      copy = new StoredObject(source.data, replace ? metadata(ex) : source.metadata,
          replace ? contentType(ex) : source.contentType, etag, Instant.now());
      objects.put(name, copy);
    }
    sendXml(ex, 200, "<CopyObjectResult><LastModified>" + copy.modified + "</LastModified><ETag>" + xmlEscape(copy.etag)
        + "</ETag></CopyObjectResult>");
  }

  private void createMultipartUpload(HttpExchange ex, String name) throws IOException {
    String id = UUID.randomUUID().toString().replace("-", "");
    synchronized (this) {
      operations.add("CreateMultipartUpload");
      uploads.put(id, new MultipartUpload(name, metadata(ex), contentType(ex), new TreeMap<>()));
    }
    int slash = name.indexOf('/');
    sendXml(ex, 200, "<InitiateMultipartUploadResult><Bucket>" + xmlEscape(name.substring(0, slash)) + "</Bucket><Key>"
        + xmlEscape(name.substring(slash + 1)) + "</Key><UploadId>" + id + "</UploadId></InitiateMultipartUploadResult>");
  }

  private void uploadPart(HttpExchange ex, Map<String, String> query, byte[] body) throws IOException, S3Error {
    Part part = new Part(body, quoted(md5(body)));
    synchronized (this) {
      operations.add("UploadPart");
      upload(query.get("uploadId")).parts.put(partNumber(query), part);
    }
    ex.getResponseHeaders().add("ETag", part.etag);
    ex.sendResponseHeaders(200, -1);
  }

  private void uploadPartCopy(HttpExchange ex, String name, Map<String, String> query, String copySource) throws IOException, S3Error {
    runHook("UploadPartCopy");
    Part part;
    synchronized (this) {
      operations.add("UploadPartCopy");
      MultipartUpload upload = upload(query.get("uploadId"));
      StoredObject source = copySource(ex, copySource);
      byte[] data = source.data;
      String range = ex.getRequestHeaders().getFirst("x-amz-copy-source-range");
      if (range != null) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("bytes=(\\d+)-(\\d+)").matcher(range);
        if (!m.matches() || Long.parseLong(m.group(2)) >= data.length || Long.parseLong(m.group(1)) > Long.parseLong(m.group(2))) {
          throw new S3Error(400, "InvalidArgument", "The x-amz-copy-source-range value must be of the form bytes=first-last "
              + "where first and last are the zero-based offsets of the first and last bytes to copy");
        }
        data = java.util.Arrays.copyOfRange(data, Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)) + 1);
      }
      part = new Part(data, quoted(md5(data)));
      upload.parts.put(partNumber(query), part);
    }
    sendXml(ex, 200, "<CopyPartResult><LastModified>" + Instant.now() + "</LastModified><ETag>" + xmlEscape(part.etag)
        + "</ETag></CopyPartResult>");
  }

  private void completeMultipartUpload(HttpExchange ex, String name, String uploadId, byte[] body) throws IOException, S3Error {
    List<int[]> wanted = new ArrayList<>(); // part number, index into etags
    List<String> etags = new ArrayList<>();
    try {
      Document doc = DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(new ByteArrayInputStream(body));
      NodeList parts = doc.getElementsByTagName("Part");
      for (int i = 0; i < parts.getLength(); i++) {
        Element p = (Element) parts.item(i);
        wanted.add(new int[] {Integer.parseInt(p.getElementsByTagName("PartNumber").item(0).getTextContent().trim()), i});
        etags.add(p.getElementsByTagName("ETag").item(0).getTextContent().trim());
      }
    } catch (Exception e) {
      throw new S3Error(400, "MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema");
    }
    awaitOtherWriters(ex);
    StoredObject o;
    synchronized (this) {
      operations.add("CompleteMultipartUpload");
      MultipartUpload upload = upload(uploadId);
      if (wanted.isEmpty()) {
        throw new S3Error(400, "MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema");
      }
      ByteArrayOutputStream data = new ByteArrayOutputStream();
      ByteArrayOutputStream md5s = new ByteArrayOutputStream();
      int previous = 0;
      for (int i = 0; i < wanted.size(); i++) {
        int number = wanted.get(i)[0];
        if (number <= previous) {
          throw new S3Error(400, "InvalidPartOrder", "The list of parts was not in ascending order. The parts list must be specified in order by part number.");
        }
        previous = number;
        Part part = upload.parts.get(number);
        if (part == null || !unquoted(part.etag).equals(unquoted(etags.get(i)))) {
          throw new S3Error(400, "InvalidPart", "One or more of the specified parts could not be found. The part might not have been "
              + "uploaded, or the specified entity tag might not have matched the part's entity tag.");
        }
        if (i < wanted.size() - 1 && part.data.length < MIN_PART_SIZE) {
          throw new S3Error(400, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed object size.");
        }
        data.writeBytes(part.data);
        md5s.writeBytes(HexFormat.of().parseHex(unquoted(part.etag)));
      }
      checkWriteCondition(ex, name); // a failed condition leaves the upload in place, as AWS does
      o = new StoredObject(data.toByteArray(), upload.metadata, upload.contentType,
          quoted(md5(md5s.toByteArray()) + "-" + wanted.size()), Instant.now());
      objects.put(name, o);
      uploads.remove(uploadId);
    }
    int slash = name.indexOf('/');
    sendXml(ex, 200, "<CompleteMultipartUploadResult><Location>" + endpoint() + "/" + xmlEscape(name) + "</Location><Bucket>"
        + xmlEscape(name.substring(0, slash)) + "</Bucket><Key>" + xmlEscape(name.substring(slash + 1)) + "</Key><ETag>"
        + xmlEscape(o.etag) + "</ETag></CompleteMultipartUploadResult>");
  }

  private void deleteObject(HttpExchange ex, String name) throws IOException {
    synchronized (this) {
      operations.add("DeleteObject");
      objects.remove(name);
    }
    ex.sendResponseHeaders(204, -1);
  }

  private void abortMultipartUpload(HttpExchange ex, String uploadId) throws IOException, S3Error {
    synchronized (this) {
      operations.add("AbortMultipartUpload");
      upload(uploadId);
      uploads.remove(uploadId);
    }
    ex.sendResponseHeaders(204, -1);
  }

  private void runHook(String operation) {
    Runnable action = before.remove(operation);
    if (action != null) {
      action.run();
    }
  }

  /** If-None-Match / If-Match on a write to {@code name}; call holding the lock. */
  private void checkWriteCondition(HttpExchange ex, String name) throws S3Error {
    String ifNoneMatch = ex.getRequestHeaders().getFirst("If-None-Match");
    String ifMatch = ex.getRequestHeaders().getFirst("If-Match");
    StoredObject there = objects.get(name);
    if (ifNoneMatch != null) {
      if (!ifNoneMatch.trim().equals("*")) {
        throw new S3Error(501, "NotImplemented", "A header you provided implies functionality that is not implemented");
      }
      if (there != null) {
        throw conditionFailed("If-None-Match");
      }
    }
    if (ifMatch != null) {
      if (there == null) {
        throw new S3Error(404, "NoSuchKey", "The specified key does not exist.");
      }
      if (!unquoted(ifMatch).equals(unquoted(there.etag))) {
        throw conditionFailed("If-Match");
      }
    }
  }

  private S3Error conditionFailed(String header) {
    operations.add(conflictAs409 ? "ConditionalRequestConflict" : "PreconditionFailed");
    return conflictAs409
        ? new S3Error(409, "ConditionalRequestConflict", "A conflicting operation occurred. If using PutObject you can retry the request. "
            + "If using multipart upload you should initiate another CreateMultipartUpload request and re-upload each part.")
        : new S3Error(412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold (" + header + ")");
  }

  /** The source of a copy, after its {@code x-amz-copy-source-if-match}; call holding the lock. */
  private StoredObject copySource(HttpExchange ex, String copySource) throws S3Error {
    StoredObject source = objects.get(sourceName(copySource));
    if (source == null) {
      throw new S3Error(404, "NoSuchKey", "The specified key does not exist.");
    }
    String ifMatch = ex.getRequestHeaders().getFirst("x-amz-copy-source-if-match");
    if (ifMatch != null && !unquoted(ifMatch).equals(unquoted(source.etag))) {
      throw new S3Error(412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold (x-amz-copy-source-If-Match)");
    }
    return source;
  }

  private static String sourceName(String copySource) {
    String s = URLDecoder.decode(copySource.replace("+", "%2B"), StandardCharsets.UTF_8);
    int version = s.indexOf("?versionId=");
    s = version >= 0 ? s.substring(0, version) : s;
    return s.startsWith("/") ? s.substring(1) : s;
  }

  private MultipartUpload upload(String id) throws S3Error {
    MultipartUpload u = uploads.get(id);
    if (u == null) {
      throw new S3Error(404, "NoSuchUpload", "The specified upload does not exist. The upload ID may be invalid, "
          + "or the upload may have been aborted or completed.");
    }
    return u;
  }

  private static int partNumber(Map<String, String> query) throws S3Error {
    try {
      int n = Integer.parseInt(query.getOrDefault("partNumber", ""));
      if (n >= 1 && n <= 10_000) {
        return n;
      }
    } catch (NumberFormatException e) {
      // below
    }
    throw new S3Error(400, "InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive");
  }

  /** Waits, for a conditional write, until the writers a test asked to hold have all arrived. */
  private void awaitOtherWriters(HttpExchange ex) throws S3Error {
    CountDownLatch g = gate;
    boolean conditional = ex.getRequestHeaders().containsKey("If-None-Match") || ex.getRequestHeaders().containsKey("If-Match");
    if (g == null || !conditional) {
      return;
    }
    g.countDown();
    try {
      if (!g.await(60, TimeUnit.SECONDS)) {
        throw new S3Error(500, "InternalError", "test gate: the other writers did not arrive within 60 s");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new S3Error(500, "InternalError", "interrupted");
    }
  }

  private static Map<String, String> metadata(HttpExchange ex) {
    Map<String, String> m = new TreeMap<>();
    ex.getRequestHeaders().forEach((k, v) -> {
      if (k.toLowerCase(Locale.ROOT).startsWith("x-amz-meta-")) {
        m.put(k.substring("x-amz-meta-".length()).toLowerCase(Locale.ROOT), v.get(0));
      }
    });
    return m;
  }

  private static String contentType(HttpExchange ex) {
    String t = ex.getRequestHeaders().getFirst("Content-Type");
    return t == null ? "binary/octet-stream" : t;
  }

  private static Map<String, String> query(String raw) {
    Map<String, String> q = new HashMap<>();
    if (raw == null || raw.isEmpty()) {
      return q;
    }
    for (String pair : raw.split("&")) {
      int eq = pair.indexOf('=');
      String k = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
      q.put(k, eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8));
    }
    return q;
  }

  private static void sendError(HttpExchange ex, S3Error e, String resource) throws IOException {
    if (ex.getRequestMethod().equals("HEAD")) {
      ex.sendResponseHeaders(e.status, -1);
      return;
    }
    sendXml(ex, e.status, "<Error><Code>" + e.code + "</Code><Message>" + xmlEscape(e.getMessage()) + "</Message><Resource>"
        + xmlEscape(resource) + "</Resource><RequestId>" + REQUESTS.incrementAndGet() + "</RequestId></Error>");
  }

  private static void sendXml(HttpExchange ex, int status, String xml) throws IOException {
    byte[] b = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + xml).getBytes(StandardCharsets.UTF_8);
    ex.getResponseHeaders().add("Content-Type", "application/xml");
    ex.sendResponseHeaders(status, b.length);
    try (OutputStream out = ex.getResponseBody()) {
      out.write(b);
    }
  }

  private static String md5(byte[] data) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("MD5").digest(data));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static String quoted(String s) {
    return "\"" + s + "\"";
  }

  private static String unquoted(String s) {
    String t = s.trim();
    return t.length() >= 2 && t.startsWith("\"") && t.endsWith("\"") ? t.substring(1, t.length() - 1) : t;
  }

  private static String xmlEscape(String s) {
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
  }
}
