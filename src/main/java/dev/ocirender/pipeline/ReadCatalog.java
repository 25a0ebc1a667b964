package dev.ocirender.pipeline;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.channels.Channels;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import org.apache.beam.sdk.coders.StringUtf8Coder;
import org.apache.beam.sdk.io.FileIO;
import org.apache.beam.sdk.io.fs.EmptyMatchTreatment;
import org.apache.beam.sdk.transforms.DoFn;
import org.apache.beam.sdk.transforms.PTransform;
import org.apache.beam.sdk.transforms.ParDo;
import org.apache.beam.sdk.values.PBegin;
import org.apache.beam.sdk.values.PCollectionTuple;
import org.apache.beam.sdk.values.TupleTag;
import org.apache.beam.sdk.values.TupleTagList;

/**
 * Reads the catalog files matching a pattern and parses every line: requests on
 * {@link #REQUESTS}, malformed lines as dead letters (with file and line number) on
 * {@link CatalogPipeline#DEAD_LETTERS}. Each file is read whole by one worker, in order, so line
 * numbers are exact; a catalog of thousands of lines is small. No file matching is an error of the
 * job, not a dead letter.
 */
public final class ReadCatalog extends PTransform<PBegin, PCollectionTuple> {

  public static final TupleTag<ImageRequest> REQUESTS = new TupleTag<>() {};

  private final String pattern;
  private final CatalogParser parser;

  public ReadCatalog(String pattern, CatalogParser parser) {
    this.pattern = pattern;
    this.parser = parser;
  }

  @Override
  public PCollectionTuple expand(PBegin input) {
    PCollectionTuple out = input
        .apply("MatchCatalogFiles", FileIO.match().filepattern(pattern).withEmptyMatchTreatment(EmptyMatchTreatment.DISALLOW))
        .apply("OpenCatalogFiles", FileIO.readMatches())
        .apply("ParseCatalogLines", ParDo.of(new ParseCatalogFn(parser))
            .withOutputTags(REQUESTS, TupleTagList.of(CatalogPipeline.DEAD_LETTERS)));
    out.get(REQUESTS).setCoder(ElementCoders.ImageRequestCoder.of());
    out.get(CatalogPipeline.DEAD_LETTERS).setCoder(StringUtf8Coder.of());
    return out;
  }

  /** Parses one catalog file line by line. */
  static final class ParseCatalogFn extends DoFn<FileIO.ReadableFile, ImageRequest> {
    private final CatalogParser parser;

    ParseCatalogFn(CatalogParser parser) {
      this.parser = parser;
    }

    @ProcessElement
    public void process(@Element FileIO.ReadableFile file, MultiOutputReceiver out) throws IOException {
      String catalog = file.getMetadata().resourceId().toString();
      var decoder = StandardCharsets.UTF_8.newDecoder()
          .onMalformedInput(CodingErrorAction.REPLACE).onUnmappableCharacter(CodingErrorAction.REPLACE);
      try (BufferedReader reader = new BufferedReader(new InputStreamReader(Channels.newInputStream(file.open()), decoder))) {
        long line = 0;
        for (String text = reader.readLine(); text != null; text = reader.readLine()) {
          line++;
          if (!CatalogParser.isImageLine(text)) {
            continue;
          }
          PipelineMetrics.catalogLines.inc();
          try {
            out.get(REQUESTS).output(parser.parse(catalog, line, text));
          } catch (Exception | Error e) { // a malformed line (or one deep enough to break a parser) is that line's dead letter
            PerImage.rethrowIfFatal(e);
            PipelineMetrics.deadLetters.inc();
            out.get(CatalogPipeline.DEAD_LETTERS).output(Records.deadLetter("parse", catalog, line, text, null, e));
          }
        }
      }
    }
  }
}
