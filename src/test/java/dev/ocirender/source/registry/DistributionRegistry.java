package dev.ocirender.source.registry;

import dev.ocirender.testing.ExternalTools;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real CNCF distribution registry ({@code docker-registry serve}) on 127.0.0.1 for tests: a free
 * port, storage in a temporary directory, optional auth configuration, stopped by {@link #close()}.
 * Images go in with skopeo ({@link #push}). Skips the test (or fails it under
 * {@code -Docirender.requireTools=true}) when the registry or skopeo is missing.
 */
public final class DistributionRegistry implements AutoCloseable {

  final int port;
  final Path dir;
  private final Process process;
  private final Path log;

  private DistributionRegistry(int port, Path dir, Process process, Path log) {
    this.port = port;
    this.dir = dir;
    this.process = process;
    this.log = log;
  }

  /** Starts an open registry. */
  public static DistributionRegistry start(Path dir) throws Exception {
    return start(dir, "");
  }

  /** Starts a registry whose config has {@code authYaml} (an {@code auth:} block, indented) appended. */
  static DistributionRegistry start(Path dir, String authYaml) throws Exception {
    ExternalTools.require("docker-registry");
    ExternalTools.require("skopeo");
    int port = freePort();
    Files.createDirectories(dir);
    Path config = dir.resolve("config.yml");
    Files.writeString(config, String.join("\n",
        "version: 0.1",
        "log:",
        "  level: warn",
        "  accesslog:",
        "    disabled: true",
        "storage:",
        "  filesystem:",
        "    rootdirectory: " + dir.resolve("storage"),
        "  delete:",
        "    enabled: true",
        "http:",
        "  addr: 127.0.0.1:" + port,
        "  secret: not-a-secret-only-a-test",
        authYaml,
        ""));
    Path log = dir.resolve("registry.log");
    Process p = new ProcessBuilder("docker-registry", "serve", config.toString())
        .redirectErrorStream(true).redirectOutput(log.toFile()).start();
    DistributionRegistry r = new DistributionRegistry(port, dir, p, log);
    r.awaitListening();
    return r;
  }

  /** {@code 127.0.0.1:PORT}. */
  public String host() {
    return "127.0.0.1:" + port;
  }

  /** {@code docker://127.0.0.1:PORT/REPO}. */
  public String docker(String repoAndTag) {
    return "docker://" + host() + "/" + repoAndTag;
  }

  /** Copies {@code oci:LAYOUT:TAG} to REPO:TAG here with skopeo; {@code extra} like {@code --all}, {@code --format v2s2}. */
  public void push(Path layout, String tag, String repoAndTag, String... extra) throws Exception {
    List<Object> cmd = new ArrayList<>(List.of("skopeo", "--insecure-policy", "copy", "--dest-tls-verify=false"));
    cmd.addAll(List.of(extra));
    cmd.add("oci:" + layout + ":" + tag);
    cmd.add("docker://" + host() + "/" + repoAndTag);
    ExternalTools.output(cmd.toArray());
  }

  private void awaitListening() throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (System.nanoTime() < deadline) {
      if (!process.isAlive()) {
        throw new IllegalStateException("docker-registry exited: " + Files.readString(log, StandardCharsets.UTF_8));
      }
      try (Socket s = new Socket("127.0.0.1", port)) {
        return;
      } catch (IOException e) {
        Thread.sleep(50);
      }
    }
    throw new IllegalStateException("docker-registry did not listen on " + port + ": " + Files.readString(log));
  }

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  @Override
  public void close() throws Exception {
    process.destroy();
    if (!process.waitFor(10, TimeUnit.SECONDS)) {
      process.destroyForcibly();
    }
  }
}
