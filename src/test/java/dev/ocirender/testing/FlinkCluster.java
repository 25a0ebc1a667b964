package dev.ocirender.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ConnectException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A real Flink 1.19 standalone session cluster on 127.0.0.1, started from the project's own Maven
 * dependencies the way Flink's {@code bin/jobmanager.sh} and {@code bin/taskmanager.sh} start one:
 * {@code BashJavaUtils GET_JM_RESOURCE_PARAMS / GET_TM_RESOURCE_PARAMS} computes each process's JVM
 * memory flags and dynamic properties from the {@code config.yaml}, then
 * {@code StandaloneSessionClusterEntrypoint} and {@code TaskManagerRunner} run as separate JVMs.
 *
 * <p>The processes get a Flink-only classpath (the Flink jars and their own dependencies from the
 * test classpath; none of ocirender's classes, Beam or the cloud clients), so a job has to upload its
 * jar as it would to a production cluster. Ports are picked free per cluster and passed as dynamic
 * properties, as are the temp directories, so clusters of parallel builds do not collide and every
 * file a process leaves behind is under {@link #dir()}. Processes are stopped by PID.
 *
 * <p>Used by the cluster tests and, through {@link #main}, by {@code scripts/flink-local-cluster.sh}.
 * Not here: high availability, TLS, the web UI (flink-runtime-web is not needed for REST submission).
 */
public final class FlinkCluster implements AutoCloseable {

  /** The checked-in configuration for a small cluster (README: Run on Flink). */
  public static final Path CONFIG_DIR = Path.of("pipelines/catalog-render/flink");

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String RESULT_PREFIX = "BASH_JAVA_UTILS_EXEC_RESULT:";
  /** Where the jars of the groups a Flink TaskManager needs live in a Maven repository. */
  private static final List<String> FLINK_CLASSPATH_GROUPS = List.of(
      "/org/apache/flink/", "/com/esotericsoftware/", "/com/twitter/", "/org/apache/commons/", "/commons-",
      "/org/xerial/snappy/", "/at/yawk/lz4/", "/org/lz4/", "/org/slf4j/", "/org/javassist/", "/org/objenesis/",
      "/com/google/code/findbugs/", "/org/apache/logging/log4j/", "/tools/profiler/", "/io/airlift/",
      "/org/apache/hadoop/thirdparty/", "/org/snakeyaml/", "/org/yaml/");

  private final Path dir;
  private final Path configDir;
  private final Map<String, String> properties;
  private final String classpath;
  private final int restPort;
  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  private Process jobManager;
  private final List<Process> taskManagers = new ArrayList<>();
  private int started;

  private FlinkCluster(Path dir, Path configDir, Map<String, String> overrides) throws IOException {
    this.dir = Files.createDirectories(dir.toAbsolutePath());
    this.configDir = configDir.toAbsolutePath();
    this.classpath = flinkClasspath();
    this.restPort = freePort();
    this.properties = new LinkedHashMap<>();
    properties.put("rest.port", Integer.toString(restPort));
    properties.put("jobmanager.rpc.port", Integer.toString(freePort()));
    properties.putAll(overrides);
  }

  /**
   * Starts a JobManager and {@code taskManagers} TaskManagers with the configuration in {@code configDir},
   * waits until all are registered, and returns the running cluster.
   *
   * @param overrides Flink settings that replace the file's (dynamic properties, {@code -D key=value})
   */
  public static FlinkCluster start(Path dir, Path configDir, int taskManagers, Map<String, String> overrides)
      throws IOException, InterruptedException {
    FlinkCluster cluster = new FlinkCluster(dir, configDir, overrides);
    try {
      cluster.startJobManager();
      for (int i = 0; i < taskManagers; i++) {
        cluster.startTaskManager();
      }
      cluster.awaitTaskManagers(taskManagers, Duration.ofSeconds(120));
      return cluster;
    } catch (IOException | InterruptedException | RuntimeException e) {
      cluster.close();
      throw e;
    }
  }

  /** The JobManager's REST address, {@code 127.0.0.1:PORT}, as {@code --flinkMaster} takes it. */
  public String restAddress() {
    return "127.0.0.1:" + restPort;
  }

  /** Where the processes' logs, PIDs and temp directories are. */
  public Path dir() {
    return dir;
  }

  /** The TaskManager processes started so far that are still alive, oldest first. */
  public List<Process> taskManagers() {
    return taskManagers.stream().filter(Process::isAlive).toList();
  }

  /** The JVM temp directory ({@code java.io.tmpdir}) of the {@code n}-th TaskManager started (0-based). */
  public Path taskManagerTmp(int n) {
    return dir.resolve("tm-" + n + "/tmp");
  }

  /** Starts one more TaskManager (it registers by itself; see {@link #awaitTaskManagers}). */
  public Process startTaskManager() throws IOException, InterruptedException {
    int n = started++;
    Path home = Files.createDirectories(dir.resolve("tm-" + n));
    List<String> command = launch("GET_TM_RESOURCE_PARAMS", "org.apache.flink.runtime.taskexecutor.TaskManagerRunner",
        home, List.of());
    Process p = start(command, home, "taskmanager-" + n);
    taskManagers.add(p);
    return p;
  }

  /** Kills a TaskManager with SIGKILL, as a lost machine would: no shutdown hooks, no clean-up. */
  public void kill(Process taskManager) throws InterruptedException {
    taskManager.destroyForcibly(); // SIGKILL on Linux
    taskManager.waitFor(30, TimeUnit.SECONDS);
  }

  /** Waits until {@code count} TaskManagers are registered with the JobManager. */
  public void awaitTaskManagers(int count, Duration timeout) throws IOException, InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    int seen = -1;
    while (System.nanoTime() < deadline) {
      if (!jobManager.isAlive()) {
        throw new IOException("the Flink JobManager exited with status " + jobManager.exitValue() + "; see " + dir);
      }
      Optional<JsonNode> tms = get("/taskmanagers");
      seen = tms.map(n -> n.path("taskmanagers").size()).orElse(-1);
      if (seen == count) {
        return;
      }
      Thread.sleep(250);
    }
    throw new IOException("Flink cluster in " + dir + ": " + seen + " TaskManagers registered after " + timeout
        + ", expected " + count + "; see the logs there");
  }

  /** A GET on the JobManager's REST API; empty while it is not answering yet. */
  public Optional<JsonNode> get(String path) throws IOException, InterruptedException {
    HttpRequest request = HttpRequest.newBuilder(URI.create("http://" + restAddress() + path))
        .timeout(Duration.ofSeconds(10)).GET().build();
    try {
      HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString());
      if (response.statusCode() != 200) {
        return Optional.empty();
      }
      return Optional.of(JSON.readTree(response.body()));
    } catch (ConnectException e) {
      return Optional.empty();
    }
  }

  /** Stops every process by PID (SIGTERM, then SIGKILL after 20 s). */
  @Override
  public void close() {
    List<Process> all = new ArrayList<>(taskManagers);
    if (jobManager != null) {
      all.add(jobManager);
    }
    for (Process p : all) {
      p.destroy();
    }
    for (Process p : all) {
      try {
        if (!p.waitFor(20, TimeUnit.SECONDS)) {
          p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
      } catch (InterruptedException e) {
        p.destroyForcibly();
        Thread.currentThread().interrupt();
      }
    }
  }

  private void startJobManager() throws IOException, InterruptedException {
    Path home = Files.createDirectories(dir.resolve("jm"));
    jobManager = start(launch("GET_JM_RESOURCE_PARAMS",
        "org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint", home, List.of("--executionMode", "cluster")),
        home, "jobmanager");
  }

  /**
   * The command line of a Flink process: JVM flags and dynamic properties computed by BashJavaUtils
   * from the configuration, as Flink's own scripts do.
   */
  private List<String> launch(String resourceCommand, String mainClass, Path home, List<String> extra)
      throws IOException, InterruptedException {
    List<String> dynamic = new ArrayList<>();
    Path tmp = Files.createDirectories(home.resolve("tmp"));
    Path io = Files.createDirectories(home.resolve("flink-io"));
    Map<String, String> props = new LinkedHashMap<>(properties);
    props.putIfAbsent("io.tmp.dirs", io.toString());
    props.forEach((k, v) -> {
      dynamic.add("-D");
      dynamic.add(k + "=" + v);
    });
    List<String> utils = new ArrayList<>(List.of(java(), "-cp", classpath, "org.apache.flink.runtime.util.bash.BashJavaUtils",
        resourceCommand, "--configDir", configDir.toString()));
    utils.addAll(dynamic);
    Process p = new ProcessBuilder(utils).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (p.waitFor() != 0) {
      throw new IOException("BashJavaUtils " + resourceCommand + " failed:\n" + out);
    }
    List<String> results = out.lines().filter(l -> l.startsWith(RESULT_PREFIX))
        .map(l -> l.substring(RESULT_PREFIX.length()).trim()).toList();
    if (results.size() < 2) {
      throw new IOException("BashJavaUtils " + resourceCommand + " gave no JVM parameters:\n" + out);
    }
    List<String> command = new ArrayList<>();
    command.add(java());
    command.addAll(List.of(results.get(0).split("\\s+")));
    command.add("-Djava.io.tmpdir=" + tmp);
    command.add("-Dlog.file=" + home.resolve("flink.log"));
    command.addAll(List.of("-cp", classpath, mainClass, "--configDir", configDir.toString()));
    command.addAll(extra);
    for (String s : results.get(1).split("\\s+")) {
      if (!s.isEmpty()) {
        command.add(s);
      }
    }
    command.addAll(dynamic);
    return command;
  }

  private Process start(List<String> command, Path home, String name) throws IOException {
    Files.writeString(home.resolve("command.txt"), String.join(" ", command) + "\n");
    Process p = new ProcessBuilder(command).directory(home.toFile())
        .redirectOutput(home.resolve("stdout.log").toFile())
        .redirectError(home.resolve("stderr.log").toFile())
        .start();
    Files.writeString(dir.resolve(name + ".pid"), p.pid() + "\n");
    return p;
  }

  private static String java() {
    return Path.of(System.getProperty("java.home"), "bin", "java").toString();
  }

  /** The Flink jars and their dependencies from this JVM's classpath, and nothing of ours. */
  static String flinkClasspath() {
    List<String> jars = new ArrayList<>();
    for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
      String unix = entry.replace(File.separatorChar, '/');
      if (unix.endsWith(".jar") && FLINK_CLASSPATH_GROUPS.stream().anyMatch(unix::contains)) {
        jars.add(entry);
      }
    }
    if (jars.stream().noneMatch(j -> j.contains("flink-runtime"))) {
      throw new IllegalStateException("no flink-runtime jar on the classpath " + System.getProperty("java.class.path"));
    }
    return String.join(File.pathSeparator, jars);
  }

  private static int freePort() {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * {@code start DIR [TASKMANAGERS]}: starts a cluster with the checked-in configuration, prints its
   * REST address, and leaves it running (PIDs in {@code DIR/*.pid}); {@code stop DIR}: stops it by PID.
   */
  public static void main(String[] args) throws Exception {
    if (args.length >= 2 && args[0].equals("start")) {
      int tms = args.length > 2 ? Integer.parseInt(args[2]) : 2;
      FlinkCluster cluster = start(Path.of(args[1]), CONFIG_DIR, tms, Map.of());
      Files.writeString(cluster.dir.resolve("rest-address"), cluster.restAddress() + "\n");
      System.out.println(cluster.restAddress());
      System.exit(0); // the processes run on; they were started with their output in files
    } else if (args.length == 2 && args[0].equals("stop")) {
      try (Stream<Path> pids = Files.list(Path.of(args[1]))) {
        for (Path f : pids.filter(p -> p.toString().endsWith(".pid")).toList()) {
          long pid = Long.parseLong(Files.readString(f).trim());
          ProcessHandle.of(pid).ifPresent(h -> {
            h.destroy();
            h.onExit().orTimeout(20, TimeUnit.SECONDS).exceptionally(t -> {
              h.destroyForcibly();
              return h;
            }).join();
          });
          Files.delete(f);
        }
      }
    } else {
      System.err.println("usage: FlinkCluster start DIR [TASKMANAGERS] | stop DIR");
      System.exit(2);
    }
  }
}
