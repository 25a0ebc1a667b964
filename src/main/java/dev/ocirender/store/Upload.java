package dev.ocirender.store;

import java.io.Closeable;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * One output being written to an {@link OutputStore}: write the bytes to {@link #stream()}, then
 * {@link #commit()} to publish them under the final name with their metadata, or {@link #close()}
 * without committing to abandon them.
 *
 * <p>This base class counts the bytes and hashes them (sha256) as they pass, so every store records
 * the same output digest; stores implement only {@link #publish} and {@link #abort}. Closing
 * {@link #stream()} only flushes it (sinks close their stream when they finish).
 *
 * <p>A store that keeps outputs as local files can instead hand out the file being written
 * ({@link OutputStore#createFile}, {@link #channel()}), for formats that write out of order
 * (squashfs writes its superblock last, at offset 0): the writer fills the file in place, and
 * {@link #commit()} hashes and counts what the file holds then, by reading it back once (from the
 * page cache, just written) instead of the whole output being written a second time through
 * {@link #stream()}. Not thread-safe.
 */
public abstract class Upload implements Closeable {

  private final String uri;
  private final OutputMetadata metadata;
  private final MessageDigest sha256;
  private final Counting counting;
  private final OutputStream stream;
  /** The file written in place, for an upload made with {@link #Upload(String, OutputMetadata, FileChannel)}; else null. */
  private final FileChannel file;
  private boolean committed;
  private boolean closed;

  protected Upload(String uri, OutputMetadata metadata, OutputStream raw) {
    this(uri, metadata, raw, null);
  }

  /**
   * An upload whose content the caller writes into {@code file} ({@link #channel()}), from offset 0
   * to its end; {@link #stream()} is not for writing then.
   */
  protected Upload(String uri, OutputMetadata metadata, FileChannel file) {
    this(uri, metadata, OutputStream.nullOutputStream(), java.util.Objects.requireNonNull(file, "file"));
  }

  private Upload(String uri, OutputMetadata metadata, OutputStream raw, FileChannel file) {
    this.uri = uri;
    this.metadata = metadata;
    this.file = file;
    try {
      this.sha256 = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
    this.counting = new Counting(raw);
    this.stream = new DigestOutputStream(counting, sha256) {
      @Override
      public void close() throws IOException {
        flush();
      }
    };
  }

  public final String uri() {
    return uri;
  }

  /**
   * Caps this output at {@code maxBytes}: a write past it fails with {@link OutputTooLargeException}
   * (and the upload, never committed, publishes nothing). A guard against images whose small layers
   * expand enormously; 0 or less means no cap.
   */
  public final Upload limitedTo(long maxBytes) {
    counting.limit = maxBytes > 0 ? maxBytes : Long.MAX_VALUE;
    return this;
  }

  /** An output that grew past its {@link #limitedTo cap}. */
  public static final class OutputTooLargeException extends IOException {
    private static final long serialVersionUID = 1L;

    OutputTooLargeException(String message) {
      super(message);
    }
  }

  /** Where to write the output's bytes. */
  public final OutputStream stream() {
    if (file != null) {
      throw new IllegalStateException("upload of " + uri + " is written in place: use channel()");
    }
    return stream;
  }

  /**
   * The local file to write the output into, open for reading and writing, for an upload from
   * {@link OutputStore#createFile}. Do not close it: the upload owns it.
   *
   * @throws IllegalStateException for an upload written through {@link #stream()}
   */
  public final FileChannel channel() {
    if (file == null) {
      throw new IllegalStateException("upload of " + uri + " is written as a stream: use stream()");
    }
    return file;
  }

  /**
   * Publishes what was written under {@link #uri()}, with the metadata and the output's sha256.
   *
   * @throws OutputExistsException when the precondition given to {@link OutputStore#create} no
   *     longer holds; nothing was overwritten
   */
  public final StoredOutput commit() throws IOException {
    if (committed || closed) {
      throw new IllegalStateException("upload of " + uri + " already " + (committed ? "committed" : "closed"));
    }
    if (file != null) {
      hashFile();
    } else {
      stream.flush();
    }
    OutputMetadata complete = metadata.withSha256(HexFormat.of().formatHex(sha256.digest()));
    StoredOutput out = publish(counting.count, complete);
    committed = true;
    closed = true;
    return out;
  }

  /**
   * Counts and hashes the file written in place, reading it once from its start; fails as a stream
   * would have for an output past the {@link #limitedTo cap}, or when interrupted.
   */
  private void hashFile() throws IOException {
    long size = file.size();
    counting.check(size);
    ByteBuffer chunk = ByteBuffer.allocate(1 << 20);
    for (long at = 0; at < size; ) {
      chunk.clear();
      int n = file.read(chunk, at);
      if (n < 0) {
        throw new IOException("reading back " + uri + ": it ends at " + at + ", not " + size);
      }
      sha256.update(chunk.array(), 0, n);
      at += n;
      counting.count = at;
      if (Thread.currentThread().isInterrupted()) {
        throw new InterruptedIOException("reading back " + uri + ": interrupted");
      }
    }
  }

  /** Abandons the upload unless it was committed. Idempotent. */
  @Override
  public final void close() throws IOException {
    if (closed) {
      return;
    }
    closed = true;
    abort();
  }

  /**
   * An upload whose output is already in place (a runner retry found its own earlier publish): the
   * bytes written are discarded and {@link #commit()} answers {@code existing}.
   */
  public static Upload alreadyPublished(StoredOutput existing, OutputMetadata metadata) {
    return new Upload(existing.uri(), metadata, OutputStream.nullOutputStream()) {
      @Override
      protected StoredOutput publish(long size, OutputMetadata complete) {
        return existing;
      }

      @Override
      protected void abort() {}
    };
  }

  /** Makes the bytes written so far visible under {@link #uri()} with {@code metadata}, or fails leaving nothing new there. */
  protected abstract StoredOutput publish(long size, OutputMetadata metadata) throws IOException;

  /** Throws away what was written; nothing may appear under {@link #uri()}. */
  protected abstract void abort() throws IOException;

  private final class Counting extends FilterOutputStream {
    long count;
    long limit = Long.MAX_VALUE;

    Counting(OutputStream out) {
      super(out);
    }

    @Override
    public void write(int b) throws IOException {
      check(1);
      out.write(b);
      count++;
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      check(len);
      out.write(b, off, len);
      count += len;
    }

    private void check(long len) throws IOException {
      if (count + len > limit) {
        throw new OutputTooLargeException("output " + uri + " would grow past " + limit
            + " bytes (the output size limit, --maxOutputBytes in the pipeline); stopped, nothing published");
      }
      // A render cut off by its deadline is interrupted: stop at the next write whatever the store.
      if (Thread.currentThread().isInterrupted()) {
        throw new InterruptedIOException("writing " + uri + ": interrupted");
      }
    }

    @Override
    public void close() throws IOException {
      flush();
    }
  }
}
