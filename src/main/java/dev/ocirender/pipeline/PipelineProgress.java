package dev.ocirender.pipeline;

import dev.ocirender.io.Sizes;
import java.io.PrintWriter;
import java.lang.reflect.Field;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.apache.beam.runners.dataflow.DataflowRunner;
import org.apache.beam.runners.direct.DirectOptions;
import org.apache.beam.runners.direct.DirectRunner;
import org.apache.beam.runners.flink.FlinkDetachedRunnerResult;
import org.apache.beam.runners.flink.FlinkPipelineOptions;
import org.apache.beam.runners.flink.FlinkRunner;
import org.apache.beam.sdk.PipelineResult;
import org.apache.beam.sdk.metrics.MetricNameFilter;
import org.apache.beam.sdk.metrics.MetricQueryResults;
import org.apache.beam.sdk.metrics.MetricResult;
import org.apache.beam.sdk.metrics.MetricsFilter;
import org.apache.flink.core.execution.JobClient;

/**
 * Progress of a running catalog job for the person who started it: the runner's attempted metrics,
 * polled while the job runs and shown as one line on stderr, redrawn in place about once a second on
 * a terminal, or logged as a plain line every few seconds otherwise.
 *
 * <p>The line: catalog lines read, images resolved and of those rendered, skipped (and duplicate),
 * failed; bytes read and written; throughput; the layer cache hit rate when the job reports
 * {@code layer_cache_hits}/{@code layer_cache_misses}; and an estimate of the time left once records
 * have started to come out. Every catalog line ends in exactly one result or dead letter, so
 * "records / catalog lines" is the fraction done.
 *
 * <p>Live metrics need a result that exists while the job runs ({@link #prepare}): DirectRunner is
 * told not to block in {@code run()}; FlinkRunner in process ({@code [local]}) is run detached, so
 * that its result reads the job's accumulators through Flink's {@link JobClient} while it runs.
 * Beam's Flink runner publishes a step's metrics to those accumulators when the step's task ends,
 * not per element, so on Flink the line moves step by step (catalog read, resolve, then render
 * when a render subtask finishes) rather than image by image. On remote runners (Dataflow, a Flink
 * cluster) nothing is polled: the runner's own UI shows the job, and {@link #prepare} says so.
 *
 * <p>It never prints the end-of-job summary; that is the caller's, after {@link #close()}.
 */
public final class PipelineProgress implements AutoCloseable {

  /** How progress is shown: a live line (terminals), a periodic log line, or not at all. */
  public enum Mode {
    LINE, LOG, OFF;

    /**
     * The mode a {@code --progress} value names: {@code auto} is a live line on a terminal and log
     * lines otherwise.
     *
     * @throws IllegalArgumentException for any other value
     */
    public static Mode parse(String value, boolean terminal) {
      return switch (value.toLowerCase(Locale.ROOT)) {
        case "auto" -> terminal ? LINE : LOG;
        case "line" -> LINE;
        case "log" -> LOG;
        case "off", "none" -> OFF;
        default -> throw new IllegalArgumentException("--progress must be auto, line, log or off, got " + value);
      };
    }
  }

  /** The counters of the layer work cache (added with it; the hit rate is left out while absent). */
  static final String LAYER_CACHE_HITS = PipelineMetrics.LAYER_CACHE_HITS;
  static final String LAYER_CACHE_MISSES = PipelineMetrics.LAYER_CACHE_MISSES;

  /** How often the live line is redrawn; the property is for tests, whose jobs end within a second. */
  private static final String LINE_INTERVAL_PROPERTY = "ocirender.progressLineMillis";
  private static final String FLINK_IN_PROCESS = "[local]";
  /**
   * FlinkDetachedRunnerResult keeps its JobClient to itself, and it is the only handle on the job's
   * end. Looked up once; null when a Beam version lacks it, and then {@link #prepare} leaves the job
   * attached, so a detached job is only ever started when its end can be awaited.
   */
  private static final Field JOB_CLIENT = jobClientField();

  private final PipelineResult result;
  private final Mode mode;
  private final PrintWriter err;
  private final Tracker tracker;
  private final ScheduledExecutorService poller;
  private boolean drawn;
  private boolean noMetricsSaid;

  private PipelineProgress(PipelineResult result, Mode mode, PrintWriter err, LongSupplier clock) {
    this.result = result;
    this.mode = mode;
    this.err = err;
    this.tracker = new Tracker(clock.getAsLong());
    this.poller = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "ocirender-progress");
      t.setDaemon(true); // never keeps the launcher alive
      return t;
    });
  }

  /**
   * Sets {@code options} up so that {@code run()} returns while the job runs and its result has live
   * metrics: DirectRunner without {@code blockOnRun}, FlinkRunner {@code [local]} detached. Call before
   * {@link CatalogPipeline#run}.
   *
   * @return null when progress can be polled here; otherwise one line saying where the runner shows it
   */
  public static String prepare(CatalogPipelineOptions options) {
    Class<?> runner = options.getRunner();
    if (DirectRunner.class.isAssignableFrom(runner)) {
      options.as(DirectOptions.class).setBlockOnRun(false);
      return null;
    }
    if (FlinkRunner.class.isAssignableFrom(runner)) {
      FlinkPipelineOptions flink = options.as(FlinkPipelineOptions.class);
      if (FLINK_IN_PROCESS.equals(flink.getFlinkMaster())) {
        if (JOB_CLIENT == null) { // detached, we could not wait for the job's end: stay attached
          return "progress: not shown for in-process Flink (this Beam version's detached result hides its job client)";
        }
        flink.setAttachedMode(false);
        return null;
      }
      return "progress: in the Flink web UI at " + flink.getFlinkMaster() + " (Beam's metrics reach it as each step's tasks finish)";
    }
    if (DataflowRunner.class.isAssignableFrom(runner)) {
      return "progress: in the Dataflow console (Job metrics, namespace " + PipelineMetrics.NAMESPACE + ")";
    }
    return "progress: in the " + runner.getSimpleName() + "'s own UI";
  }

  /**
   * Starts polling {@code result} and showing progress on {@code err}: every second for
   * {@link Mode#LINE}, every {@code logInterval} for {@link Mode#LOG}. Close it when the job ends.
   */
  public static PipelineProgress watch(PipelineResult result, Mode mode, Duration logInterval, PrintWriter err) {
    PipelineProgress progress = new PipelineProgress(result, mode, err, System::nanoTime);
    if (mode != Mode.OFF) {
      long period = mode == Mode.LINE ? Long.getLong(LINE_INTERVAL_PROPERTY, 1000) : logInterval.toMillis();
      if (period <= 0) {
        throw new IllegalArgumentException("the progress interval must be positive, got " + logInterval);
      }
      progress.poller.scheduleWithFixedDelay(progress::poll, period, period, TimeUnit.MILLISECONDS);
    }
    return progress;
  }

  /**
   * Waits for the job as {@link PipelineResult#waitUntilFinish()} does, also for a detached in-process
   * Flink job, whose mini-cluster is gone as soon as the job ends, so that asking it for the job's
   * state then fails: its {@link JobClient} still holds the job's result.
   *
   * @throws RuntimeException when the job failed, as an attached run would have thrown it
   */
  public static PipelineResult.State waitUntilFinish(PipelineResult result) {
    if (result instanceof FlinkDetachedRunnerResult) {
      JobClient client = jobClient(result);
      try {
        client.getJobExecutionResult().get();
        return PipelineResult.State.DONE;
      } catch (ExecutionException e) {
        throw new RuntimeException("Pipeline execution failed", e.getCause());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        client.cancel();
        return PipelineResult.State.CANCELLED;
      }
    }
    return result.waitUntilFinish();
  }

  private static Field jobClientField() {
    try {
      Field f = FlinkDetachedRunnerResult.class.getDeclaredField("jobClient");
      f.setAccessible(true);
      return JobClient.class.isAssignableFrom(f.getType()) ? f : null;
    } catch (ReflectiveOperationException | RuntimeException e) {
      return null;
    }
  }

  private static JobClient jobClient(PipelineResult result) {
    try {
      return (JobClient) JOB_CLIENT.get(result);
    } catch (IllegalAccessException e) {
      throw new IllegalStateException("cannot read the detached Flink job's client", e);
    }
  }

  /**
   * The job's counters in the {@value PipelineMetrics#NAMESPACE} namespace, attempted values summed
   * over steps (several steps count the same name, e.g. {@code images_failed}).
   *
   * @throws UnsupportedOperationException when the runner has no metrics
   */
  public static Map<String, Long> counters(PipelineResult result) {
    MetricQueryResults q = result.metrics().queryMetrics(MetricsFilter.builder()
        .addNameFilter(MetricNameFilter.inNamespace(PipelineMetrics.NAMESPACE)).build());
    Map<String, Long> c = new TreeMap<>();
    for (MetricResult<Long> m : q.getCounters()) {
      Long attempted = m.getAttempted();
      c.merge(m.getName().getName(), attempted == null ? 0L : attempted, Long::sum);
    }
    return c;
  }

  private synchronized void poll() {
    Map<String, Long> counters;
    try {
      counters = counters(result);
    } catch (RuntimeException e) { // a runner without metrics, or one between states
      if (!noMetricsSaid) {
        noMetricsSaid = true;
        show("progress: no metrics from the runner yet (" + e.getClass().getSimpleName() + ")");
      }
      return;
    }
    show(tracker.describe(counters, System.nanoTime()));
  }

  private void show(String text) {
    if (mode == Mode.LINE) {
      err.print("\r\033[K" + fit(text));
      drawn = true;
    } else {
      err.println("ocirender: " + text);
    }
    err.flush();
  }

  /** A line wider than the terminal would wrap, and the carriage return would then redraw only its tail. */
  private static String fit(String text) {
    int width = 120;
    try {
      String columns = System.getenv("COLUMNS");
      if (columns != null) {
        width = Integer.parseInt(columns.trim());
      }
    } catch (NumberFormatException e) {
      // keep the default
    }
    return text.length() < width ? text : text.substring(0, Math.max(1, width - 1));
  }

  /** Stops polling and erases the live line, if one was drawn. */
  @Override
  public synchronized void close() {
    poller.shutdownNow();
    if (drawn) {
      err.print("\r\033[K");
      err.flush();
      drawn = false;
    }
  }

  /**
   * Turns successive counter readings into a progress line: rates over the time since the job
   * started, and the time left from the rate at which records (results and dead letters) have come
   * out since the first one did. No estimate before two readings with records, or while catalog
   * lines are still being read (the total is not known yet).
   */
  static final class Tracker {
    private final long startNanos;
    private long firstRecordNanos = -1;
    private long firstRecords;
    private long lastLines = -1;

    Tracker(long startNanos) {
      this.startNanos = startNanos;
    }

    String describe(Map<String, Long> c, long nowNanos) {
      double seconds = Math.max(1e-3, (nowNanos - startNanos) / 1e9);
      long lines = get(c, PipelineMetrics.CATALOG_LINES);
      long rendered = get(c, PipelineMetrics.IMAGES_RENDERED);
      long skipped = get(c, PipelineMetrics.IMAGES_SKIPPED);
      long duplicate = get(c, PipelineMetrics.IMAGES_DUPLICATE);
      long deadLetters = get(c, PipelineMetrics.DEAD_LETTERS);
      long read = get(c, PipelineMetrics.BYTES_FETCHED);
      long written = get(c, PipelineMetrics.BYTES_WRITTEN);
      long records = rendered + skipped + duplicate + deadLetters;

      StringBuilder s = new StringBuilder();
      s.append(lines).append(" lines, ").append(get(c, PipelineMetrics.IMAGES_RESOLVED)).append(" resolved: ")
          .append(rendered).append(" rendered, ").append(skipped + duplicate).append(" skipped, ")
          .append(get(c, PipelineMetrics.IMAGES_FAILED)).append(" failed | ")
          .append(Sizes.bytes(read)).append(" read, ").append(Sizes.bytes(written)).append(" written | ")
          .append(String.format(Locale.ROOT, "%.1f images/min, %s/s", rendered * 60 / seconds, Sizes.bytes((long) (read / seconds))));
      long hits = get(c, LAYER_CACHE_HITS);
      long misses = get(c, LAYER_CACHE_MISSES);
      if (c.containsKey(LAYER_CACHE_HITS) || c.containsKey(LAYER_CACHE_MISSES)) {
        s.append(" | layer cache ").append(hits + misses == 0 ? "-" : Math.round(100.0 * hits / (hits + misses)) + "%").append(" hits");
      }
      String eta = eta(lines, records, nowNanos);
      if (eta != null) {
        s.append(" | ").append(eta);
      }
      return s.toString();
    }

    private String eta(long lines, long records, long nowNanos) {
      boolean linesSettled = lines == lastLines;
      lastLines = lines;
      if (records > 0 && firstRecordNanos < 0) {
        firstRecordNanos = nowNanos;
        firstRecords = records;
        return null;
      }
      if (lines > 0 && records >= lines) {
        return "finishing";
      }
      if (firstRecordNanos < 0 || records <= firstRecords || !linesSettled) {
        return null;
      }
      double perSecond = (records - firstRecords) / ((nowNanos - firstRecordNanos) / 1e9);
      long left = (long) Math.ceil((lines - records) / perSecond);
      return "about " + Sizes.duration(Duration.ofSeconds(left)).replace(".00 s", " s") + " left";
    }

    private static long get(Map<String, Long> c, String name) {
      return c.getOrDefault(name, 0L);
    }
  }
}
