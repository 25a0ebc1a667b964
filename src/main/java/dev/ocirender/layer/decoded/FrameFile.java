package dev.ocirender.layer.decoded;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.Set;
import java.util.zip.CRC32C;
import net.jpountz.lz4.LZ4Compressor;
import net.jpountz.lz4.LZ4Exception;
import net.jpountz.lz4.LZ4Factory;
import net.jpountz.lz4.LZ4SafeDecompressor;

/**
 * An append-only file of checksummed frames: the on-disk form of decoded layer bytes.
 *
 * <p>Each frame is a 12-byte header (little-endian: decoded length, stored length, CRC32C of the
 * decoded bytes) followed by the stored bytes: an LZ4 block, or the bytes themselves when LZ4
 * would not save at least 1/16 (or when the file was made without compression), told apart by
 * stored length equal to decoded length. The header is in the file so that the file describes
 * itself (a later cache can scan it); the writer also returns each frame's {@link Frame} so a
 * reader within the same process need not scan. A frame read back is checked against both its
 * header and its checksum: a damaged or truncated file fails loudly, it is never used silently.
 *
 * <p>One writer thread appends; readers on other threads may read frames already appended
 * (positional reads, so they do not disturb the writer). The file is unlinked as soon as it is
 * open where the platform allows (never named at all on Linux), so a crash leaves nothing behind.
 */
final class FrameFile implements Closeable {
  static final int HEADER_SIZE = 12;

  /** Where one frame is and what it holds. */
  record Frame(long position, int decodedLength, int storedLength, int crc) {}

  private static final LZ4Factory LZ4 = LZ4Factory.fastestInstance();
  private static final SecureRandom RANDOM = new SecureRandom();

  private final FileChannel channel;
  private final boolean compress;
  private final LZ4Compressor compressor = LZ4.fastCompressor();
  private final LZ4SafeDecompressor decompressor = LZ4.safeDecompressor();
  private final String name;
  private long end;
  private ByteBuffer packed = ByteBuffer.allocate(0);

  private FrameFile(FileChannel channel, boolean compress, String name) {
    this.channel = channel;
    this.compress = compress;
    this.name = name;
  }

  /**
   * A new, empty frame file in {@code dir}: on Linux one that never has a name ({@link UnnamedFile}),
   * elsewhere one gone from the directory at once where the platform allows (POSIX), else once closed.
   *
   * <p>Why one {@code open} for the named file: {@code DELETE_ON_CLOSE} makes the JDK unlink the file right after the
   * {@code open} call that creates it, so the name is in the directory only between those two
   * system calls. Creating it first ({@code Files.createTempFile}) and opening it again left it
   * visible much longer, long enough for a listing of the directory to see it.
   */
  static FrameFile createTemp(Path dir, boolean compress, String what) throws IOException {
    Files.createDirectories(dir);
    FileChannel unnamed = UnnamedFile.open(dir);
    if (unnamed != null) {
      return new FrameFile(unnamed, compress, what + " (unnamed temporary file in " + dir + ")");
    }
    while (true) {
      Path path = dir.resolve("ocirender-decoded-" + Long.toUnsignedString(RANDOM.nextLong()) + ".frames");
      try {
        FileChannel channel = FileChannel.open(path, Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.READ,
            StandardOpenOption.WRITE, StandardOpenOption.DELETE_ON_CLOSE), ownerOnly(dir));
        return new FrameFile(channel, compress, what + " (" + path + ")");
      } catch (FileAlreadyExistsException e) {
        // another file took this name: draw another
      }
    }
  }

  /** rw------- where the file system has POSIX permissions, as {@code Files.createTempFile} gives. */
  private static FileAttribute<?>[] ownerOnly(Path dir) {
    if (dir.getFileSystem().supportedFileAttributeViews().contains("posix")) {
      return new FileAttribute<?>[] {PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------"))};
    }
    return new FileAttribute<?>[0];
  }

  /** A frame file at {@code path}, created empty and kept after closing (a cache's, a test's). */
  static FrameFile create(Path path, boolean compress) throws IOException {
    FileChannel channel = FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE,
        StandardOpenOption.CREATE_NEW);
    return new FrameFile(channel, compress, path.toString());
  }

  /** An existing frame file at {@code path}, to read frames whose {@link Frame}s are known. */
  static FrameFile openExisting(Path path, boolean compress) throws IOException {
    FrameFile f = new FrameFile(FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE), compress,
        path.toString());
    f.end = f.channel.size();
    return f;
  }

  /** An existing frame file at {@code path}, read-only: a cache entry, read by scanning its frames. */
  static FrameFile openForReading(Path path) throws IOException {
    FrameFile f = new FrameFile(FileChannel.open(path, StandardOpenOption.READ), false, path.toString());
    f.end = f.channel.size();
    return f;
  }

  /**
   * The frame whose header starts at {@code position}, as far as its header tells; {@link #read}
   * then checks it. Fails when the header does not fit a frame of at most {@code maxDecoded}
   * bytes that ends by {@code limit}, so a damaged header cannot make a reader allocate or read
   * beyond the file.
   */
  Frame frameAt(long position, int maxDecoded, long limit) throws IOException {
    ByteBuffer header = readAt(position, HEADER_SIZE);
    int decoded = header.getInt(0);
    int stored = header.getInt(4);
    if (decoded <= 0 || decoded > maxDecoded || stored <= 0 || stored > decoded
        || position + HEADER_SIZE + stored > limit) {
      throw new IOException(name + ": damaged frame header at " + position);
    }
    return new Frame(position, decoded, stored, header.getInt(8));
  }

  /** {@code length} bytes at {@code position} (little-endian buffer); fails if the file ends first. */
  ByteBuffer readAt(long position, int length) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(length).order(ByteOrder.LITTLE_ENDIAN);
    long at = position;
    while (b.hasRemaining()) {
      int n = channel.read(b, at);
      if (n < 0) {
        throw new IOException(name + ": truncated at " + at);
      }
      at += n;
    }
    return b.flip();
  }

  /** Appends {@code bytes} as they are (not a frame: a trailer). Writer thread only. */
  void appendRaw(ByteBuffer bytes) throws IOException {
    long at = end;
    while (bytes.hasRemaining()) {
      at += channel.write(bytes, at);
    }
    end = at;
  }

  /** Appends {@code data[0, length)} as one frame. Writer thread only. */
  Frame append(byte[] data, int length) throws IOException {
    CRC32C crc = new CRC32C();
    crc.update(data, 0, length);
    int checksum = (int) crc.getValue();
    int capacity = HEADER_SIZE + Math.max(length, compress ? compressor.maxCompressedLength(length) : 0);
    if (packed.capacity() < capacity) {
      packed = ByteBuffer.allocate(capacity).order(ByteOrder.LITTLE_ENDIAN);
    }
    byte[] out = packed.array();
    int stored = length;
    if (compress) {
      int n = compressor.compress(data, 0, length, out, HEADER_SIZE, out.length - HEADER_SIZE);
      if (n < length - (length >> 4)) {
        stored = n;
      }
    }
    if (stored == length) {
      System.arraycopy(data, 0, out, HEADER_SIZE, length);
    }
    packed.clear();
    packed.putInt(0, length).putInt(4, stored).putInt(8, checksum);
    packed.limit(HEADER_SIZE + stored);
    Frame frame = new Frame(end, length, stored, checksum);
    long at = end;
    while (packed.hasRemaining()) {
      at += channel.write(packed, at);
    }
    end = at;
    return frame;
  }

  /**
   * Reads {@code frame} back into {@code into} (at least its decoded length long), using
   * {@code scratch} (grown as needed, returned) for the stored bytes.
   */
  ByteBuffer read(Frame frame, byte[] into, ByteBuffer scratch) throws IOException {
    int size = HEADER_SIZE + frame.storedLength();
    if (scratch == null || scratch.capacity() < size) {
      scratch = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
    }
    scratch.clear().limit(size);
    long at = frame.position();
    while (scratch.hasRemaining()) {
      int n = channel.read(scratch, at);
      if (n < 0) {
        throw new IOException(name + ": truncated frame at " + frame.position());
      }
      at += n;
    }
    if (scratch.getInt(0) != frame.decodedLength() || scratch.getInt(4) != frame.storedLength()
        || scratch.getInt(8) != frame.crc()) {
      throw new IOException(name + ": damaged frame header at " + frame.position());
    }
    byte[] stored = scratch.array();
    int length = frame.decodedLength();
    if (frame.storedLength() == length) {
      System.arraycopy(stored, HEADER_SIZE, into, 0, length);
    } else {
      try {
        int n = decompressor.decompress(stored, HEADER_SIZE, frame.storedLength(), into, 0, length);
        if (n != length) {
          throw new IOException(name + ": frame at " + frame.position() + " decodes to " + n + " bytes, not " + length);
        }
      } catch (LZ4Exception e) {
        throw new IOException(name + ": corrupt LZ4 frame at " + frame.position() + ": " + e.getMessage(), e);
      }
    }
    CRC32C crc = new CRC32C();
    crc.update(into, 0, length);
    if ((int) crc.getValue() != frame.crc()) {
      throw new IOException(name + ": checksum mismatch in frame at " + frame.position());
    }
    return scratch;
  }

  /** Bytes appended so far. */
  long size() {
    return end;
  }

  @Override
  public void close() throws IOException {
    channel.close();
  }
}
