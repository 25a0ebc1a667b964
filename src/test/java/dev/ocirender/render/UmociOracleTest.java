package dev.ocirender.render;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ocirender.image.Platform;
import dev.ocirender.source.ImageSource;
import dev.ocirender.source.ImageSources;
import dev.ocirender.testing.ExternalTools;
import dev.ocirender.testing.FsSnapshot;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The oracle test of the core engine: an image built by a real tool, {@code umoci}, from real
 * directory trees (so its whiteouts, hard links, xattrs and devices are what umoci writes, not what
 * our fixtures write), rendered by ocirender to tar and extracted by GNU tar, must equal
 * {@code umoci raw unpack} of the same image path by path: type, mode, owner, size, content,
 * symlink target, hard-link groups, device numbers, xattrs and mtimes.
 *
 * <p>Runs as root (CI does), so ownership and device nodes are part of the comparison.
 */
class UmociOracleTest {

  @Test
  void renderedTar_extracted_equalsUmociRawUnpack(@TempDir Path tmp) throws Exception {
    ExternalTools.assumeTools("umoci", "tar", "setfattr", "mknod", "mkfifo");
    ExternalTools.assumeRoot();
    Path layout = tmp.resolve("img");
    Path rootfs = tmp.resolve("bundle/rootfs");
    ExternalTools.bash(tmp, "umoci init --layout img && umoci new --image img:v1 && umoci unpack --image img:v1 bundle");

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
    ExternalTools.bash(tmp, "umoci repack --refresh-bundle --image img:v1 bundle");

    // Layer 2: deletions (umoci writes whiteouts: --refresh-bundle diffs each repack against the last), replacement of a directory by a file, the
    // hard-link target overwritten (the links keep the old content), a tree replaced wholesale.
    ExternalTools.bash(rootfs, String.join("\n",
        "rm etc/motd",
        "rm -r var/cache/app",
        "rm -r srv/tree && printf 'now a file' > srv/tree",
        "rm usr/bin/tool && printf 'tool v2' > usr/bin/tool",
        "printf 'new' > usr/bin/extra && ln usr/bin/extra usr/bin/extra-link",
        "chmod 0700 opt/keep"));
    ExternalTools.bash(tmp, "umoci repack --refresh-bundle --image img:v1 bundle");

    // Layer 3: a directory re-created after its deletion, a symlink turned into a directory,
    // a whiteout of one of two remaining hard links.
    ExternalTools.bash(rootfs, String.join("\n",
        "mkdir -p var/cache/app && printf 'fresh' > var/cache/app/c.dat",
        "rm etc/passwd-abs && mkdir etc/passwd-abs && printf 'in' > etc/passwd-abs/x",
        "rm usr/bin/tool-alias2"));
    ExternalTools.bash(tmp, "umoci repack --refresh-bundle --image img:v1 bundle");

    ExternalTools.run(tmp, List.of("umoci", "raw", "unpack", "--image", "img:v1", "oracle"));

    Path tar = tmp.resolve("ours.tar");
    try (ImageSource source = ImageSources.open("oci:" + layout + ":v1")) {
      new Renderer().renderToFile(source, Platform.LINUX_AMD64, OutputFormat.TAR, tar);
    }
    Files.createDirectory(tmp.resolve("ours"));
    ExternalTools.run(tmp, List.of("tar", "--extract", "--file", tar.toString(), "--directory", "ours",
        "--same-permissions", "--same-owner", "--numeric-owner", "--xattrs", "--xattrs-include=*"));

    FsSnapshot oracle = FsSnapshot.fromDirectory(tmp.resolve("oracle"), true);
    FsSnapshot ours = FsSnapshot.fromDirectory(tmp.resolve("ours"), true);
    assertThat(oracle.paths()).hasSizeGreaterThan(25);
    // The layers really carry whiteouts (--refresh-bundle makes umoci diff against the previous
    // layer), so the comparison covers them: deleted paths are gone in the oracle itself.
    assertThat(oracle.has("etc/motd")).isFalse();
    assertThat(oracle.has("var/cache/app/a.dat")).isFalse();
    assertThat(oracle.has("var/cache/app/c.dat")).isTrue();
    assertThat(oracle.has("usr/bin/tool-alias2")).isFalse();
    oracle.assertMatches(ours, FsSnapshot.Compare.EXACT.ignoringRootMetadata());
  }
}
