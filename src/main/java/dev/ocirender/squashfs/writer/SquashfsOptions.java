package dev.ocirender.squashfs.writer;

import java.nio.file.Path;
import java.util.OptionalLong;

/**
 * How a {@link SquashfsEntrySink} writes: compressor and level, data block size, fragments,
 * de-duplication, the compression worker count, the filesystem's modification time, and whether
 * the image carries an NFS export table.
 *
 * @param mkfsTime the superblock time; empty means the newest inode mtime (deterministic)
 * @param blockCacheRoot a cache root whose {@code blocks/} directory keeps compressed blocks for
 *     reuse by later renders ({@link BlockStore}); null for none. The image is the same either way.
 * @param exportable whether to write the export table (inode number to inode lookup), which only
 *     re-exporting the mounted image over NFS needs. Off by default, as in tar2sqfs ({@code
 *     --exportable}); mksquashfs writes it unless told {@code -no-exports}. It costs 8 bytes per
 *     inode before compression: a quarter of the metadata of an image of many small files.
 */
public record SquashfsOptions(
    SquashfsCompression compression,
    int level,
    int blockSize,
    boolean fragments,
    boolean deduplicate,
    int threads,
    OptionalLong mkfsTime,
    Path blockCacheRoot,
    boolean exportable) {

  public static final int MIN_BLOCK_SIZE = 4096;
  public static final int MAX_BLOCK_SIZE = 1 << 20;
  public static final int DEFAULT_BLOCK_SIZE = 128 * 1024;

  public SquashfsOptions {
    if (blockSize < MIN_BLOCK_SIZE || blockSize > MAX_BLOCK_SIZE || Integer.bitCount(blockSize) != 1) {
      throw new IllegalArgumentException("squashfs block size must be a power of two from 4K to 1M, not " + blockSize);
    }
    compression.checkLevel(level);
    if (threads < 1) {
      throw new IllegalArgumentException("threads must be at least 1, not " + threads);
    }
  }

  /** Options without a block cache. */
  public SquashfsOptions(SquashfsCompression compression, int level, int blockSize, boolean fragments,
      boolean deduplicate, int threads, OptionalLong mkfsTime) {
    this(compression, level, blockSize, fragments, deduplicate, threads, mkfsTime, null, false);
  }

  /** zstd level 3, 128 KiB blocks, fragments and de-duplication on, one worker per core, no export table. */
  public static SquashfsOptions defaults() {
    return new SquashfsOptions(SquashfsCompression.ZSTD, 3, DEFAULT_BLOCK_SIZE, true, true,
        Runtime.getRuntime().availableProcessors(), sourceDateEpoch());
  }

  public SquashfsOptions withCompression(SquashfsCompression c, int lvl) {
    return new SquashfsOptions(c, lvl, blockSize, fragments, deduplicate, threads, mkfsTime, blockCacheRoot, exportable);
  }

  public SquashfsOptions withBlockSize(int size) {
    return new SquashfsOptions(compression, level, size, fragments, deduplicate, threads, mkfsTime, blockCacheRoot, exportable);
  }

  public SquashfsOptions withFragments(boolean on) {
    return new SquashfsOptions(compression, level, blockSize, on, deduplicate, threads, mkfsTime, blockCacheRoot, exportable);
  }

  public SquashfsOptions withDeduplicate(boolean on) {
    return new SquashfsOptions(compression, level, blockSize, fragments, on, threads, mkfsTime, blockCacheRoot, exportable);
  }

  public SquashfsOptions withThreads(int n) {
    return new SquashfsOptions(compression, level, blockSize, fragments, deduplicate, n, mkfsTime, blockCacheRoot, exportable);
  }

  public SquashfsOptions withMkfsTime(OptionalLong t) {
    return new SquashfsOptions(compression, level, blockSize, fragments, deduplicate, threads, t, blockCacheRoot, exportable);
  }

  /** With compressed blocks kept under {@code root}/blocks for reuse (null: no block cache). */
  public SquashfsOptions withBlockCacheRoot(Path root) {
    return new SquashfsOptions(compression, level, blockSize, fragments, deduplicate, threads, mkfsTime, root, exportable);
  }

  /** With or without the NFS export table. */
  public SquashfsOptions withExportable(boolean on) {
    return new SquashfsOptions(compression, level, blockSize, fragments, deduplicate, threads, mkfsTime, blockCacheRoot, on);
  }

  /** {@code SOURCE_DATE_EPOCH} from the environment, when set to a number. */
  static OptionalLong sourceDateEpoch() {
    String v = System.getenv("SOURCE_DATE_EPOCH");
    if (v == null || v.isBlank()) {
      return OptionalLong.empty();
    }
    try {
      return OptionalLong.of(Long.parseLong(v.trim()));
    } catch (NumberFormatException e) {
      return OptionalLong.empty();
    }
  }
}
