package dev.ocirender.io;

import com.github.luben.zstd.util.ZstdVersion;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;

/**
 * Makes loading the native code we bundle cheap: set up once, before the first use of JNA (ISA-L,
 * the directory writer's Linux calls, unnamed spill files) or of zstd-jni, in every JVM.
 *
 * <p>Two costs are paid at every start otherwise (BENCHMARKS.md, issue 14 goal 5, session 8):
 * <ul>
 *   <li>JNA's first library lookup on Linux runs {@code ldconfig -p} in a child process to learn the
 *       library directories, unless {@code jna.platform.library.path} is set. We set it, when the user
 *       has not, to the usual directories; a library elsewhere is still found, since JNA then falls back
 *       to {@code dlopen} of the bare name, which reads the loader's own cache.
 *   <li>JNA and zstd-jni copy their JNI library out of the jar into a temporary file, load it and delete
 *       it, at every start. With the system property {@value #CACHE_PROPERTY} naming a directory (the
 *       launcher {@code bin/ocirender} passes one per jar build, beside the jar), they are copied there
 *       once and loaded from there afterwards ({@code jna.boot.library.path}, {@code ZstdNativePath}).
 *       The directory must belong to one build of the jar: JNA refuses a dispatch library of another
 *       version.
 * </ul>
 * Nothing here is needed for correctness: when the directory cannot be written, or a library is not in
 * the jar for this platform, loading falls back to the libraries' own ways.
 */
public final class NativeLibraries {

  /** A directory where this jar's JNI libraries are kept between runs. */
  public static final String CACHE_PROPERTY = "ocirender.nativeCache";

  private static boolean prepared;

  private NativeLibraries() {}

  /** Sets up native loading for this JVM; cheap and idempotent, call it before touching JNA or zstd-jni. */
  public static synchronized void prepare() {
    if (prepared) {
      return;
    }
    prepared = true;
    String os = System.getProperty("os.name", "");
    String arch = System.getProperty("os.arch", "");
    if (!os.equals("Linux")) {
      return;
    }
    if (System.getProperty("jna.platform.library.path") == null) {
      System.setProperty("jna.platform.library.path", String.join(":", libraryDirectories(arch)));
    }
    String cache = System.getProperty(CACHE_PROPERTY);
    if (cache == null || cache.isEmpty()) {
      return;
    }
    // Absolute: System.load refuses a relative path (OCIRENDER_JARS=target gives one).
    Path dir = Path.of(cache).toAbsolutePath();
    String jnaPrefix = switch (arch) {
      case "amd64", "x86_64" -> "linux-x86-64";
      case "aarch64" -> "linux-aarch64";
      default -> null;
    };
    if (jnaPrefix != null && System.getProperty("jna.boot.library.path") == null
        && kept(dir, "com/sun/jna/" + jnaPrefix + "/libjnidispatch.so", "libjnidispatch.so") != null) {
      System.setProperty("jna.boot.library.path", dir.toString());
    }
    if (System.getProperty("ZstdNativePath") == null) {
      // The version this jar bundles (a compile-time constant of the same dependency).
      String name = "libzstd-jni-" + ZstdVersion.VERSION + ".so";
      Path zstd = kept(dir, "linux/" + arch + "/" + name, name);
      if (zstd != null) {
        System.setProperty("ZstdNativePath", zstd.toString());
      }
    }
  }

  /** The usual library directories of a Linux system, multiarch first, the way the dynamic loader orders them. */
  static List<String> libraryDirectories(String arch) {
    String triple = switch (arch) {
      case "amd64", "x86_64" -> "x86_64-linux-gnu";
      case "aarch64" -> "aarch64-linux-gnu";
      default -> null;
    };
    List<String> dirs = new ArrayList<>();
    if (triple != null) {
      dirs.add("/usr/local/lib/" + triple);
      dirs.add("/lib/" + triple);
      dirs.add("/usr/lib/" + triple);
    }
    dirs.addAll(List.of("/usr/local/lib", "/usr/lib64", "/lib64", "/usr/lib", "/lib"));
    return dirs;
  }

  /**
   * {@code dir/name}, copied there from the class path resource {@code resource} if it is not there yet;
   * null when the resource is absent or the copy fails. The copy is written under a temporary name and
   * renamed, so a concurrent start never sees a half-written library, and a file at {@code dir/name}
   * is always complete.
   */
  private static Path kept(Path dir, String resource, String name) {
    Path target = dir.resolve(name);
    if (Files.isRegularFile(target)) {
      return target;
    }
    try (InputStream in = NativeLibraries.class.getClassLoader().getResourceAsStream(resource)) {
      if (in == null) {
        return null;
      }
      Files.createDirectories(dir);
      Path tmp = Files.createTempFile(dir, name, ".tmp");
      try {
        Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } finally {
        Files.deleteIfExists(tmp);
      }
      return target;
    } catch (IOException | RuntimeException e) {
      return null; // e.g. a read-only directory: the library loads its own way
    }
  }
}
