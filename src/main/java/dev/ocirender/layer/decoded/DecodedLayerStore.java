package dev.ocirender.layer.decoded;

import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Objects;

/**
 * Where decoded layers wait until they are read: chunks in memory up to a budget shared by all
 * layers of the store, then LZ4 frames in temporary files (see {@link FrameFile}).
 *
 * <p>The budget bounds the heap whatever the image: a 1 GB layer decoded ahead costs at most the
 * budget in memory and the rest in (compressed) temporary disk. A layer that is being read while it
 * is written is the exception that needs no budget: its reader keeps up, so the writer is held
 * back to a few chunks instead (see {@link DecodedLayer}). Buffers are pooled, so decoding a large
 * layer does not churn the heap. Thread-safe.
 */
public final class DecodedLayerStore {

  /** Size of one chunk of decoded bytes in memory, and of one frame on disk. */
  public static final int CHUNK_SIZE = 256 * 1024;

  private final Path tempDirectory;
  private final long memoryBudget;
  private final boolean compress;
  private final ArrayDeque<byte[]> pool = new ArrayDeque<>();
  private final int poolLimit;
  private long inMemory;

  /**
   * @param tempDirectory where frame files go (each is unlinked as soon as it is open)
   * @param memoryBudget bytes of decoded chunks kept in memory for layers not being read yet
   * @param compress LZ4 frames on disk (true) or the bytes as they are
   */
  public DecodedLayerStore(Path tempDirectory, long memoryBudget, boolean compress) {
    this.tempDirectory = Objects.requireNonNull(tempDirectory, "tempDirectory");
    this.memoryBudget = Math.max(0, memoryBudget);
    this.compress = compress;
    this.poolLimit = (int) Math.min(512, memoryBudget / CHUNK_SIZE + 16);
  }

  /**
   * A store in {@code java.io.tmpdir} whose memory budget is a sixteenth of the maximum heap, at
   * most 64 MiB (several renders may run in one JVM), with LZ4 frames on disk unless the system
   * property {@code ocirender.spill} is {@code raw}.
   */
  public static DecodedLayerStore withDefaults() {
    long budget = Math.min(64L << 20, Runtime.getRuntime().maxMemory() / 16);
    boolean compress = !"raw".equals(System.getProperty("ocirender.spill"));
    return new DecodedLayerStore(Path.of(System.getProperty("java.io.tmpdir")), budget, compress);
  }

  /** An empty decoded layer, to be written by one thread and read by another. */
  public DecodedLayer newLayer(String name) {
    return new DecodedLayer(this, name);
  }

  Path tempDirectory() {
    return tempDirectory;
  }

  boolean compress() {
    return compress;
  }

  /** Takes one chunk's worth of the memory budget, if any is left. */
  synchronized boolean reserve() {
    if (inMemory + CHUNK_SIZE > memoryBudget) {
      return false;
    }
    inMemory += CHUNK_SIZE;
    return true;
  }

  synchronized void release() {
    inMemory -= CHUNK_SIZE;
  }

  /** Bytes of the memory budget in use (for tests and diagnostics). */
  public synchronized long inMemory() {
    return inMemory;
  }

  synchronized byte[] takeBuffer() {
    byte[] b = pool.poll();
    return b != null ? b : new byte[CHUNK_SIZE];
  }

  synchronized void recycle(byte[] buffer) {
    if (buffer.length == CHUNK_SIZE && pool.size() < poolLimit) {
      pool.push(buffer);
    }
  }
}
