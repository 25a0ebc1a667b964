package dev.ocirender.store;

import com.google.cloud.NoCredentials;
import com.google.cloud.storage.Storage;
import com.google.cloud.storage.StorageOptions;
import java.io.Closeable;
import java.io.IOException;
import java.io.Serializable;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Chooses the {@link OutputStore} for an output URI: {@code gs://} goes to {@link GcsOutputStore}
 * (the GCS client is made on first use), {@code s3://} to {@link S3OutputStore}, other {@code scheme://} URIs to
 * {@link FileSystemsOutputStore}, and plain paths and {@code file:} URIs to
 * {@link LocalOutputStore}.
 *
 * <p>Serializable so that a pipeline can ship it to workers; the clients it uses are not. The GCS
 * client is made once per endpoint per JVM and shared by every router of the worker (DoFn instances
 * come and go far more often than workers do, and a client holds connection pools and credential
 * refresh state), then closed when the JVM ends, as {@code WorkerRegistries} does for registry
 * clients. Holds no credentials: the GCS client uses Application Default Credentials, or none when
 * a test host is given.
 *
 * <p>To add a store for another scheme: route it in {@link Router#forUri}; a client it needs per
 * worker goes beside {@link #sharedGcs}.
 */
public final class OutputStores implements Serializable {
  private static final long serialVersionUID = 1L;

  private final String gcsHost;
  private final boolean localThroughFileSystems;
  private final S3Settings s3;

  /** GCS clients by endpoint ("" for Google's), one per JVM. */
  private static final Map<String, Storage> SHARED_GCS = new ConcurrentHashMap<>();
  private static final Thread CLOSE_AT_EXIT = new Thread(OutputStores::closeShared, "ocirender-close-store-clients");

  static {
    Runtime.getRuntime().addShutdownHook(CLOSE_AT_EXIT);
  }

  /**
   * @param gcsHost null for Google's endpoint; otherwise an HTTP endpoint speaking the GCS JSON API
   *     without authentication (an emulator or a test server)
   */
  public OutputStores(String gcsHost) {
    this(gcsHost, S3Settings.defaults());
  }

  /** @param s3 how to reach {@code s3://} outputs (endpoint, region, path style, credentials) */
  public OutputStores(String gcsHost, S3Settings s3) {
    this(gcsHost, s3, false);
  }

  private OutputStores(String gcsHost, S3Settings s3, boolean localThroughFileSystems) {
    this.gcsHost = gcsHost == null || gcsHost.isBlank() ? null : gcsHost;
    this.s3 = s3;
    this.localThroughFileSystems = localThroughFileSystems;
  }

  /**
   * These stores, but with local paths written through Beam FileSystems' local filesystem
   * ({@link FileSystemsOutputStore}: temporary name, rename, sidecar) instead of
   * {@link LocalOutputStore}. For tests of the FileSystems store's behaviour on a real disk.
   */
  public OutputStores withLocalPathsThroughFileSystems() {
    return new OutputStores(gcsHost, s3, true);
  }

  /** Whether {@code uri} is a local path (a plain path or a {@code file:} URI). */
  public static boolean isLocal(String uri) {
    return uri.startsWith("file:") || !uri.matches("^[A-Za-z][A-Za-z0-9+.-]*://.*");
  }

  /** {@code store} with every output it creates capped at {@code maxBytes} ({@link Upload#limitedTo}; 0: no cap). */
  public static OutputStore limited(OutputStore store, long maxBytes) {
    return new OutputStore() {
      @Override
      public Optional<StoredOutput> stat(String uri) throws IOException {
        return store.stat(uri);
      }

      @Override
      public Upload create(String uri, OutputMetadata metadata, String replaceVersion) throws IOException {
        return store.create(uri, metadata, replaceVersion).limitedTo(maxBytes);
      }

      @Override
      public Upload createFile(String uri, OutputMetadata metadata, String replaceVersion) throws IOException {
        Upload upload = store.createFile(uri, metadata, replaceVersion);
        return upload == null ? null : upload.limitedTo(maxBytes);
      }

      @Override
      public boolean isLocal(String uri) {
        return store.isLocal(uri);
      }

      @Override
      public void close() throws IOException {
        store.close();
      }
    };
  }

  /** A router with its own clients; close it when done. */
  public Router open() {
    return new Router();
  }

  /** Routes each URI to its store, making each store once. Not thread-safe to open stores concurrently; stores themselves are. */
  public final class Router implements Closeable {
    private final LocalOutputStore local = new LocalOutputStore();
    private final FileSystemsOutputStore fileSystems = new FileSystemsOutputStore();
    private GcsOutputStore gcs;
    private S3OutputStore s3Store;

    public synchronized OutputStore forUri(String uri) {
      if (isLocal(uri)) {
        return localThroughFileSystems ? fileSystems : local;
      }
      if (uri.startsWith("gs://")) {
        if (gcs == null) {
          gcs = new GcsOutputStore(sharedGcs(gcsHost));
        }
        return gcs;
      }
      if (uri.startsWith("s3://")) {
        if (s3Store == null) {
          s3Store = new S3OutputStore(s3.newClient());
        }
        return s3Store;
      }
      return fileSystems;
    }

    /** Releases this router; the shared clients stay for the next router of the JVM. */
    @Override
    public synchronized void close() {
      gcs = null; // the JVM's shared client stays for the next router
      if (s3Store != null) {
        s3Store.close();
        s3Store = null;
      }
    }
  }

  /** The JVM's GCS client for {@code host} (null: Google's endpoint), made on first use. */
  static Storage sharedGcs(String host) {
    return SHARED_GCS.computeIfAbsent(host == null ? "" : host, h -> {
      StorageOptions.Builder b = StorageOptions.newBuilder();
      if (!h.isEmpty()) {
        b.setHost(h).setCredentials(NoCredentials.getInstance()).setProjectId("ocirender-test");
      }
      return b.build().getService();
    });
  }

  private static void closeShared() {
    for (Storage s : SHARED_GCS.values()) {
      try {
        s.close();
      } catch (Exception e) {
        // the JVM is ending; nothing is left to tell
      }
    }
    SHARED_GCS.clear();
  }
}
