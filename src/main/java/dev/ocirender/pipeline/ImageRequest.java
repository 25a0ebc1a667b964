package dev.ocirender.pipeline;

import java.util.Comparator;

/**
 * One catalog line, parsed and completed with the pipeline's defaults: what to render, for which
 * platform, in which format, and where to. Keeps the line itself for result and dead-letter
 * records.
 *
 * @param catalog the catalog file the line came from
 * @param line the 1-based line number
 * @param text the line as written
 * @param image the image reference
 * @param platform normalised {@code os/arch[/variant]}
 * @param format the format's name ({@code tar})
 * @param output the output URI
 *
 * <p>Carried between steps by {@link ElementCoders} (deterministic, field by field).
 */
public record ImageRequest(String catalog, long line, String text, String image, String platform, String format, String output) {

  /** Catalog order: by file, then line. What makes the choice among duplicates deterministic. */
  public static final Comparator<ImageRequest> CATALOG_ORDER =
      Comparator.comparing(ImageRequest::catalog).thenComparingLong(ImageRequest::line);
}
