package dev.ocirender.layer;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Test helper: everything {@link LayerTarReader} yields for an archive, content included. */
public final class TarEntries {

  public record Read(EntryHeader header, byte[] rawName, byte[] content, long ordinal) {}

  private TarEntries() {}

  public static List<Read> readAll(InputStream tar) throws IOException {
    List<Read> out = new ArrayList<>();
    try (LayerTarReader reader = new LayerTarReader(tar)) {
      EntryHeader h;
      while ((h = reader.next()) != null) {
        out.add(new Read(h, reader.rawName().clone(), reader.content().readAllBytes(), reader.ordinal()));
      }
    }
    return out;
  }

  public static List<Read> readAll(byte[] tar) throws IOException {
    return readAll(new ByteArrayInputStream(tar));
  }

  /** By normalised path; the last entry for a path wins, as in tar. */
  public static Map<EntryPath, Read> byPath(List<Read> entries) {
    Map<EntryPath, Read> map = new LinkedHashMap<>();
    for (Read r : entries) {
      map.put(r.header().path(), r);
    }
    return map;
  }
}
