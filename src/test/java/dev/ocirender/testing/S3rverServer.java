package dev.ocirender.testing;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real S3-compatible server for tests: {@code s3rver} (npm) on 127.0.0.1, with one bucket, its data
 * in a directory of the test. {@code .ci/run} installs it under {@code target/tools/s3rver}; elsewhere
 * it is looked up on the PATH, and a missing one skips the test unless tools are required (as CI does).
 * Its fixed credentials are {@code S3RVER}/{@code S3RVER}. What it lacks: conditional writes
 * ({@code If-None-Match}/{@code If-Match} on PUT and multipart completion and
 * {@code x-amz-copy-source-if-match} are ignored), UploadPartCopy (NotImplemented), aborting multipart
 * uploads and multipart-upload listing; {@link ConditionalS3Server} stands in for the first two.
 */
public final class S3rverServer implements AutoCloseable {

  public static final String ACCESS_KEY = "S3RVER";
  public static final String SECRET_KEY = "S3RVER";
  private static final Path INSTALLED = Path.of("target/tools/s3rver/node_modules/.bin/s3rver");

  private final Process process;
  private final int port;

  private S3rverServer(Process process, int port) {
    this.process = process;
    this.port = port;
  }

  /** Starts s3rver with bucket {@code bucket}, storing under {@code dir}; waits until it listens. */
  public static S3rverServer start(Path dir, String bucket) throws IOException, InterruptedException {
    String binary = Files.isExecutable(INSTALLED) ? INSTALLED.toAbsolutePath().toString() : "s3rver";
    if (!Files.isExecutable(INSTALLED)) {
      ExternalTools.require("s3rver");
    }
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    Files.createDirectories(dir);
    Process p = new ProcessBuilder(List.of(binary, "-d", dir.toString(), "-a", "127.0.0.1", "-p", Integer.toString(port),
        "--silent", "--no-vhost-buckets", "--configure-bucket", bucket))
        .redirectErrorStream(true).redirectOutput(dir.resolveSibling(dir.getFileName() + ".log").toFile()).start();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (System.nanoTime() < deadline) {
      if (!p.isAlive()) {
        throw new IOException("s3rver exited with status " + p.exitValue());
      }
      try (Socket ignored = new Socket("127.0.0.1", port)) {
        return new S3rverServer(p, port);
      } catch (IOException notYet) {
        Thread.sleep(100);
      }
    }
    p.destroyForcibly();
    throw new IOException("s3rver did not listen on 127.0.0.1:" + port + " within 60 s");
  }

  /** {@code http://127.0.0.1:PORT}. */
  public String endpoint() {
    return "http://127.0.0.1:" + port;
  }

  /** The pipeline options that reach this server: endpoint, region, path style, static credentials. */
  public List<String> pipelineOptions() {
    return List.of("--endpoint=" + endpoint(), "--awsRegion=us-east-1", "--s3PathStyleAccess=true",
        "--awsCredentialsProvider={\"@type\":\"StaticCredentialsProvider\",\"accessKeyId\":\"" + ACCESS_KEY
            + "\",\"secretAccessKey\":\"" + SECRET_KEY + "\"}");
  }

  @Override
  public void close() throws InterruptedException {
    process.destroy();
    if (!process.waitFor(10, TimeUnit.SECONDS)) {
      process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
  }
}
