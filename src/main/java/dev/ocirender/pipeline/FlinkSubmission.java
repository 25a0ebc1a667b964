package dev.ocirender.pipeline;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ocirender.store.OutputStores;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.Set;
import org.apache.beam.runners.flink.FlinkPipelineOptions;
import org.apache.beam.runners.flink.FlinkRunner;
import org.apache.beam.runners.flink.VersionDependentFlinkPipelineOptions;

/**
 * What the submitting side settles before a catalog job goes to a Flink cluster, so that a mistake
 * fails at once in one line instead of on the TaskManagers minutes later:
 *
 * <ul>
 *   <li>Local catalog, output and results paths become absolute: a TaskManager's working directory
 *       is not the submitter's ("No files matched spec").
 *   <li>Parallelism: without {@code --parallelism} the job takes the cluster's task slots (one render
 *       per slot), read from the JobManager's REST API; a parallelism above the cluster's slots is
 *       refused (Flink itself would wait {@code slot.request.timeout} and fail with
 *       {@code NoResourceAvailableException}).
 *   <li>Restart strategy: Beam's {@code --numberOfExecutionRetries} reaches Flink only through the
 *       DataStream translation ({@code --useDataStreamForBatch=true}); asking for retries without it
 *       is refused, and a cluster with no restart strategy of its own gets a warning.
 * </ul>
 *
 * <p>Only for FlinkRunner with a {@code HOST:PORT} master; in-process masters ({@code [local]},
 * {@code [auto]}, {@code [collection]}) and other runners only get absolute paths. It reads the
 * cluster, never changes it.
 */
public final class FlinkSubmission {

  private static final Set<String> IN_PROCESS = Set.of("[local]", "[auto]", "[collection]");
  private static final Set<String> NO_RESTART = Set.of("none", "off", "disable");
  private static final ObjectMapper JSON = new ObjectMapper();

  private FlinkSubmission() {}

  /**
   * Prepares {@code options} for submission (see the class comment); warnings go to {@code warnings}.
   *
   * @throws IllegalArgumentException when the job cannot run on the cluster as asked (one line, with advice)
   */
  public static void prepare(CatalogPipelineOptions options, PrintWriter warnings) {
    options.setCatalog(absolute(options.getCatalog()));
    options.setOutputPrefix(absolute(options.getOutputPrefix()));
    options.setResultsPrefix(absolute(options.getResultsPrefix()));
    if (!FlinkRunner.class.isAssignableFrom(options.getRunner())) {
      return;
    }
    FlinkPipelineOptions flink = options.as(FlinkPipelineOptions.class);
    boolean dataStream = Boolean.TRUE.equals(options.as(VersionDependentFlinkPipelineOptions.class).getUseDataStreamForBatch());
    Integer retries = flink.getNumberOfExecutionRetries();
    if (retries != null && retries > 0 && !dataStream) {
      throw new IllegalArgumentException("--numberOfExecutionRetries has no effect on Beam's batch (DataSet) translation; "
          + "add --useDataStreamForBatch=true (the flink-cluster profile does), or set restart-strategy.type in the cluster's config.yaml");
    }
    String master = flink.getFlinkMaster().replaceFirst("^https?://", "");
    if (IN_PROCESS.contains(master)) {
      return;
    }
    JsonNode overview = rest(master, "/overview");
    int slots = overview.path("slots-total").asInt();
    int free = overview.path("slots-available").asInt();
    int taskManagers = overview.path("taskmanagers").asInt();
    if (slots <= 0) {
      throw new IllegalArgumentException("the Flink cluster at " + master + " has no task slots (" + taskManagers
          + " TaskManagers registered): start TaskManagers before submitting");
    }
    int parallelism = flink.getParallelism();
    if (parallelism <= 0) {
      flink.setParallelism(slots);
      parallelism = slots;
    } else if (parallelism > slots) {
      throw new IllegalArgumentException("the Flink cluster at " + master + " has " + slots + " task slots (" + taskManagers
          + " TaskManagers), fewer than --parallelism=" + parallelism + ": run with --parallelism=" + slots
          + " or less (or without it, to use every slot), or add TaskManagers");
    }
    if (free < parallelism) {
      warnings.println("ocirender: warning: only " + free + " of the Flink cluster's " + slots + " task slots are free; "
          + "the job waits for the other " + (parallelism - free) + " (slot.request.timeout)");
    }
    boolean jobRetries = retries != null && retries > 0;
    if (!jobRetries && !clusterRestarts(master)) {
      warnings.println("ocirender: warning: the Flink cluster at " + master + " has no restart strategy, so a lost TaskManager "
          + "fails the job: run with --useDataStreamForBatch=true --numberOfExecutionRetries=6 --executionRetryDelay=15000 (the flink-cluster profile does), "
          + "or set restart-strategy.type: fixed-delay in the cluster's config.yaml");
    }
    warnings.flush();
  }

  /** Whether the cluster's own configuration restarts failed jobs (Flink's default without checkpoints: no). */
  private static boolean clusterRestarts(String master) {
    for (JsonNode entry : rest(master, "/jobmanager/config")) {
      String key = entry.path("key").asText();
      if (key.equals("restart-strategy.type") || key.equals("restart-strategy")) {
        return !NO_RESTART.contains(entry.path("value").asText().toLowerCase(Locale.ROOT));
      }
    }
    return false;
  }

  private static JsonNode rest(String master, String path) {
    URI uri = URI.create("http://" + master + path);
    try {
      HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
      HttpResponse<String> response = http.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(20)).GET().build(),
          HttpResponse.BodyHandlers.ofString());
      if (response.statusCode() != 200) {
        throw new IllegalArgumentException("the Flink JobManager at " + master + " answered " + response.statusCode()
            + " to GET " + path + ": is --flinkMaster its REST address (HOST:PORT, default port 8081)?");
      }
      return JSON.readTree(response.body());
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot reach the Flink JobManager's REST API at " + uri + " (" + e
          + "): is --flinkMaster its REST address (HOST:PORT, default port 8081) and the cluster running?", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while asking the Flink cluster at " + master, e);
    }
  }

  /** A local path as an absolute one (a trailing slash kept: it separates a prefix from a name); other URIs as they are. */
  static String absolute(String path) {
    if (path == null || path.isEmpty() || !OutputStores.isLocal(path) || path.startsWith("file:")) {
      return path;
    }
    String abs = Path.of(path).toAbsolutePath().normalize().toString();
    return path.endsWith("/") && !abs.endsWith("/") ? abs + "/" : abs;
  }
}
