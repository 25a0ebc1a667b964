package dev.ocirender.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AtomicFileOutputTest {

  @TempDir Path dir;

  @Test
  void publish_movesContentToTargetAndLeavesNoTemp() throws IOException {
    Path target = dir.resolve("out.tar");
    try (AtomicFileOutput out = AtomicFileOutput.create(target)) {
      assertThat(out.tempFile().getParent()).isEqualTo(target.getParent());
      assertThat(out.tempFile().getFileName().toString()).startsWith(".out.tar.tmp-");
      out.stream().write("hello".getBytes(StandardCharsets.UTF_8));
      assertThat(target).doesNotExist();
      out.publish();
    }
    assertThat(target).hasContent("hello");
    assertThat(list(dir)).containsExactly("out.tar");
  }

  @Test
  void writtenBackInTheBackgroundAsItGrows_publishesExactlyTheBytesWritten() throws IOException {
    Path target = dir.resolve("out.tar");
    byte[] chunk = new byte[100_000];
    java.util.Random random = new java.util.Random(7);
    java.security.MessageDigest expected = sha256();
    int writebacks;
    try (AtomicFileOutput out = AtomicFileOutput.create(target, 1 << 20, false)) {
      for (int i = 0; i < 60; i++) {
        random.nextBytes(chunk);
        out.stream().write(chunk, 0, chunk.length - i); // odd sizes, so write-backs fall mid-buffer
        expected.update(chunk, 0, chunk.length - i);
      }
      assertThat(target).as("nothing under the final name before publish").doesNotExist();
      out.publish();
      writebacks = out.writebacks();
    }
    assertThat(writebacks).as("background write-backs of a 6 MB output every 1 MiB").isBetween(1, 6);
    assertThat(sha256().digest(Files.readAllBytes(target))).isEqualTo(expected.digest());
    assertThat(list(dir)).containsExactly("out.tar");
  }

  @Test
  void writtenBackInTheBackground_butClosedUnpublished_leavesNothing() throws IOException {
    Path target = dir.resolve("out.tar");
    try (AtomicFileOutput out = AtomicFileOutput.create(target, 1 << 16)) {
      out.stream().write(new byte[1 << 20]);
      out.stream().flush();
    }
    assertThat(target).doesNotExist();
    assertThat(list(dir)).isEmpty();
  }

  private static java.security.MessageDigest sha256() {
    try {
      return java.security.MessageDigest.getInstance("SHA-256");
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new AssertionError(e);
    }
  }

  @Test
  void closeWithoutPublish_deletesTempAndCreatesNothing() throws IOException {
    Path target = dir.resolve("out.tar");
    try (AtomicFileOutput out = AtomicFileOutput.create(target)) {
      out.stream().write(new byte[100_000]);
      assertThat(out.tempFile()).exists();
    }
    assertThat(list(dir)).isEmpty();
  }

  @Test
  void closingTheStreamFirst_stillPublishes() throws IOException {
    // Sinks close their stream when closed; the file must still be publishable afterwards.
    Path target = dir.resolve("out.tar");
    try (AtomicFileOutput out = AtomicFileOutput.create(target)) {
      try (OutputStream s = out.stream()) {
        s.write('x');
      }
      out.publish();
    }
    assertThat(target).hasContent("x");
  }

  @Test
  void publish_replacesExistingFile_andFailureKeepsIt() throws IOException {
    Path target = dir.resolve("out.tar");
    Files.writeString(target, "old");
    try (AtomicFileOutput out = AtomicFileOutput.create(target)) {
      out.stream().write("broken".getBytes(StandardCharsets.UTF_8));
    }
    assertThat(target).hasContent("old");
    try (AtomicFileOutput out = AtomicFileOutput.create(target)) {
      out.stream().write("new".getBytes(StandardCharsets.UTF_8));
      out.publish();
    }
    assertThat(target).hasContent("new");
    assertThat(list(dir)).containsExactly("out.tar");
  }

  @Test
  void missingDirectory_failsNamingIt() {
    assertThatThrownBy(() -> AtomicFileOutput.create(dir.resolve("nope/out.tar")))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("does not exist");
  }

  @Test
  void targetIsDirectory_fails() throws IOException {
    Files.createDirectory(dir.resolve("sub"));
    assertThatThrownBy(() -> AtomicFileOutput.create(dir.resolve("sub")))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("is a directory");
  }

  static java.util.List<String> list(Path dir) throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }
}
