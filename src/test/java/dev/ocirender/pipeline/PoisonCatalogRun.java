package dev.ocirender.pipeline;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.apache.beam.sdk.PipelineResult;
import org.apache.beam.sdk.options.PipelineOptionsFactory;

/**
 * The catalog job as its own JVM, for {@link PoisonCatalogTest}: the test starts it with a small
 * {@code -Xmx}, so a structure that grows without bound fails the run instead of hiding in the
 * test JVM's large heap. Runs the pipeline with the arguments given, then writes the finished job's
 * {@code ocirender} counters as JSON to the path in {@code -Dpoison.metrics}. Exit status 0 when the
 * job finished, 2 when it failed (the stack trace on stderr).
 */
public final class PoisonCatalogRun {

  private PoisonCatalogRun() {}

  public static void main(String[] args) {
    try {
      CatalogPipelineOptions options = PipelineOptionsFactory.fromArgs(args).withValidation().as(CatalogPipelineOptions.class);
      PipelineResult result = CatalogPipeline.run(options);
      PipelineResult.State state = result.waitUntilFinish();
      Map<String, Long> counters = CatalogFixture.counters(result);
      Files.write(Path.of(System.getProperty("poison.metrics")), CatalogFixture.JSON.writeValueAsBytes(counters));
      System.out.println("job state " + state);
      System.exit(state == PipelineResult.State.DONE ? 0 : 2);
    } catch (Throwable t) {
      t.printStackTrace();
      System.exit(2);
    }
  }
}
