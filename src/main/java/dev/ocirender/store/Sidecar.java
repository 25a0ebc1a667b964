package dev.ocirender.store;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The metadata record that file stores keep beside an output, {@code NAME.ocirender.json}: the
 * {@link OutputMetadata} pairs plus the output's size, so a sidecar that outlived a replaced output
 * is recognised as stale. Written after the output is in place, so an output without a sidecar is
 * an incomplete publish and gets rendered again.
 */
final class Sidecar {

  static final String SUFFIX = ".ocirender.json";
  private static final String SIZE = OutputMetadata.PREFIX + "size";
  private static final ObjectMapper JSON = new ObjectMapper();

  private Sidecar() {}

  static String nameFor(String output) {
    return output + SUFFIX;
  }

  static byte[] encode(OutputMetadata metadata, long size) throws IOException {
    Map<String, String> m = new LinkedHashMap<>(metadata.toMap());
    m.put(SIZE, Long.toString(size));
    return JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(m);
  }

  /** The metadata if {@code bytes} is a sidecar for an output of {@code size} bytes, else null. */
  static OutputMetadata decode(byte[] bytes, long size) {
    try {
      Map<String, String> m = JSON.readValue(bytes, new TypeReference<Map<String, String>>() {});
      if (!Long.toString(size).equals(m.get(SIZE))) {
        return null;
      }
      return OutputMetadata.fromMap(m);
    } catch (IOException e) {
      return null; // unreadable: treated like a missing record, so the output is rendered again
    }
  }
}
