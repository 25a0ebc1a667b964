package dev.ocirender.layer;

/** What a filesystem entry is. Sockets cannot be stored in tar, so they never occur. */
public enum EntryType {
  FILE,
  DIRECTORY,
  SYMLINK,
  /** A second name for an inode already delivered; its target is an earlier entry's path. */
  HARDLINK,
  CHAR_DEVICE,
  BLOCK_DEVICE,
  FIFO;

  public boolean isDirectory() {
    return this == DIRECTORY;
  }
}
