package dev.ocirender.render;

import dev.ocirender.image.Messages;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ocirender.image.Descriptor;
import dev.ocirender.image.Digest;
import dev.ocirender.image.Platform;
import dev.ocirender.layer.EntryHeader;
import dev.ocirender.layer.LayerBlob;
import dev.ocirender.output.EntrySink;
import dev.ocirender.source.ImageSource;
import dev.ocirender.source.ResolvedImage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.util.ArrayList;
import java.util.List;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.junit.jupiter.api.Test;

/**
 * The renderer's own duties: errors name the image, bytes are counted, listeners hear about
 * layers.
 */
class RendererTest {

  private static final String REF = "test:image";
  private static final Platform AMD64 = Platform.LINUX_AMD64;

  @Test
  void resolveFailure_messageNamesImageOnOneLine() {
    ImageSource source = new FakeSource(null) {
      @Override
      public ResolvedImage resolve(Platform p) throws IOException {
        throw new IOException("no manifest for linux/amd64\nin index");
      }
    };
    assertThatThrownBy(() -> new Renderer().render(source, AMD64, RecordingSink::new))
        .isInstanceOf(RenderException.class)
        .hasMessage("test:image: no manifest for linux/amd64 in index");
  }

  @Test
  void render_countsEveryBlobByteAndReportsEachLayer() throws IOException {
    byte[] l0 = tar("etc/a", "one");
    byte[] l1 = tar("etc/b", "two");
    RecordingSink sink = new RecordingSink();
    List<String> events = new ArrayList<>();
    long[] lastBytes = {-1};
    RenderListener listener = new RenderListener() {
      @Override
      public void imageResolved(ResolvedImage image) {
        events.add("resolved " + image.layers().size());
      }

      @Override
      public void layerStarted(LayerBlob layer) {
        events.add("start " + layer.index());
      }

      @Override
      public void layerFinished(LayerBlob layer, long entriesRead) {
        events.add("finish " + layer.index());
      }

      @Override
      public void bytesRead(long totalBytes) {
        lastBytes[0] = totalBytes;
      }
    };
    RenderResult result = new Renderer(listener).render(new FakeSource(List.of(l0, l1)), AMD64, () -> sink);

    assertThat(result.bytesRead()).isGreaterThanOrEqualTo(l0.length + l1.length);
    assertThat(lastBytes[0]).isEqualTo(result.bytesRead());
    assertThat(events).startsWith("resolved 2").contains("start 0", "finish 0", "start 1", "finish 1");
    assertThat(result.stats().files()).isEqualTo(2);
    assertThat(sink.paths).contains("etc/a", "etc/b");
    assertThat(result.image().reference()).isEqualTo(REF);
  }

  @Test
  void pathEscapingRoot_messageNamesImageLayerAndEntry() throws IOException {
    byte[] evil = tar("../../etc/passwd", "x");
    assertThatThrownBy(() -> new Renderer().render(new FakeSource(List.of(tar("ok", "1"), evil)), AMD64, RecordingSink::new))
        .isInstanceOf(RenderException.class)
        .hasMessageStartingWith("test:image: ")
        .hasMessageContaining("layer 1 (")
        .hasMessageContaining("etc/passwd")
        .matches(e -> !e.getMessage().contains("\n"), "one line");
  }

  @Test
  void missingBlob_messageNamesImageAndLayer() {
    FakeSource source = new FakeSource(List.of(new byte[0])) {
      @Override
      InputStream open(int index) throws IOException {
        throw new NoSuchFileException("/layout/blobs/sha256/abc");
      }
    };
    assertThatThrownBy(() -> new Renderer().render(source, AMD64, RecordingSink::new))
        .isInstanceOf(RenderException.class)
        .hasMessageStartingWith("test:image: ")
        .hasMessageContaining("no such file: /layout/blobs/sha256/abc");
  }

  @Test
  void describe_spellsOutPathOnlyExceptions() {
    assertThat(Messages.describe(new NoSuchFileException("/x"))).isEqualTo("no such file: /x");
    assertThat(Messages.describe(new IOException())).isEqualTo("IOException");
  }

  @Test
  void automaticDecodeThreads_decodeAheadOnlyWhenALayerIsSlowToDecode() {
    long big = Renderer.DECODE_AHEAD_MIN_BYTES;
    LayerBlob gzip = layerOfType("application/vnd.oci.image.layer.v1.tar+gzip", big);
    LayerBlob zstd = layerOfType("application/vnd.oci.image.layer.v1.tar+zstd", big);
    LayerBlob sniffed = layerOfType("application/vnd.oci.image.layer.v1.tar", big); // may be bzip2 or xz
    LayerBlob smallGzip = layerOfType("application/vnd.oci.image.layer.v1.tar+gzip", big / 4);
    LayerBlob smallSniffed = layerOfType("application/vnd.oci.image.layer.v1.tar", big / 4);
    int processors = Runtime.getRuntime().availableProcessors();
    String inflater = System.getProperty(dev.ocirender.layer.inflate.GzipDecoding.PROPERTY);
    try {
      System.setProperty(dev.ocirender.layer.inflate.GzipDecoding.PROPERTY, "jdk");
      assertThat(Renderer.automaticDecodeThreads(List.of(zstd, gzip))).isEqualTo(processors);
      assertThat(Renderer.automaticDecodeThreads(List.of(zstd, zstd))).isEqualTo(1);
      assertThat(Renderer.automaticDecodeThreads(List.of(zstd, sniffed))).isEqualTo(processors);
      // Slow layers, but too few bytes to decode for decoding ahead to pay for its threads.
      assertThat(Renderer.automaticDecodeThreads(List.of(smallGzip, smallSniffed))).isEqualTo(1);
      assertThat(Renderer.automaticDecodeThreads(List.of(smallGzip, smallSniffed, smallGzip, smallSniffed)))
          .isEqualTo(processors);
      System.setProperty(dev.ocirender.layer.inflate.GzipDecoding.PROPERTY, "auto");
      if (dev.ocirender.layer.inflate.GzipDecoding.usesIsal()) {
        assertThat(Renderer.automaticDecodeThreads(List.of(zstd, gzip))).isEqualTo(1);
      }
    } finally {
      if (inflater == null) {
        System.clearProperty(dev.ocirender.layer.inflate.GzipDecoding.PROPERTY);
      } else {
        System.setProperty(dev.ocirender.layer.inflate.GzipDecoding.PROPERTY, inflater);
      }
    }
  }

  /** A layer whose descriptor declares {@code size} bytes (never opened). */
  private static LayerBlob layerOfType(String mediaType, long size) {
    byte[] blob = {1, 2, 3};
    return new LayerBlob(0, new Descriptor(mediaType, Digest.sha256Of(blob), size), null,
        () -> new ByteArrayInputStream(blob));
  }

  static byte[] tar(String path, String content) throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (TarArchiveOutputStream tar = new TarArchiveOutputStream(bytes)) {
      byte[] data = content.getBytes(StandardCharsets.UTF_8);
      TarArchiveEntry e = new TarArchiveEntry(path, true); // preserve the name as given, even "../"
      e.setSize(data.length);
      e.setMode(0100644);
      tar.putArchiveEntry(e);
      tar.write(data);
      tar.closeArchiveEntry();
    }
    return bytes.toByteArray();
  }

  /** A source serving uncompressed layer tars from memory. */
  static class FakeSource implements ImageSource {
    private final List<byte[]> layers;

    FakeSource(List<byte[]> layers) {
      this.layers = layers;
    }

    @Override
    public String reference() {
      return REF;
    }

    InputStream open(int index) throws IOException {
      return new ByteArrayInputStream(layers.get(index));
    }

    @Override
    public ResolvedImage resolve(Platform p) throws IOException {
      List<LayerBlob> blobs = new ArrayList<>();
      for (int i = 0; i < layers.size(); i++) {
        int index = i;
        Descriptor d = new Descriptor("application/vnd.oci.image.layer.v1.tar", Digest.sha256Of(layers.get(i)), layers.get(i).length);
        blobs.add(new LayerBlob(i, d, null, () -> open(index)));
      }
      Descriptor manifest = new Descriptor("application/vnd.oci.image.manifest.v1+json", Digest.sha256Of(new byte[] {1}), 1);
      Descriptor config = new Descriptor("application/vnd.oci.image.config.v1+json", Digest.sha256Of(new byte[] {2}), 1);
      return new ResolvedImage(REF, manifest, p, config, new dev.ocirender.image.json.ImageConfigTemplate(), blobs);
    }

    @Override
    public InputStream openBlob(Descriptor d) {
      throw new UnsupportedOperationException();
    }

    @Override
    public void close() {}
  }

  /** Remembers paths; keeps no content. */
  static final class RecordingSink implements EntrySink {
    final List<String> paths = new ArrayList<>();

    @Override
    public void accept(EntryHeader header, InputStream content) throws IOException {
      paths.add(header.path().toString());
      if (content != null) {
        content.transferTo(java.io.OutputStream.nullOutputStream());
      }
    }

    @Override
    public void finish() {}

    @Override
    public void close() {}
  }
}
