package dev.ocirender.layer.inflate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ocirender.testing.ExternalTools;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The {@value GzipDecoding#PROPERTY} switch: each value gets the decoder it names, and says so. */
class GzipDecodingTest {

  private final String before = System.getProperty(GzipDecoding.PROPERTY);

  @AfterEach
  void restore() {
    if (before == null) {
      System.clearProperty(GzipDecoding.PROPERTY);
    } else {
      System.setProperty(GzipDecoding.PROPERTY, before);
    }
  }

  @Test
  void jdk_forcesGzipInputStream() throws IOException {
    System.setProperty(GzipDecoding.PROPERTY, "jdk");
    try (InputStream in = GzipDecoding.open(new ByteArrayInputStream(gzip("x")))) {
      assertThat(in).isInstanceOf(GZIPInputStream.class);
      assertThat(in.readAllBytes()).containsExactly('x');
    }
    assertThat(GzipDecoding.describe()).isEqualTo("JDK java.util.zip (ocirender.inflater=jdk)");
  }

  @Test
  void autoAndIsal_useIsaLWhereItLoads() throws IOException {
    if (Isal.failure() != null) {
      ExternalTools.skipOrFail("ISA-L (Debian libisal2) not loadable: " + Isal.failure());
    }
    for (String value : new String[] {"auto", "isal", "ISAL"}) {
      System.setProperty(GzipDecoding.PROPERTY, value);
      try (InputStream in = GzipDecoding.open(new ByteArrayInputStream(gzip("y")))) {
        assertThat(in).isInstanceOf(IsalGzipInputStream.class);
        assertThat(in.readAllBytes()).containsExactly('y');
      }
      assertThat(GzipDecoding.describe()).isEqualTo("ISA-L igzip (libisal2)");
    }
  }

  @Test
  void unknownValue_failsNamingTheProperty() {
    System.setProperty(GzipDecoding.PROPERTY, "zlib-ng");
    assertThatThrownBy(() -> GzipDecoding.open(new ByteArrayInputStream(new byte[0])))
        .isInstanceOf(IllegalStateException.class).hasMessageContaining("ocirender.inflater").hasMessageContaining("zlib-ng");
  }

  private static byte[] gzip(String s) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
      gz.write(s.getBytes(java.nio.charset.StandardCharsets.US_ASCII));
    }
    return out.toByteArray();
  }
}
