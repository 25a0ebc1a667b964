package dev.ocirender.render;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ocirender.layer.EntryHeader;
import dev.ocirender.layer.EntryPath;
import dev.ocirender.layer.EntryType;
import dev.ocirender.output.EntrySink;
import dev.ocirender.store.LocalOutputStore;
import dev.ocirender.store.OutputMetadata;
import dev.ocirender.store.StoredOutput;
import dev.ocirender.testing.ExternalTools;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link StoreRenderTarget} through the local store: as for files, only a finished attempt is
 * published, and only on {@code publish()}; squashfs is written in place into the store's
 * temporary file (no spool), and the sha256 recorded is the published file's. Outputs are read back
 * with tar and unsquashfs, digests with sha256sum.
 */
class StoreRenderTargetTest {

  @TempDir Path dir;

  private StoreRenderTarget target(String name, OutputFormat format) {
    return new StoreRenderTarget(new LocalOutputStore(), dir.resolve(name).toString(), format,
        OutputMetadata.of("oci:test", "sha256:" + "0".repeat(64), "linux/amd64", format.name().toLowerCase()), null);
  }

  private static void writeFile(EntrySink sink, String path, String content) throws IOException {
    byte[] bytes = content.getBytes(StandardCharsets.UTF_8);
    sink.accept(EntryHeader.builder(EntryType.FILE, EntryPath.of(path)).mode(0644).size(bytes.length).build(),
        new ByteArrayInputStream(bytes));
  }

  private String tarList(Path tar) {
    return ExternalTools.output("tar", "-tf", tar.toString()).strip();
  }

  @Test
  void restartedMerge_publishesOnlyTheFinishedSecondAttempt_tar() throws IOException {
    Path output = dir.resolve("out.tar");
    StoredOutput stored;
    try (StoreRenderTarget target = target("out.tar", OutputFormat.TAR)) {
      EntrySink first = target.open();
      writeFile(first, "first", "abandoned");
      first.close(); // the merge restarts without finishing
      EntrySink second = target.open();
      writeFile(second, "second", "kept");
      second.finish();
      second.close();
      assertThat(output).doesNotExist();
      stored = target.publish();
    }
    assertThat(tarList(output)).isEqualTo("second");
    assertThat(stored.size()).isEqualTo(Files.size(output));
    assertThat(leftovers()).isEmpty();
  }

  @Test
  void squashfs_isWrittenInPlace_publishedOnlyWhenFinished_withTheFilesSha256() throws IOException {
    ExternalTools.assumeTools("unsquashfs", "sha256sum");
    Path output = dir.resolve("out.sqfs");
    long spoolsBefore = spools();
    StoredOutput stored;
    try (StoreRenderTarget target = target("out.sqfs", OutputFormat.SQUASHFS)) {
      EntrySink first = target.open();
      writeFile(first, "first", "abandoned");
      first.close();
      assertThat(leftovers()).as("the abandoned attempt's temporary").isEmpty();
      EntrySink second = target.open();
      assertThat(spools()).as("no spool file: written in place").isEqualTo(spoolsBefore);
      assertThat(leftovers()).as("the attempt's temporary beside the output").hasSize(1);
      writeFile(second, "second", "kept");
      writeFile(second, "copy", "kept");
      second.finish();
      second.close();
      assertThat(output).doesNotExist();
      stored = target.publish();
    }
    String listing = ExternalTools.output("unsquashfs", "-l", output.toString());
    assertThat(listing).contains("squashfs-root/second").contains("squashfs-root/copy").doesNotContain("first");
    assertThat(leftovers()).isEmpty();
    String sha256sum = ExternalTools.output("sha256sum", output.toString()).split(" ")[0];
    assertThat(stored.metadata().sha256()).isEqualTo(sha256sum);
    assertThat(stored.size()).isEqualTo(Files.size(output));
    assertThat(new LocalOutputStore().stat(output.toString()).orElseThrow().metadata().sha256())
        .as("the sidecar's record").isEqualTo(sha256sum);
  }

  @Test
  void squashfs_inPlace_isTheSameImageAsThroughTheCopyingStore() throws IOException {
    // The same entries into the in-place local store and into a store that only has create(): the
    // bytes and the recorded sha256 must not depend on how the image reached the store.
    StoredOutput direct;
    try (StoreRenderTarget target = target("direct.sqfs", OutputFormat.SQUASHFS)) {
      EntrySink sink = target.open();
      writeFile(sink, "a", "x".repeat(300_000));
      writeFile(sink, "b", "y");
      sink.finish();
      sink.close();
      direct = target.publish();
    }
    dev.ocirender.store.OutputStore copying = new dev.ocirender.store.OutputStore() {
      private final LocalOutputStore local = new LocalOutputStore();

      @Override
      public java.util.Optional<StoredOutput> stat(String uri) throws IOException {
        return local.stat(uri);
      }

      @Override
      public dev.ocirender.store.Upload create(String uri, OutputMetadata metadata, String replaceVersion) throws IOException {
        return local.create(uri, metadata, replaceVersion);
      }

      @Override
      public boolean isLocal(String uri) {
        return true;
      }

      @Override
      public void close() {}
    };
    StoredOutput copied;
    try (StoreRenderTarget target = new StoreRenderTarget(copying, dir.resolve("copied.sqfs").toString(), OutputFormat.SQUASHFS,
        OutputMetadata.of("oci:test", "sha256:" + "0".repeat(64), "linux/amd64", "squashfs"), null)) {
      EntrySink sink = target.open();
      writeFile(sink, "a", "x".repeat(300_000));
      writeFile(sink, "b", "y");
      sink.finish();
      sink.close();
      copied = target.publish();
    }
    assertThat(Files.readAllBytes(dir.resolve("direct.sqfs"))).isEqualTo(Files.readAllBytes(dir.resolve("copied.sqfs")));
    assertThat(direct.metadata().sha256()).isEqualTo(copied.metadata().sha256());
    assertThat(direct.size()).isEqualTo(copied.size());
  }

  @Test
  void squashfs_inPlace_pastTheOutputCap_publishesNothing() throws IOException {
    dev.ocirender.store.OutputStore capped = dev.ocirender.store.OutputStores.limited(new LocalOutputStore(), 4096);
    try (StoreRenderTarget target = new StoreRenderTarget(capped, dir.resolve("big.sqfs").toString(), OutputFormat.SQUASHFS,
        OutputMetadata.of("oci:test", "sha256:" + "0".repeat(64), "linux/amd64", "squashfs"), null)) {
      EntrySink sink = target.open();
      writeFile(sink, "noise", new java.util.Random(1).ints(200_000, 'a', 'z' + 1)
          .collect(StringBuilder::new, StringBuilder::appendCodePoint, StringBuilder::append).toString());
      sink.finish();
      sink.close();
      assertThatThrownBy(target::publish).isInstanceOf(dev.ocirender.store.Upload.OutputTooLargeException.class)
          .hasMessageContaining("big.sqfs");
    }
    assertThat(dir.resolve("big.sqfs")).doesNotExist();
    assertThat(leftovers()).isEmpty();
  }

  @Test
  void aSecondFinishedAttempt_replacesTheFirst_whichLeavesNoTrace() throws IOException {
    try (StoreRenderTarget target = target("out.tar", OutputFormat.TAR)) {
      for (String name : new String[] {"one", "two"}) {
        EntrySink sink = target.open();
        writeFile(sink, name, name);
        sink.finish();
        sink.close();
      }
      target.publish();
    }
    assertThat(tarList(dir.resolve("out.tar"))).isEqualTo("two");
    assertThat(leftovers()).isEmpty();
  }

  @Test
  void failureAfterFinish_publishesNothing() throws IOException {
    try (StoreRenderTarget target = target("out.tar", OutputFormat.TAR)) {
      EntrySink sink = target.open();
      writeFile(sink, "a", "x");
      sink.finish();
      sink.close();
      // the merge fails after the sink finished: the caller never publishes, only closes
    }
    assertThat(dir.resolve("out.tar")).doesNotExist();
    assertThat(leftovers()).isEmpty();
  }

  @Test
  void sinkLeftOpen_isAbandonedOnClose_andPublishWithoutFinishIsAnError() throws IOException {
    try (StoreRenderTarget target = target("out.tar", OutputFormat.TAR)) {
      EntrySink sink = target.open();
      writeFile(sink, "a", "x");
      assertThatThrownBy(target::publish).isInstanceOf(IllegalStateException.class).hasMessageContaining("out.tar");
    }
    assertThat(leftovers()).isEmpty();
  }

  /** Hidden files in the output directory: the temporary files of unpublished attempts. */
  private java.util.List<String> leftovers() throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith(".")).toList();
    }
  }

  private static long spools() throws IOException {
    try (Stream<Path> s = Files.list(Path.of(System.getProperty("java.io.tmpdir")))) {
      return s.filter(p -> p.getFileName().toString().startsWith("ocirender-") && p.toString().endsWith(".sqfs")).count();
    }
  }
}
