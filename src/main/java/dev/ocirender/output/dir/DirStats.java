package dev.ocirender.output.dir;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * What a {@link DirectoryEntrySink} wrote and what it could not, for the render summary: entries by
 * kind, content bytes, and what a rootless render skipped (ownership, device nodes, extended
 * attributes of namespaces an unprivileged user may not set).
 *
 * @param privileged whether ownership, devices and {@code security.*}/{@code trusted.*} xattrs were
 *     written (running as root)
 * @param skippedXattrs attributes not written: privileged namespaces when rootless, and
 *     {@code user.*} on entries other than files and directories, which Linux refuses
 */
public record DirStats(
    boolean privileged,
    long files,
    long directories,
    long symlinks,
    long hardLinks,
    long fifos,
    long devices,
    long contentBytes,
    long xattrs,
    long skippedDevices,
    long skippedXattrs) {

  public long entries() {
    return files + directories + symlinks + hardLinks + fifos + devices;
  }

  /** One line for the CLI: {@code "1234 entries on disk, 56.7 MB; rootless: 2 devices skipped ..."}. */
  public String summary() {
    StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "%d entries on disk (%d files, %d dirs, %d symlinks, "
        + "%d hard links, %d fifos, %d devices), %d content bytes, %d xattrs",
        entries(), files, directories, symlinks, hardLinks, fifos, devices, contentBytes, xattrs));
    List<String> skipped = new ArrayList<>();
    if (!privileged) {
      skipped.add("ownership not applied");
    }
    if (skippedDevices > 0) {
      skipped.add(skippedDevices + " device node" + (skippedDevices == 1 ? "" : "s") + " skipped");
    }
    if (skippedXattrs > 0) {
      skipped.add(skippedXattrs + " xattr" + (skippedXattrs == 1 ? "" : "s") + " skipped"
          + (privileged ? " (user.* on a symlink, FIFO or device)" : " (security.*/trusted.* need root)"));
    }
    if (!skipped.isEmpty()) {
      sb.append(privileged ? "; " : "; rootless: ").append(String.join(", ", skipped));
    }
    return sb.toString();
  }
}
