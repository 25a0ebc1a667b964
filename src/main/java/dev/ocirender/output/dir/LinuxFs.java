package dev.ocirender.output.dir;

import com.sun.jna.LastErrorException;
import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Platform;
import com.sun.jna.Pointer;
import dev.ocirender.io.NativeLibraries;
import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.util.Arrays;

/**
 * The Linux (glibc) calls the directory writer makes on raw byte names relative to directory file
 * descriptors: {@code openat}, {@code mkdirat}, {@code symlinkat}, {@code linkat}, {@code mknodat},
 * {@code fchownat}, {@code fchmodat}, {@code utimensat} and their fd forms, {@code pwrite},
 * {@code fsetxattr}/{@code lsetxattr}, bound with JNA direct mapping (as {@code layer/inflate/Isal}
 * binds ISA-L), and whether they could be loaded.
 *
 * <p>Why: Java has no {@code *at} calls, no {@code mknod}, no nanosecond no-follow times before
 * 1970 and no xattrs of other namespaces, so without this the writer spawned a tool per such entry
 * or batch. With it, an entry costs its few syscalls and nothing else.
 *
 * <p>Loaded at most once; only on Linux x86-64 and aarch64, whose flag values and {@code struct
 * timespec} layout (two longs) are written down here. Elsewhere {@link #failure()} says why and the
 * writer keeps its path-based fallback. Every call throws an {@link IOException} naming the
 * operation and the entry; {@code EEXIST} is a {@link FileAlreadyExistsException}. Names passed in
 * must not contain NUL (the writer checks); they are NUL-terminated here.
 */
final class LinuxFs {

  static final int AT_FDCWD = -100;
  static final int AT_SYMLINK_NOFOLLOW = 0x100;

  static final int O_RDONLY = 0;
  static final int O_WRONLY = 1;
  static final int O_CREAT = 0100;
  static final int O_EXCL = 0200;
  static final int O_CLOEXEC = 02000000;
  static final int O_DIRECTORY;
  static final int O_NOFOLLOW;

  static final int S_IFIFO = 0010000;
  static final int S_IFCHR = 0020000;
  static final int S_IFBLK = 0060000;

  static final int EEXIST = 17;
  static final int ENOENT = 2;
  static final int EPERM = 1;

  private static final String FAILURE;

  static {
    boolean aarch64 = "aarch64".equals(System.getProperty("os.arch"));
    // asm-generic (aarch64) and x86 differ in these two.
    O_DIRECTORY = aarch64 ? 040000 : 0200000;
    O_NOFOLLOW = aarch64 ? 0100000 : 0400000;
    FAILURE = load();
  }

  private LinuxFs() {}

  /** Null when the calls are bound and usable, else why not. */
  static String failure() {
    return FAILURE;
  }

  static boolean available() {
    return FAILURE == null;
  }

  private static String load() {
    if (Boolean.getBoolean("ocirender.dir.noNative")) {
      return "disabled by -Docirender.dir.noNative=true";
    }
    String arch = System.getProperty("os.arch");
    if (!Platform.isLinux() || !("amd64".equals(arch) || "aarch64".equals(arch))) {
      return "direct file calls are bound only on Linux x86-64 and aarch64, not " + System.getProperty("os.name") + " " + arch;
    }
    NativeLibraries.prepare();
    try {
      Native.register(LinuxFs.class, NativeLibrary.getInstance(Platform.C_LIBRARY_NAME));
      return null;
    } catch (UnsatisfiedLinkError | RuntimeException e) {
      return "cannot bind libc: " + e.getMessage();
    }
  }

  // ---- the raw bindings (errno becomes a LastErrorException)

  private static native int openat(int dirfd, byte[] path, int flags, int mode) throws LastErrorException;

  private static native int mkdirat(int dirfd, byte[] path, int mode) throws LastErrorException;

  private static native int symlinkat(byte[] target, int dirfd, byte[] path) throws LastErrorException;

  private static native int linkat(int olddirfd, byte[] oldpath, int newdirfd, byte[] newpath, int flags) throws LastErrorException;

  private static native int mknodat(int dirfd, byte[] path, int mode, long dev) throws LastErrorException;

  private static native int fchownat(int dirfd, byte[] path, int uid, int gid, int flags) throws LastErrorException;

  private static native int fchown(int fd, int uid, int gid) throws LastErrorException;

  private static native int fchmodat(int dirfd, byte[] path, int mode, int flags) throws LastErrorException;

  private static native int fchmod(int fd, int mode) throws LastErrorException;

  private static native int utimensat(int dirfd, byte[] path, long[] times, int flags) throws LastErrorException;

  private static native int futimens(int fd, long[] times) throws LastErrorException;

  private static native long pwrite(int fd, Pointer buf, long count, long offset) throws LastErrorException;

  private static native int ftruncate(int fd, long length) throws LastErrorException;

  private static native int fsetxattr(int fd, byte[] name, byte[] value, long size, int flags) throws LastErrorException;

  private static native int lsetxattr(byte[] path, byte[] name, byte[] value, long size, int flags) throws LastErrorException;

  private static native int close(int fd) throws LastErrorException;

  private static native int dup(int fd) throws LastErrorException;

  // ---- checked wrappers

  /** A C string: {@code name} with a NUL appended. */
  static byte[] c(byte[] name) {
    return Arrays.copyOf(name, name.length + 1);
  }

  private static IOException failed(String op, Object what, LastErrorException e) {
    String reason = what + ": " + op + ": " + strerror(e);
    return e.getErrorCode() == EEXIST ? new FileAlreadyExistsException(what.toString(), null, reason) : new ErrnoException(reason, e.getErrorCode(), e);
  }

  private static String strerror(LastErrorException e) {
    String m = e.getMessage();
    // JNA's message is "[errno] text"
    return m != null && m.startsWith("[") && m.indexOf(']') > 0 ? m.substring(m.indexOf(']') + 1).strip() : String.valueOf(m);
  }

  /** An I/O error carrying the errno that caused it. */
  static final class ErrnoException extends IOException {
    private static final long serialVersionUID = 1L;
    final int errno;

    ErrnoException(String message, int errno, Throwable cause) {
      super(message, cause);
      this.errno = errno;
    }
  }

  /** Opens the directory {@code name} inside {@code dirfd} without following a symlink there. */
  static int openDirectory(int dirfd, byte[] cName, Object what) throws IOException {
    try {
      return openat(dirfd, cName, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
    } catch (LastErrorException e) {
      throw failed("open directory", what, e);
    }
  }

  /** Creates a new file, exclusively: fails on any existing name, a dangling symlink included. */
  static int createFile(int dirfd, byte[] cName, int mode, Object what) throws IOException {
    try {
      return openat(dirfd, cName, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    } catch (LastErrorException e) {
      throw failed("create", what, e);
    }
  }

  static void mkdir(int dirfd, byte[] cName, int mode, Object what) throws IOException {
    try {
      mkdirat(dirfd, cName, mode);
    } catch (LastErrorException e) {
      throw failed("mkdir", what, e);
    }
  }

  static void symlink(byte[] cTarget, int dirfd, byte[] cName, Object what) throws IOException {
    try {
      symlinkat(cTarget, dirfd, cName);
    } catch (LastErrorException e) {
      throw failed("symlink", what, e);
    }
  }

  /** A hard link; flags 0: a symlink source is linked itself, never followed. */
  static void link(int fromDirfd, byte[] cFrom, int dirfd, byte[] cName, Object what) throws IOException {
    try {
      linkat(fromDirfd, cFrom, dirfd, cName, 0);
    } catch (LastErrorException e) {
      throw failed("link", what, e);
    }
  }

  static void mknod(int dirfd, byte[] cName, int mode, int major, int minor, Object what) throws IOException {
    try {
      mknodat(dirfd, cName, mode, makedev(major, minor));
    } catch (LastErrorException e) {
      throw failed("mknod", what, e);
    }
  }

  /** glibc's {@code makedev}: 12 bits of major and 8 of minor low, the rest above. */
  static long makedev(long major, long minor) {
    return ((major & 0xfffff000L) << 32) | ((major & 0xfffL) << 8) | ((minor & 0xffffff00L) << 12) | (minor & 0xffL);
  }

  static void lchown(int dirfd, byte[] cName, long uid, long gid, Object what) throws IOException {
    try {
      fchownat(dirfd, cName, (int) uid, (int) gid, AT_SYMLINK_NOFOLLOW);
    } catch (LastErrorException e) {
      throw failed("chown", what, e);
    }
  }

  static void fchown(int fd, long uid, long gid, Object what) throws IOException {
    try {
      fchown(fd, (int) uid, (int) gid);
    } catch (LastErrorException e) {
      throw failed("chown", what, e);
    }
  }

  /**
   * chmod by name, following a symlink at the last component (Linux has no no-follow chmod): only for
   * a node the writer has just made there itself.
   */
  static void chmodOwnNode(int dirfd, byte[] cName, int mode, Object what) throws IOException {
    try {
      fchmodat(dirfd, cName, mode & 07777, 0);
    } catch (LastErrorException e) {
      throw failed("chmod", what, e);
    }
  }

  static void fchmod(int fd, int mode, Object what) throws IOException {
    try {
      fchmod(fd, mode & 07777);
    } catch (LastErrorException e) {
      throw failed("chmod", what, e);
    }
  }

  /** atime and mtime both set to the given time, exactly (negative seconds with nanoseconds too). */
  static void lutimens(int dirfd, byte[] cName, long seconds, int nanos, Object what) throws IOException {
    try {
      utimensat(dirfd, cName, new long[] {seconds, nanos, seconds, nanos}, AT_SYMLINK_NOFOLLOW);
    } catch (LastErrorException e) {
      throw failed("set times", what, e);
    }
  }

  static void futimens(int fd, long seconds, int nanos, Object what) throws IOException {
    try {
      futimens(fd, new long[] {seconds, nanos, seconds, nanos});
    } catch (LastErrorException e) {
      throw failed("set times", what, e);
    }
  }

  /** Writes {@code count} bytes from {@code buf} at {@code offset}, all of them. */
  static void pwriteFully(int fd, Pointer buf, long count, long offset, Object what) throws IOException {
    long done = 0;
    try {
      while (done < count) {
        done += pwrite(fd, buf.share(done), count - done, offset + done);
      }
    } catch (LastErrorException e) {
      throw failed("write", what, e);
    }
  }

  static void ftruncate(int fd, long length, Object what) throws IOException {
    try {
      ftruncate(fd, length);
    } catch (LastErrorException e) {
      throw failed("truncate", what, e);
    }
  }

  static void fsetxattr(int fd, String name, byte[] value, Object what) throws IOException {
    try {
      fsetxattr(fd, c(name.getBytes(java.nio.charset.StandardCharsets.UTF_8)), value, value.length, 0);
    } catch (LastErrorException e) {
      throw failed("set xattr " + name, what, e);
    }
  }

  /** xattr by path, never following a symlink at the last component. */
  static void lsetxattr(byte[] cPath, String name, byte[] value, Object what) throws IOException {
    try {
      lsetxattr(cPath, c(name.getBytes(java.nio.charset.StandardCharsets.UTF_8)), value, value.length, 0);
    } catch (LastErrorException e) {
      throw failed("set xattr " + name, what, e);
    }
  }

  /** A second descriptor for the same open directory, to hold while another is opened. */
  static int dup(int fd, Object what) throws IOException {
    try {
      return dup(fd);
    } catch (LastErrorException e) {
      throw failed("dup", what, e);
    }
  }

  static void close(int fd, Object what) throws IOException {
    try {
      close(fd);
    } catch (LastErrorException e) {
      throw failed("close", what, e);
    }
  }
}
