package dev.ocirender.source.registry;

import dev.ocirender.image.Descriptor;
import dev.ocirender.image.Messages;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.net.http.HttpResponse;
import java.util.Map;

/**
 * {@code GET /v2/<name>/blobs/<digest>}: streams a blob into a {@link Sink}, and when the body
 * breaks off (a reset connection, a truncated body) asks again with {@code Range: bytes=N-} from
 * where the sink is. A registry that ignores the Range and answers 200 gets its first N bytes
 * skipped. The sink digests everything it receives, so a resumed blob is still verified whole.
 *
 * <p>It does not verify the digest itself (the sink does, in the same pass that stores the bytes),
 * and it does not cache: {@link BlobCache} decides whether to call it at all.
 *
 * @see <a href="https://github.com/opencontainers/distribution-spec/blob/main/spec.md#pulling-blobs">pulling blobs</a>
 */
public final class BlobPuller {

  /** Where downloaded bytes go. */
  public interface Sink {
    /** How many bytes the sink holds: where a resumed request starts. */
    long position();

    /** Takes the next bytes; an exception from here is not retried. */
    void write(byte[] b, int off, int len) throws IOException;
  }

  private final RegistryClient client;

  BlobPuller(RegistryClient client) {
    this.client = client;
  }

  void download(String repository, Descriptor descriptor, Sink sink) throws IOException {
    String what = "pulling blob " + descriptor.digest() + " from " + client.registry() + "/" + repository;
    String path = "/v2/" + repository + "/blobs/" + descriptor.digest();
    long size = descriptor.size();
    int failures = 0;
    byte[] buffer = new byte[1 << 16];
    while (true) {
      long offset = sink.position();
      if (offset >= size && size > 0) {
        return;
      }
      Map<String, String> headers = offset > 0 ? Map.of("Range", "bytes=" + offset + "-") : Map.of();
      HttpResponse<InputStream> response = client.get(path, headers, RegistryClient.pullScope(repository), what);
      IOException broken = null;
      try (InputStream body = response.body()) {
        if (offset > 0 && response.statusCode() != 206) {
          skipFully(body, offset);
        }
        while (true) {
          int n = body.read(buffer);
          if (n < 0) {
            break;
          }
          // An exception from the sink (disk, size or digest) is not the network's: not retried.
          try {
            sink.write(buffer, 0, n);
          } catch (IOException e) {
            throw new SinkFailure(e);
          }
        }
        if (sink.position() < size) {
          broken = new EOFException("the body ended after " + sink.position() + " of " + size + " bytes");
        }
      } catch (SinkFailure e) {
        throw e.cause;
      } catch (IOException e) {
        broken = e;
      }
      if (broken == null) {
        return;
      }
      failures = client.failed(failures, what, Messages.describe(broken) + " (at byte " + sink.position() + " of "
          + size + ")", broken, null);
    }
  }

  /** Carries a sink's exception past the catch of network errors. */
  private static final class SinkFailure extends RuntimeException {
    private static final long serialVersionUID = 1L;
    final transient IOException cause;

    SinkFailure(IOException cause) {
      super(cause);
      this.cause = cause;
    }
  }

  private static void skipFully(InputStream in, long n) throws IOException {
    long left = n;
    byte[] scratch = new byte[1 << 16];
    while (left > 0) {
      int r = in.read(scratch, 0, (int) Math.min(scratch.length, left));
      if (r < 0) {
        throw new EOFException("the body ended while skipping to byte " + n);
      }
      left -= r;
    }
  }
}
