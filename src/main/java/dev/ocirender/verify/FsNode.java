package dev.ocirender.verify;

import dev.ocirender.layer.EntryType;
import java.util.Map;

/**
 * What verification knows about one path: its inode's attributes, the sha256 of a file's content
 * (never the content), and the hard-link group it belongs to. {@code type} is never HARDLINK: a
 * hard link is another path of its inode, with the inode's type; {@code inode} is an opaque number
 * shared by exactly the paths of one inode within one {@link FsModel}.
 */
public record FsNode(EntryType type, int mode, long uid, long gid, long mtimeSeconds, int mtimeNanos, long size,
    byte[] sha256, byte[] symlinkTarget, int devMajor, int devMinor, Map<String, byte[]> xattrs, long inode) {}
