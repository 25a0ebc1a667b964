package dev.ocirender.image;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * A content digest such as {@code sha256:9f86d0…}, per the OCI image spec's descriptor rules.
 *
 * <p>Only the registered algorithms {@code sha256} and {@code sha512} are accepted, with lower-case
 * hex of the right length; anything else is rejected when parsed rather than failing to verify
 * later. {@link #toString()} is the canonical {@code algorithm:hex} form.
 */
public final class Digest {

  private static final Pattern SHA256 = Pattern.compile("[a-f0-9]{64}");
  private static final Pattern SHA512 = Pattern.compile("[a-f0-9]{128}");

  private final String algorithm;
  private final String hex;

  private Digest(String algorithm, String hex) {
    this.algorithm = algorithm;
    this.hex = hex;
  }

  /** Parses {@code algorithm:hex}; throws {@link IllegalArgumentException} naming the bad value. */
  public static Digest parse(String value) {
    int colon = value == null ? -1 : value.indexOf(':');
    if (colon < 0) {
      throw new IllegalArgumentException("not a digest (want algorithm:hex): " + value);
    }
    String algorithm = value.substring(0, colon);
    String hex = value.substring(colon + 1);
    Pattern pattern = switch (algorithm) {
      case "sha256" -> SHA256;
      case "sha512" -> SHA512;
      default -> throw new IllegalArgumentException("unsupported digest algorithm '" + algorithm + "' in " + value);
    };
    if (!pattern.matcher(hex).matches()) {
      throw new IllegalArgumentException("malformed " + algorithm + " digest: " + value);
    }
    return new Digest(algorithm, hex);
  }

  /** A sha256 digest from 32 raw bytes. */
  public static Digest sha256(byte[] raw) {
    return new Digest("sha256", HexFormat.of().formatHex(raw));
  }

  /** Digests a whole byte array with sha256 (for small blobs: manifests, configs, fixtures). */
  public static Digest sha256Of(byte[] content) {
    try {
      return sha256(MessageDigest.getInstance("SHA-256").digest(content));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  public String algorithm() {
    return algorithm;
  }

  public String hex() {
    return hex;
  }

  /** A fresh {@link MessageDigest} for this digest's algorithm. */
  public MessageDigest newMessageDigest() {
    try {
      return MessageDigest.getInstance(algorithm.toUpperCase(Locale.ROOT).replace("SHA", "SHA-"));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Whether {@code raw} (a finished {@link MessageDigest} result) is this digest. */
  public boolean matches(byte[] raw) {
    return hex.equals(HexFormat.of().formatHex(raw));
  }

  /** A short form for progress displays: {@code sha256:9f86d081884c}. */
  public String shortForm() {
    return algorithm + ":" + hex.substring(0, 12);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Digest && ((Digest) o).algorithm.equals(algorithm) && ((Digest) o).hex.equals(hex);
  }

  @Override
  public int hashCode() {
    return hex.hashCode();
  }

  @Override
  public String toString() {
    return algorithm + ":" + hex;
  }
}
