package dev.ocirender.verify;

import dev.ocirender.layer.EntryHeader;
import dev.ocirender.layer.EntryPath;
import dev.ocirender.layer.EntryType;
import dev.ocirender.output.EntrySink;
import java.io.IOException;
import java.io.InputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Map;
import java.util.TreeMap;

/**
 * Builds an {@link FsModel} from entries as the merge (or a reader of a rendered output) delivers
 * them: content is hashed while it streams past and dropped. A hard link joins its target's inode.
 * A path delivered twice takes the later entry (tar semantics), and every parent that never
 * arrives is added as a root-owned 0755 directory (as extracting a tar would make it).
 */
public final class ModelSink implements EntrySink {

  private static final byte[] EMPTY_SHA256 = sha256().digest();

  private final String description;
  private final TreeMap<EntryPath, FsNode> nodes = new TreeMap<>();
  private final byte[] buffer = new byte[64 * 1024];
  private final MessageDigest digest = sha256();
  private boolean xattrsKnown = true;
  private long nextInode = 1;
  private long sockets;
  private FsModel model;

  public ModelSink(String description) {
    this.description = description;
  }

  @Override
  public void accept(EntryHeader h, InputStream content) throws IOException {
    accept(h, content, 0);
  }

  /**
   * Like {@link #accept(EntryHeader, InputStream)}, with {@code inodeKey} != 0 joining every path
   * given the same key into one hard-link group (for directory trees, where links are inode numbers).
   */
  public void accept(EntryHeader h, InputStream content, long inodeKey) throws IOException {
    if (h.type() == EntryType.HARDLINK) {
      FsNode target = nodes.get(h.linkTarget());
      if (target == null || target.type() == EntryType.DIRECTORY) {
        throw new IOException("hard link " + h.path() + " names " + h.linkTarget()
            + ", which is " + (target == null ? "not an earlier entry" : "a directory"));
      }
      nodes.put(h.path(), target);
      return;
    }
    byte[] sha = null;
    long size = 0;
    if (h.type() == EntryType.FILE) {
      if (content == null || h.size() == 0) {
        sha = EMPTY_SHA256;
      } else {
        digest.reset();
        int r;
        while ((r = content.read(buffer)) > 0) {
          digest.update(buffer, 0, r);
          size += r;
        }
        sha = digest.digest();
      }
      if (content != null && size != h.size()) {
        throw new IOException(h.path() + ": content is " + size + " bytes, the header says " + h.size());
      }
      size = h.size();
    }
    long inode = inodeKey != 0 ? -inodeKey : nextInode++; // keys given by callers never clash with ours
    Map<String, byte[]> x = h.xattrs().isEmpty() ? Map.of() : new TreeMap<>(h.xattrs());
    nodes.put(h.path(), new FsNode(h.type(), h.mode(), h.uid(), h.gid(), h.mtimeSeconds(), h.mtimeNanos(), size, sha,
        h.symlinkTarget(), h.devMajor(), h.devMinor(), x, inode));
  }

  /** Notes a socket that was left out. */
  public void socket() {
    sockets++;
  }

  /** Marks this side's xattrs as unknown: they are then not compared. */
  public void xattrsUnknown() {
    xattrsKnown = false;
  }

  @Override
  public void finish() {
    for (EntryPath p : new java.util.ArrayList<>(nodes.keySet())) {
      for (EntryPath q = p; !q.isRoot(); ) {
        q = q.parent();
        if (nodes.containsKey(q)) {
          break;
        }
        nodes.put(q, new FsNode(EntryType.DIRECTORY, 0755, 0, 0, 0, 0, 0, null, null, 0, 0, Map.of(), nextInode++));
      }
    }
    if (!nodes.containsKey(EntryPath.ROOT)) {
      nodes.put(EntryPath.ROOT, new FsNode(EntryType.DIRECTORY, 0755, 0, 0, 0, 0, 0, null, null, 0, 0, Map.of(), nextInode++));
    }
    model = new FsModel(description, nodes, xattrsKnown, sockets);
  }

  /** The model; only after {@link #finish()}. */
  public FsModel model() {
    if (model == null) {
      throw new IllegalStateException("not finished");
    }
    return model;
  }

  @Override
  public void close() {}

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
