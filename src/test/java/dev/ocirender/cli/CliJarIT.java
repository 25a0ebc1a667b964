package dev.ocirender.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ocirender.testing.ExternalTools;
import dev.ocirender.testing.Requires;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.zip.ZipFile;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The command-line jar ({@code target/ocirender-cli.jar}) and its launcher ({@code bin/ocirender}), as
 * the README runs them: the jar leaves out the pipeline and everything only the pipeline needs, so every
 * class left in it must resolve inside it (jdeps), the launcher must make and then use its class-data
 * sharing archive, and {@code pipeline} must still reach the whole jar, with an archive of its own. Run by
 * Failsafe after
 * {@code package}; the launcher runs on copies in a temporary directory so the build's own archive is
 * not touched.
 */
@Requires(tools = {"tar", "bash"})
class CliJarIT {

  static final Path CLI_JAR = Path.of("target/ocirender-cli.jar").toAbsolutePath();
  static final Path FULL_JAR = Path.of("target/ocirender.jar").toAbsolutePath();
  static final Path LAUNCHER = Path.of("bin/ocirender").toAbsolutePath();

  @TempDir static Path jars;
  @TempDir static Path work;

  @BeforeAll
  static void jars() throws IOException {
    assertThat(CLI_JAR).as("the command-line jar (mvn package)").isRegularFile();
    Files.copy(CLI_JAR, jars.resolve("ocirender-cli.jar"));
    Files.createSymbolicLink(jars.resolve("ocirender.jar"), FULL_JAR);
  }

  /** Runs the launcher with the jars copied above; returns stdout, fails on a non-zero exit. */
  static String launcher(String env, String args) {
    return new String(ExternalTools.bash(work, "OCIRENDER_JARS='" + jars + "' " + env + " '" + LAUNCHER + "' " + args),
        StandardCharsets.UTF_8);
  }

  @Test
  void everyClassInTheCliJar_resolvesWithinIt() {
    String jdeps = Path.of(System.getProperty("java.home"), "bin", "jdeps").toString();
    String missing = ExternalTools.output(jdeps, "--multi-release", "17", "--missing-deps", CLI_JAR);
    // Libraries may refer to optional dependencies of their own; our classes, and Google's credentials
    // (used for gcr.io / pkg.dev pulls), must not, except to annotation types, which the JVM never loads.
    // OpenCensus's context lookup too: every google-http-client request (a token fetch included) runs it,
    // and it needs io.grpc.Context.
    List<String> ours = missing.lines().map(String::strip)
        .filter(l -> l.startsWith("dev.ocirender.") || l.startsWith("com.google.auth.") || l.matches("io\\.opencensus\\.\\S+ +-> io\\.grpc\\..*"))
        .filter(l -> !l.matches(".*-> (javax\\.annotation|com\\.google\\.api\\.core|com\\.google\\.auto\\.value|"
            + "com\\.google\\.errorprone|org\\.checkerframework|com\\.google\\.j2objc)\\..*"))
        .toList();
    assertThat(ours).as("classes the command-line jar refers to but does not contain").isEmpty();
  }

  @Test
  void cliJar_leavesOutThePipelineAndItsDependencies() throws IOException {
    try (ZipFile zip = new ZipFile(CLI_JAR.toFile())) {
      List<String> names = zip.stream().map(e -> e.getName()).toList();
      assertThat(names).contains("dev/ocirender/cli/Main.class", "dev/ocirender/cli/RenderCommand.class")
          .noneMatch(n -> n.startsWith("org/apache/beam/") || n.startsWith("org/apache/flink/")
              || n.startsWith("software/amazon/") || n.startsWith("dev/ocirender/pipeline/"));
    }
  }

  /** The class-data sharing archives (and any left-over temporary files) of the launcher whose names start with {@code prefix}. */
  static List<Path> archives(String prefix) throws IOException {
    try (var files = Files.list(jars)) {
      return files.filter(p -> p.getFileName().toString().startsWith(prefix) && p.getFileName().toString().contains(".jsa")).sorted().toList();
    }
  }

  @Test
  void launcher_makesItsArchiveOnce_rendersWithIt_andRunsThePipelineFromTheWholeJar() throws IOException {
    String spec = launcher("", "sample '" + work.resolve("layout") + "'").strip();
    List<Path> archives = archives(".ocirender-cli-");
    assertThat(archives).as("the class-data sharing archive made by the first run").hasSize(1)
        .allMatch(p -> p.getFileName().toString().endsWith(".jsa"));

    // The render's own classes come from the archive, not from the jar.
    Path classLog = work.resolve("classes.log");
    Path tar = work.resolve("sample.tar");
    launcher("OCIRENDER_JAVA_OPTS='-Xlog:class+load=info:file=" + classLog + "'", "render " + spec + " --output '" + tar + "'");
    assertThat(Files.readString(classLog)).containsPattern("dev\\.ocirender\\.cli\\.RenderCommand source: shared objects file")
        // picocli is compiled for Java 5: only a static archive holds its classes.
        .containsPattern("picocli\\.CommandLine source: shared objects file");
    // The JNI libraries were copied beside the jar once, for this build.
    try (var files = Files.list(jars)) {
      List<Path> nativeDirs = files.filter(p -> p.getFileName().toString().startsWith(".ocirender-native-cli-")).toList();
      assertThat(nativeDirs).hasSize(1);
      try (var libs = Files.list(nativeDirs.get(0))) {
        assertThat(libs.map(p -> p.getFileName().toString()).toList())
            .contains("libjnidispatch.so").anyMatch(n -> n.startsWith("libzstd-jni-") && n.endsWith(".so"));
      }
    }
    List<String> listing = ExternalTools.output("tar", "-tf", tar).lines().map(l -> l.replaceFirst("^\\./", "")).toList();
    assertThat(listing).contains("usr/bin/tool-alias").doesNotContain("etc/motd");
    assertThat(archives(".ocirender-cli-")).isEqualTo(archives);

    // pipeline: the whole jar, with Beam (its option listing names our options).
    assertThat(launcher("", "pipeline --help")).contains("dev.ocirender.pipeline.CatalogPipelineOptions");
  }

  @Test
  void launcher_makesThePipelineArchiveOnce_andRunsJobsWithIt() throws IOException {
    Path dir = Files.createDirectories(work.resolve("pipeline"));
    String spec = launcher("", "sample '" + dir.resolve("layout") + "'").strip();
    Path catalog = Files.writeString(dir.resolve("catalog.txt"), spec + "\n");

    // The first job makes the archive (a training job of its own), then runs with it: Beam's runner and our
    // pipeline command come from the archive, not from the jar.
    Path classLog = dir.resolve("classes.log");
    launcher("OCIRENDER_JAVA_OPTS='-Xlog:class+load=info:file=" + classLog + "'", job(dir, catalog, "first"));
    List<Path> archives = archives(".ocirender-pipeline-");
    assertThat(archives).as("the pipeline's class-data sharing archive, made by the first job").hasSize(1)
        .allMatch(p -> p.getFileName().toString().endsWith(".jsa"));
    assertThat(Files.readString(classLog))
        .containsPattern("org\\.apache\\.beam\\.runners\\.direct\\.DirectRunner source: shared objects file")
        .containsPattern("dev\\.ocirender\\.cli\\.PipelineCommand source: shared objects file");
    assertRendered(dir.resolve("first"));

    // The next job uses the same archive and makes no other.
    launcher("", job(dir, catalog, "second"));
    assertThat(archives(".ocirender-pipeline-")).isEqualTo(archives);
    assertRendered(dir.resolve("second"));
  }

  private static String job(Path dir, Path catalog, String name) {
    return "pipeline --progress=off --runner=DirectRunner --catalog='" + catalog + "' --outputPrefix='" + dir.resolve(name)
        + "' --resultsPrefix='" + dir.resolve(name + "-results") + "/' --layerCacheMaxBytes=0";
  }

  /** The one output of a job of the sample image, read by GNU tar: the merged tree, whiteouts applied. */
  private static void assertRendered(Path outputs) throws IOException {
    List<Path> tars;
    try (var files = Files.list(outputs)) {
      tars = files.filter(p -> p.getFileName().toString().endsWith(".tar")).toList();
    }
    assertThat(tars).hasSize(1);
    List<String> listing = ExternalTools.output("tar", "-tf", tars.get(0)).lines().map(l -> l.replaceFirst("^\\./", "")).toList();
    assertThat(listing).contains("usr/bin/tool-alias").doesNotContain("etc/motd");
  }
}
