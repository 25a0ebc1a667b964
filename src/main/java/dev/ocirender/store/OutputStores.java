package dev.ocirender.store;

import com.google.cloud.NoCredentials;
import com.google.cloud.storage.StorageOptions;
import java.io.Closeable;
import java.io.IOException;
import java.io.Serializable;

/**
 * Chooses the {@link OutputStore} for an output URI: {@code gs://} goes to {@link GcsOutputStore}
 * (the GCS client is made on first use), {@code s3://} to {@link S3OutputStore}, other {@code scheme://} URIs to
 * {@link FileSystemsOutputStore}, and plain paths and {@code file:} URIs to
 * {@link LocalOutputStore}.
 *
 * <p>Serializable so that a pipeline can ship it to workers; the clients it makes are not, and are
 * made per instance after deserialisation ({@link #open()}). Holds no credentials: the GCS client
 * uses Application Default Credentials, or none when a test host is given.
 */
public final class OutputStores implements Serializable {
  private static final long serialVersionUID = 1L;

  private final String gcsHost;
  private final S3Settings s3;

  /**
   * @param gcsHost null for Google's endpoint; otherwise an HTTP endpoint speaking the GCS JSON API
   *     without authentication (an emulator or a test server)
   */
  public OutputStores(String gcsHost) {
    this(gcsHost, S3Settings.defaults());
  }

  /** @param s3 how to reach {@code s3://} outputs (endpoint, region, path style, credentials) */
  public OutputStores(String gcsHost, S3Settings s3) {
    this.gcsHost = gcsHost == null || gcsHost.isBlank() ? null : gcsHost;
    this.s3 = s3;
  }

  /** Whether {@code uri} is a local path (a plain path or a {@code file:} URI). */
  public static boolean isLocal(String uri) {
    return uri.startsWith("file:") || !uri.matches("^[A-Za-z][A-Za-z0-9+.-]*://.*");
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
        return local;
      }
      if (uri.startsWith("gs://")) {
        if (gcs == null) {
          StorageOptions.Builder b = StorageOptions.newBuilder();
          if (gcsHost != null) {
            b.setHost(gcsHost).setCredentials(NoCredentials.getInstance()).setProjectId("ocirender-test");
          }
          gcs = new GcsOutputStore(b.build().getService());
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

    @Override
    public synchronized void close() throws IOException {
      if (gcs != null) {
        gcs.close();
        gcs = null;
      }
      if (s3Store != null) {
        s3Store.close();
        s3Store = null;
      }
    }
  }
}
