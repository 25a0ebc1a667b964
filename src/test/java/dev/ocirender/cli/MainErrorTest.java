package dev.ocirender.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.github.luben.zstd.util.ZstdVersion;
import dev.ocirender.io.NativeLibraries;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The CLI as a process, when the JVM throws an {@link Error} rather than an exception. */
class MainErrorTest {

  @TempDir Path tmp;

  private record Run(int status, String out, String err) {}

  private Run main(String... args) throws Exception {
    List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-D" + NativeLibraries.CACHE_PROPERTY + "=" + tmp.resolve("native"),
        "-cp", System.getProperty("java.class.path"), Main.class.getName()));
    command.addAll(List.of(args));
    Path out = tmp.resolve("out.txt");
    Path err = tmp.resolve("err.txt");
    Process p = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
    assertThat(p.waitFor(2, TimeUnit.MINUTES)).isTrue();
    return new Run(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8), Files.readString(err, StandardCharsets.UTF_8));
  }

  @Test
  void aNativeLibraryThatWillNotLoad_isOneLineAndStatus1_andTheStackTraceOnlyWithDebug() throws Exception {
    Run sample = main("sample", tmp.resolve("image").toString());
    assertThat(sample.status()).as(sample.err()).isZero();
    String spec = sample.out().strip();
    // A damaged copy in the native cache: zstd-jni's System.load throws UnsatisfiedLinkError.
    Files.createDirectories(tmp.resolve("native"));
    Files.writeString(tmp.resolve("native").resolve("libzstd-jni-" + ZstdVersion.VERSION + ".so"), "not an ELF file");

    Path output = tmp.resolve("out.sqfs");
    Run run = main("render", spec, "--format", "squashfs", "--output", output.toString());

    assertThat(run.status()).isEqualTo(1);
    // (The JVM itself may warn about the damaged file's stack guard first: its lines, not ours.)
    assertThat(run.err()).doesNotContain("\tat ");
    assertThat(run.err().lines().filter(l -> l.startsWith("ocirender"))).singleElement().asString()
        .startsWith(Main.ERROR_PREFIX + "internal error: java.lang.UnsatisfiedLinkError")
        .endsWith("(rerun with --debug for the stack trace)");
    assertThat(output).doesNotExist();

    Run debug = main("render", spec, "--format", "squashfs", "--output", output.toString(), "--debug");
    assertThat(debug.status()).isEqualTo(1);
    assertThat(debug.err()).contains(Main.ERROR_PREFIX + "internal error: java.lang.UnsatisfiedLinkError")
        .contains("\tat ");
  }
}
