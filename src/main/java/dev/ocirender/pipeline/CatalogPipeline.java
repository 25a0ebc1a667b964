package dev.ocirender.pipeline;

import dev.ocirender.store.OutputStores;
import dev.ocirender.store.S3ClientFactory;
import dev.ocirender.store.S3Settings;
import dev.ocirender.store.S3StoreOptions;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import org.apache.beam.runners.dataflow.DataflowRunner;
import org.apache.beam.sdk.Pipeline;
import org.apache.beam.sdk.io.aws2.s3.DefaultS3ClientBuilderFactory;
import org.apache.beam.sdk.PipelineResult;
import org.apache.beam.sdk.io.TextIO;
import org.apache.beam.sdk.options.PipelineOptionsFactory;
import org.apache.beam.sdk.transforms.Flatten;
import org.apache.beam.sdk.values.PCollection;
import org.apache.beam.sdk.values.PCollectionList;
import org.apache.beam.sdk.values.PCollectionTuple;
import org.apache.beam.sdk.values.TupleTag;

/**
 * The catalog pipeline: renders every image of a catalog into object storage.
 *
 * <pre>
 * ReadCatalog -> ResolveImages -> DeduplicateImages -> SkipExisting -> RenderImages -> results
 *                                                                    (Affinity: by base)
 *      \               \                                    \               \
 *       +---------------+------------ dead letters ----------+---------------+
 * </pre>
 *
 * <p>Every catalog line that names an image ends in exactly one record: a result
 * ({@code <resultsPrefix>results-*.jsonl}; status rendered, skipped or duplicate) or a dead letter
 * ({@code <resultsPrefix>dead-letters-*.jsonl}). Outputs go to the stores of
 * {@code dev.ocirender.store}. Run with any runner: DirectRunner by default, FlinkRunner
 * ({@code --runner=FlinkRunner --flinkMaster=[local]}), Dataflow through a Flex Template. It does
 * not retry failed images itself (a re-run does that, skipping what is done) and does not delete
 * outputs that the catalog no longer names.
 */
public final class CatalogPipeline {

  /** Result records, one JSON line per catalog line that has an output. */
  public static final TupleTag<String> RESULTS = new TupleTag<>() {};
  /** Dead-letter records, one JSON line per catalog line that failed. */
  public static final TupleTag<String> DEAD_LETTERS = new TupleTag<>() {};

  private CatalogPipeline() {}

  /** What the pipeline produces, before it is written: for tests ({@code PAssert}) and callers that add steps. */
  public record Outputs(PCollection<String> results, PCollection<String> deadLetters) {}

  public static void main(String[] args) {
    PipelineOptionsFactory.register(S3StoreOptions.class);
    CatalogPipelineOptions options = PipelineOptionsFactory.fromArgs(args).withValidation().as(CatalogPipelineOptions.class);
    PipelineResult result = run(options);
    // The Dataflow Flex Template launcher runs this main: it must return once the job is submitted,
    // not hold the launcher VM for the whole job.
    if (!DataflowRunner.class.isAssignableFrom(options.getRunner())) {
      result.waitUntilFinish();
    }
  }

  /** Builds and starts the pipeline; the caller waits for it. */
  public static PipelineResult run(CatalogPipelineOptions options) {
    // Absolute local paths; on a Flink cluster also the parallelism and restart checks (FlinkSubmission).
    FlinkSubmission.prepare(options, new PrintWriter(new OutputStreamWriter(System.err, StandardCharsets.UTF_8), true));
    // s3:// catalogs and results through Beam's S3 filesystem, with --s3PathStyleAccess applied like for outputs.
    S3StoreOptions s3 = options.as(S3StoreOptions.class);
    if (s3.getS3ClientFactoryClass() == DefaultS3ClientBuilderFactory.class) {
      s3.setS3ClientFactoryClass(S3ClientFactory.class);
    }
    Pipeline pipeline = Pipeline.create(options);
    Outputs outputs = expand(pipeline, options);
    write(outputs, options.getResultsPrefix());
    return pipeline.run();
  }

  /**
   * Adds the catalog steps to {@code pipeline}.
   *
   * @throws IllegalArgumentException when the default format or platform, or a registry option, is invalid
   */
  public static Outputs expand(Pipeline pipeline, CatalogPipelineOptions options) {
    CatalogParser parser = new CatalogParser(options.getOutputPrefix(), options.getPlatform(), options.getFormat());
    OutputStores stores = new OutputStores(options.getOutputGcsHost(), S3Settings.from(options));
    WorkerRegistries.Settings registries = WorkerRegistries.Settings.from(options);
    registries.toRegistryOptions(); // invalid settings fail here, at construction, not on every worker

    PCollectionTuple parsed = pipeline.apply("ReadCatalog", new ReadCatalog(options.getCatalog(), parser));
    PCollectionTuple resolved = parsed.get(ReadCatalog.REQUESTS).apply("ResolveImages", new ResolveImages(registries));
    PCollection<ImageGroup> groups = resolved.get(ResolveImages.RESOLVED).apply("DeduplicateImages", new DeduplicateImages());
    PCollectionTuple checked = groups.apply("SkipExisting", new SkipExisting(stores, options.getOverwrite()));
    PCollectionTuple rendered = checked.get(SkipExisting.TO_RENDER).apply("RenderImages",
        new RenderImages(stores, registries, options.getVerifyOutputs(), RenderImages.Limits.from(options),
            LayerCacheSettings.from(options), Affinity.Settings.from(options)));

    PCollection<String> results = PCollectionList.of(checked.get(RESULTS)).and(rendered.get(RESULTS))
        .apply("AllResults", Flatten.pCollections());
    PCollection<String> deadLetters = PCollectionList.of(parsed.get(DEAD_LETTERS)).and(resolved.get(DEAD_LETTERS))
        .and(checked.get(DEAD_LETTERS)).and(rendered.get(DEAD_LETTERS))
        .apply("AllDeadLetters", Flatten.pCollections());
    return new Outputs(results, deadLetters);
  }

  /** Writes results and dead letters as JSON Lines files under {@code resultsPrefix}. */
  public static void write(Outputs outputs, String resultsPrefix) {
    outputs.results().apply("WriteResults", TextIO.write().to(resultsPrefix + "results").withSuffix(".jsonl"));
    outputs.deadLetters().apply("WriteDeadLetters", TextIO.write().to(resultsPrefix + "dead-letters").withSuffix(".jsonl"));
  }
}
