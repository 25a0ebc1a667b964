package dev.ocirender.image;

import dev.ocirender.io.Streams;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.security.MessageDigest;

/**
 * Passes bytes through while digesting and counting them, and fails the read that reaches the end
 * if the content is not what the descriptor promised: a different digest, or too few or too many
 * bytes. The check happens in the same pass that delivers the bytes, so a blob is never read twice.
 *
 * <p>Callers must read to the end for the digest to be checked; a consumer that stops early has
 * not verified anything (the merge always reads each layer to its end).
 */
public final class VerifyingInputStream extends FilterInputStream {

  private final Digest expected;
  private final long expectedSize;
  private final String subject;
  private final MessageDigest digest;
  private long count;
  private boolean verified;

  /**
   * @param expectedSize the exact byte count, or -1 when only the digest is known
   * @param subject what is being read, for the error message ("blob sha256:… in oci:/x")
   */
  public VerifyingInputStream(InputStream in, Digest expected, long expectedSize, String subject) {
    super(in);
    this.expected = expected;
    this.expectedSize = expectedSize;
    this.subject = subject;
    this.digest = expected.newMessageDigest();
  }

  @Override
  public int read() throws IOException {
    return Streams.readByte(this);
  }

  @Override
  public int read(byte[] b, int off, int len) throws IOException {
    int n = in.read(b, off, len);
    if (n < 0) {
      verify();
      return -1;
    }
    digest.update(b, off, n);
    count += n;
    if (expectedSize >= 0 && count > expectedSize) {
      throw new DigestMismatchException(subject + ": more than the expected " + expectedSize + " bytes");
    }
    return n;
  }

  @Override
  public long skip(long n) throws IOException {
    // Skipped bytes must still be digested.
    return Streams.skipByReading(this, n);
  }

  @Override
  public boolean markSupported() {
    return false;
  }

  private void verify() throws IOException {
    if (verified) {
      return;
    }
    verified = true;
    if (expectedSize >= 0 && count != expectedSize) {
      throw new DigestMismatchException(subject + ": size mismatch, expected " + expectedSize + " bytes but got " + count);
    }
    byte[] actual = digest.digest();
    if (!expected.matches(actual)) {
      throw new DigestMismatchException(subject + ": digest mismatch, expected " + expected + " but got "
          + expected.algorithm() + ":" + java.util.HexFormat.of().formatHex(actual));
    }
  }

  /** Content that does not match its descriptor. */
  public static final class DigestMismatchException extends IOException {
    private static final long serialVersionUID = 1L;

    public DigestMismatchException(String message) {
      super(message);
    }
  }
}
