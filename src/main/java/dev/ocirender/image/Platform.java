package dev.ocirender.image;

import java.util.Locale;
import java.util.Objects;

/**
 * An OS/architecture/variant triple, as in an OCI index's {@code platform} field and in
 * {@code --platform os/arch[/variant]}.
 *
 * <p>Matching follows containerd's normalisation where it matters for selection: {@code arm64}
 * without a variant means {@code v8}, and a wanted platform without a variant matches any variant.
 */
public record Platform(String os, String architecture, String variant) {

  public static final Platform LINUX_AMD64 = new Platform("linux", "amd64", null);

  public Platform {
    Objects.requireNonNull(os, "os");
    Objects.requireNonNull(architecture, "architecture");
    if (variant != null && variant.isEmpty()) {
      variant = null;
    }
  }

  /** Parses {@code os/arch[/variant]}; throws {@link IllegalArgumentException} on other shapes. */
  public static Platform parse(String value) {
    String[] parts = value.trim().toLowerCase(Locale.ROOT).split("/", -1);
    if (parts.length < 2 || parts.length > 3 || parts[0].isEmpty() || parts[1].isEmpty()
        || (parts.length == 3 && parts[2].isEmpty())) {
      throw new IllegalArgumentException("platform must be os/arch[/variant], got '" + value + "'");
    }
    return new Platform(parts[0], parts[1], parts.length == 3 ? parts[2] : null);
  }

  /** Whether an image built for {@code candidate} satisfies a request for {@code this}. */
  public boolean matches(Platform candidate) {
    if (candidate == null || !os.equals(candidate.os) || !normalizeArch(architecture).equals(normalizeArch(candidate.architecture))) {
      return false;
    }
    if (variant == null) {
      return true;
    }
    return variant.equals(normalizeVariant(candidate.architecture, candidate.variant));
  }

  private static String normalizeArch(String arch) {
    return switch (arch) {
      case "x86_64", "x86-64" -> "amd64";
      case "aarch64" -> "arm64";
      default -> arch;
    };
  }

  private static String normalizeVariant(String arch, String variant) {
    if (variant == null && ("arm64".equals(arch) || "aarch64".equals(arch))) {
      return "v8";
    }
    return variant;
  }

  @Override
  public String toString() {
    return os + "/" + architecture + (variant == null ? "" : "/" + variant);
  }
}
