package dev.ocirender.testing;

import java.nio.file.Path;
import java.util.List;

/**
 * The image the oracle tests share: built by a real tool, {@code umoci}, from real directory trees
 * (so its whiteouts, hard links, xattrs, devices and long names are what umoci writes, not what our
 * fixtures write), and unpacked by {@code umoci raw unpack} as the reference. Three layers: a base
 * with every kind of entry, then deletions (umoci writes whiteouts only with
 * {@code --refresh-bundle}, which diffs each repack against the previous one), a directory replaced
 * by a file, a hard-link target overwritten; then a directory re-created after its deletion, a
 * symlink turned into a directory and one of two remaining hard links removed. Needs root (owners,
 * device nodes).
 *
 * @param spec the image, {@code oci:WORK/img:v1}
 * @param oracle {@code umoci raw unpack} of it
 */
public record UmociOracleImage(String spec, Path oracle) {

  /** Builds the image and its unpack under {@code work}; skips (or fails in CI) without the tools or root. */
  public static UmociOracleImage build(Path work) {
    ExternalTools.assumeTools("umoci", "setfattr", "mknod", "mkfifo");
    ExternalTools.assumeRoot();
    Path rootfs = work.resolve("bundle/rootfs");
    ExternalTools.bash(work, "umoci init --layout img && umoci new --image img:v1 && umoci unpack --image img:v1 bundle");

    // Layer 1: a base with every kind of entry.
    ExternalTools.bash(rootfs, String.join("\n",
        "mkdir -p etc usr/bin usr/lib/deep/er var/cache/app opt/keep dev srv/tree/sub",
        "printf 'root:x:0:0::/root:/bin/sh\\n' > etc/passwd",
        "printf 'hello' > etc/motd",
        "head -c 300000 /dev/urandom > usr/lib/big.so",
        "printf 'tool v1' > usr/bin/tool && chmod 4755 usr/bin/tool",
        "ln usr/bin/tool usr/bin/tool-alias",
        "ln usr/bin/tool usr/bin/tool-alias2",
        "ln -s ../lib/big.so usr/bin/big-link",
        "ln -s /etc/passwd etc/passwd-abs",
        "printf 'cache' > var/cache/app/a.dat && printf 'cache2' > var/cache/app/b.dat",
        "chmod 1777 var/cache && chmod 2750 opt/keep",
        "printf 'kept' > opt/keep/file && chown 70000:1234 opt/keep/file",
        "printf 'x' > srv/tree/sub/f && printf 'y' > srv/tree/g",
        "mkfifo dev/fifo && mknod dev/null c 1 3 && mknod dev/loop9 b 7 9",
        "setfattr -n user.comment -v 'a comment' etc/motd",
        "setfattr -n user.bin -v 0x00ff10 usr/lib/big.so",
        "name=$(printf 'n%.0s' $(seq 1 150)); mkdir -p \"usr/lib/deep/er/$name\" && printf 'long' > \"usr/lib/deep/er/$name/$name.txt\"",
        "touch -h -d '2021-02-03 04:05:06' usr/bin/big-link",
        "touch -d '2020-01-01 00:00:00' etc/motd"));
    ExternalTools.bash(work, "umoci repack --refresh-bundle --image img:v1 bundle");

    // Layer 2: deletions (whiteouts), a directory replaced by a file, the hard-link target
    // overwritten (the links keep the old content).
    ExternalTools.bash(rootfs, String.join("\n",
        "rm etc/motd",
        "rm -r var/cache/app",
        "rm -r srv/tree && printf 'now a file' > srv/tree",
        "rm usr/bin/tool && printf 'tool v2' > usr/bin/tool",
        "printf 'new' > usr/bin/extra && ln usr/bin/extra usr/bin/extra-link",
        "chmod 0700 opt/keep"));
    ExternalTools.bash(work, "umoci repack --refresh-bundle --image img:v1 bundle");

    // Layer 3: a directory re-created after its deletion, a symlink turned into a directory,
    // a whiteout of one of two remaining hard links.
    ExternalTools.bash(rootfs, String.join("\n",
        "mkdir -p var/cache/app && printf 'fresh' > var/cache/app/c.dat",
        "rm etc/passwd-abs && mkdir etc/passwd-abs && printf 'in' > etc/passwd-abs/x",
        "rm usr/bin/tool-alias2"));
    ExternalTools.bash(work, "umoci repack --refresh-bundle --image img:v1 bundle");

    ExternalTools.run(work, List.of("umoci", "raw", "unpack", "--image", "img:v1", "oracle"));
    return new UmociOracleImage("oci:" + work.resolve("img") + ":v1", work.resolve("oracle"));

  }
}
