package dev.ocirender.verify;

import dev.ocirender.layer.EntryPath;
import java.util.List;

/**
 * What a verification compares. Always: type, permission bits (all 12; not of symlinks, whose mode
 * Linux fixes at 0777), size, content sha256, symlink target, device numbers, xattrs (when both
 * sides could read them) and hard-link groups. Optionally: uid/gid ({@code ownership}) and whole-second
 * mtimes ({@code mtimes}; squashfs keeps seconds only). Paths equal to or under an
 * {@code exclude} are left out on both sides. Without {@code rootMetadata}, the root directory's
 * mode, owner, mtime and xattrs are not compared.
 */
public record VerifyOptions(boolean ownership, boolean mtimes, boolean rootMetadata, List<EntryPath> excludes) {

  public static final VerifyOptions DEFAULT = new VerifyOptions(true, false, true, List.of());

  public VerifyOptions withMtimes() {
    return new VerifyOptions(ownership, true, rootMetadata, excludes);
  }

  /** For sides whose root directory was made by a tool (an extraction target) rather than read. */
  public VerifyOptions ignoringRootMetadata() {
    return new VerifyOptions(ownership, mtimes, false, excludes);
  }

  public VerifyOptions ignoringOwnership() {
    return new VerifyOptions(false, mtimes, rootMetadata, excludes);
  }

  public VerifyOptions {
    excludes = List.copyOf(excludes);
  }

  public boolean excluded(EntryPath p) {
    for (EntryPath e : excludes) {
      if (e.isRoot() || p.equals(e) || p.isStrictlyUnder(e)) {
        return true;
      }
    }
    return false;
  }
}
