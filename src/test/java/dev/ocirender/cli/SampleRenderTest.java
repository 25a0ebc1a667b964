package dev.ocirender.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * End to end through the CLI: the built-in sample image rendered to tar must match
 * {@link SampleImage#EXPECTED_SUMMARY}. Needs the source, reader, merger and tar writer.
 */
class SampleRenderTest {

  @TempDir Path tmp;

  @Test
  void sampleImage_rendersMergedFilesystem() throws IOException {
    MainTest.Run sample = MainTest.run("sample", tmp.resolve("layout").toString());
    assertThat(sample.exitCode()).as(sample.err()).isZero();
    String spec = sample.out().strip();
    assertThat(spec).isEqualTo("oci:" + tmp.resolve("layout") + ":latest");
    Path output = tmp.resolve("sample.tar");

    MainTest.Run render = MainTest.run("render", spec, "--format", "tar", "--output", output.toString());

    assertThat(render.exitCode()).as(render.err()).isZero();
    assertThat(render.errLines()).hasSize(1).first().asString().startsWith("rendered " + spec);
    Map<String, TarArchiveEntry> entries = new HashMap<>();
    Map<String, String> contents = new HashMap<>();
    try (InputStream in = Files.newInputStream(output); TarArchiveInputStream tar = new TarArchiveInputStream(in)) {
      for (TarArchiveEntry e; (e = tar.getNextEntry()) != null; ) {
        String name = e.getName().replaceAll("^\\./", "").replaceAll("/$", "");
        entries.put(name, e);
        if (e.isFile()) {
          contents.put(name, new String(tar.readAllBytes(), StandardCharsets.UTF_8));
        }
      }
    }
    assertThat(contents).containsEntry("etc/hostname", "sample-v2\n");
    assertThat(contents.get("usr/bin/tool")).contains("tool v2");
    assertThat(entries).doesNotContainKeys("etc/motd", "var/cache/a.dat", "var/cache/b.dat", "home/user", "home/user/.profile");
    assertThat(entries).containsKeys("var/cache/fresh.dat", "home", "opt/app/run.sh", "opt/app/run");
    assertThat(entries.get("bin").isSymbolicLink()).isTrue();
    assertThat(entries.get("bin").getLinkName()).isEqualTo("usr/bin");
    // tool-alias was a hard link to the v1 tool; v1 was replaced, so the alias keeps v1 content.
    assertThat(contents.get("usr/bin/tool-alias")).contains("tool v1");
    // run.sh and run stay one inode: one file plus one hard link to it.
    TarArchiveEntry run = entries.get("opt/app/run");
    TarArchiveEntry runSh = entries.get("opt/app/run.sh");
    assertThat(run.isLink() || runSh.isLink()).isTrue();
    try (var files = Files.list(tmp)) {
      assertThat(files.map(p -> p.getFileName().toString())).containsExactlyInAnyOrder("layout", "sample.tar");
    }
  }
}
