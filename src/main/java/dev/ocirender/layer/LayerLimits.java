package dev.ocirender.layer;

import java.io.Serializable;

/**
 * The sizes a layer's metadata may reach before {@link LayerTarReader} refuses the entry, checked as
 * each entry streams past. One small value that the CLI and the pipeline set and the renderer
 * passes, inside {@code merge.MergeLimits}, to every reader of a layer's tar (and of a tar read back
 * for verification); {@link #DEFAULT} holds every image a container runtime can unpack
 * on Linux, and refuses metadata that only a hostile or broken writer makes.
 *
 * <p>Each limit is one-line refusal naming the entry (its name cut to a bounded length, see
 * {@link EntryPath#quote}). Checking is linear in the length of the name: one pass over its bytes.
 *
 * @param maxPathBytes the longest normalised path, in bytes (default 65 536: sixteen times Linux's
 *     PATH_MAX, which deep trees exceed only through relative paths)
 * @param maxPathDepth the most components a path may have (default 4 096)
 * @param maxNameBytes the longest single component (default 4 096). Linux filesystems hold 255
 *     bytes; a tar can carry more, and the tar output keeps it, while the directory and squashfs
 *     outputs refuse such a name with their own message

 * @param maxSymlinkTargetBytes the longest symlink target (default 4 095: the kernel refuses longer)
 * @param maxExtendedHeaderBytes the largest PAX extended header or GNU long name/link record
 *     (default 8 MiB; read into memory, so a hostile size is refused rather than allocated)
 * @param maxXattrs the most extended attributes one entry may have (default 1 024)
 * @param maxXattrValueBytes the largest single xattr value (default 65 536: Linux's XATTR_SIZE_MAX)
 * @param maxXattrTotalBytes the largest sum of one entry's xattr names and values (default 1 MiB)
 */
public record LayerLimits(int maxPathBytes, int maxPathDepth, int maxNameBytes, int maxSymlinkTargetBytes,
    int maxExtendedHeaderBytes, int maxXattrs, int maxXattrValueBytes, long maxXattrTotalBytes) implements Serializable {

  public static final LayerLimits DEFAULT = new LayerLimits(65_536, 4_096, 4_096, 4_095, 8 * 1024 * 1024, 1_024,
      65_536, 1024 * 1024);

  public LayerLimits {
    if (maxPathBytes <= 0 || maxPathDepth <= 0 || maxNameBytes <= 0 || maxSymlinkTargetBytes <= 0
        || maxExtendedHeaderBytes <= 0 || maxXattrs < 0 || maxXattrValueBytes < 0 || maxXattrTotalBytes < 0) {
      throw new IllegalArgumentException("layer limits must be positive: " + this);
    }
  }

  public LayerLimits withMaxPathBytes(int v) {
    return new LayerLimits(v, maxPathDepth, maxNameBytes, maxSymlinkTargetBytes, maxExtendedHeaderBytes, maxXattrs,
        maxXattrValueBytes, maxXattrTotalBytes);
  }

  public LayerLimits withMaxPathDepth(int v) {
    return new LayerLimits(maxPathBytes, v, maxNameBytes, maxSymlinkTargetBytes, maxExtendedHeaderBytes, maxXattrs,
        maxXattrValueBytes, maxXattrTotalBytes);
  }

  public LayerLimits withMaxNameBytes(int v) {
    return new LayerLimits(maxPathBytes, maxPathDepth, v, maxSymlinkTargetBytes, maxExtendedHeaderBytes, maxXattrs,
        maxXattrValueBytes, maxXattrTotalBytes);
  }

  public LayerLimits withMaxSymlinkTargetBytes(int v) {
    return new LayerLimits(maxPathBytes, maxPathDepth, maxNameBytes, v, maxExtendedHeaderBytes, maxXattrs,
        maxXattrValueBytes, maxXattrTotalBytes);
  }

  public LayerLimits withMaxExtendedHeaderBytes(int v) {
    return new LayerLimits(maxPathBytes, maxPathDepth, maxNameBytes, maxSymlinkTargetBytes, v, maxXattrs,
        maxXattrValueBytes, maxXattrTotalBytes);
  }

  public LayerLimits withMaxXattrs(int count, int valueBytes, long totalBytes) {
    return new LayerLimits(maxPathBytes, maxPathDepth, maxNameBytes, maxSymlinkTargetBytes, maxExtendedHeaderBytes,
        count, valueBytes, totalBytes);
  }
}
