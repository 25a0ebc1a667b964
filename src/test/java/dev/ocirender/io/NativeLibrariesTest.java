package dev.ocirender.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.github.luben.zstd.util.ZstdVersion;
import com.sun.jna.Library;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Where the JNI libraries of JNA and zstd-jni are loaded from, as the kernel sees it: each case runs a
 * fresh JVM (the set-up is once per JVM) that prepares native loading, loads both libraries and prints
 * the files it has mapped ({@code /proc/self/maps}).
 */
class NativeLibrariesTest {

  static final String ZSTD = "libzstd-jni-" + ZstdVersion.VERSION + ".so";

  @TempDir Path tmp;

  @BeforeAll
  static void linuxOnly() {
    assumeTrue(System.getProperty("os.name").equals("Linux") && Files.isReadable(Path.of("/proc/self/maps")),
        "Linux with /proc");
  }

  @Test
  void cacheDirectory_holdsBothLibraries_andLaterRunsLoadThemFromIt() throws Exception {
    Path cache = tmp.resolve("native");
    List<String> first = mappedLibraries("-D" + NativeLibraries.CACHE_PROPERTY + "=" + cache);
    assertThat(first).containsExactlyInAnyOrder(cache.resolve("libjnidispatch.so").toString(), cache.resolve(ZSTD).toString());
    assertThat(list(cache)).as("the cache holds the two libraries and no temporary file")
        .containsExactlyInAnyOrder("libjnidispatch.so", ZSTD);

    FileTime copied = Files.getLastModifiedTime(cache.resolve(ZSTD));
    Thread.sleep(20);
    List<String> second = mappedLibraries("-D" + NativeLibraries.CACHE_PROPERTY + "=" + cache);
    assertThat(second).isEqualTo(first);
    assertThat(Files.getLastModifiedTime(cache.resolve(ZSTD))).as("not copied again").isEqualTo(copied);
  }

  @Test
  void aRelativeCacheDirectory_isTakenFromTheWorkingDirectory() throws Exception {
    List<String> mapped = mappedLibraries("-D" + NativeLibraries.CACHE_PROPERTY + "=relative/native");
    Path cache = tmp.toRealPath().resolve("relative/native");
    assertThat(mapped).containsExactlyInAnyOrder(cache.resolve("libjnidispatch.so").toString(), cache.resolve(ZSTD).toString());
  }

  @Test
  void withoutACacheDirectory_orWithAnUnwritableOne_theLibrariesLoadTheirOwnWay() throws Exception {
    for (String option : List.of("-Dunrelated=1", "-D" + NativeLibraries.CACHE_PROPERTY + "=" + unwritable())) {
      List<String> mapped = mappedLibraries(option);
      assertThat(mapped).as(option).hasSize(2)
          .anyMatch(p -> p.contains("/jna")).anyMatch(p -> p.contains("zstd-jni"))
          .noneMatch(p -> p.startsWith(tmp.toString()));
    }
  }

  @Test
  void libraryDirectories_putTheMultiarchDirectoriesFirst() {
    assertThat(NativeLibraries.libraryDirectories("amd64"))
        .startsWith("/usr/local/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu")
        .endsWith("/usr/lib", "/lib");
    assertThat(NativeLibraries.libraryDirectories("riscv64")).first().isEqualTo("/usr/local/lib");
  }

  /** A path under a regular file: no directory can be made there. */
  private Path unwritable() throws IOException {
    return Files.writeString(tmp.resolve("a-file"), "x").resolve("native");
  }

  private static List<String> list(Path dir) throws IOException {
    try (Stream<Path> files = Files.list(dir)) {
      return files.map(p -> p.getFileName().toString()).toList();
    }
  }

  /** The JNI library files a fresh JVM with {@code option} has mapped after loading both libraries. */
  private List<String> mappedLibraries(String option) throws Exception {
    Path log = Files.createTempFile(tmp, "probe", ".log");
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Process p = new ProcessBuilder(java, option, "-cp", System.getProperty("java.class.path"), Probe.class.getName())
        .directory(tmp.toFile()).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    assertThat(p.waitFor(2, TimeUnit.MINUTES)).as("the probe finished").isTrue();
    String out = Files.readString(log, StandardCharsets.UTF_8);
    assertThat(p.exitValue()).as("probe exit status; output:%n%s", out).isZero();
    return out.lines().filter(l -> !l.isBlank()).toList();
  }

  /** The forked JVM: prepares native loading as the CLI does, loads both libraries, prints what is mapped. */
  public static final class Probe {
    public static void main(String[] args) throws IOException {
      NativeLibraries.prepare();
      com.sun.jna.Native.load("c", Library.class);
      com.github.luben.zstd.util.Native.load();
      List<String> mapped = new ArrayList<>();
      for (String line : Files.readAllLines(Path.of("/proc/self/maps"))) {
        int slash = line.indexOf('/');
        String file = slash < 0 ? "" : line.substring(slash);
        // JNA's own copy is a temporary file named jnaNNN.tmp.
        String name = file.substring(file.lastIndexOf('/') + 1);
        boolean jni = name.contains("jnidispatch") || name.matches("jna\\d+\\.tmp.*") || name.contains("zstd-jni");
        if (jni && !mapped.contains(file)) {
          mapped.add(file);
        }
      }
      mapped.forEach(System.out::println);
    }
  }
}
