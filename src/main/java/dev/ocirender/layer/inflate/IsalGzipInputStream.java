package dev.ocirender.layer.inflate;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import dev.ocirender.io.Streams;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.util.Objects;
import java.util.zip.CRC32;
import java.util.zip.ZipException;

/**
 * A gzip stream decoded by ISA-L's igzip instead of zlib: the same bytes and the same failures as
 * {@link java.util.zip.GZIPInputStream}, at two to three times the speed.
 *
 * <p>Behaves as {@code GZIPInputStream} does, on purpose, so that switching decoders changes no
 * output: every member of a concatenated stream is decoded; after a member's trailer, bytes that
 * do not begin a valid gzip header are ignored (as trailing garbage); a wrong CRC-32 or length in a
 * trailer is a {@link ZipException} "Corrupt GZIP trailer"; corrupt deflate data is a
 * {@link ZipException}; input that ends inside a member is an {@link EOFException}.
 *
 * <p>The gzip header is parsed here rather than by {@code isal_read_gzip_header}: ISA-L's
 * {@code isal_inflate} forgets a header's flags when the header spans two input buffers (2.30), and
 * a header is a few fixed fields. ISA-L decodes the deflate data and checks the trailer
 * ({@code ISAL_GZIP_NO_HDR_VER}). Buffers and state live in native memory owned by this stream,
 * freed by {@link #close()} (or by the garbage collector if a caller forgets).
 *
 * <p>Not thread-safe, like every {@code InputStream} decoder.
 */
public final class IsalGzipInputStream extends InputStream {

  private static final int IN_SIZE = 128 * 1024;
  private static final int OUT_SIZE = 256 * 1024;

  // RFC 1952 header flags
  private static final int FHCRC = 2;
  private static final int FEXTRA = 4;
  private static final int FNAME = 8;
  private static final int FCOMMENT = 16;

  /** See {@link #nextMember()}: 26 bytes after the deflate data, less the 8-byte trailer. */
  private static final int IGNORED_TAIL = 26 - 8;

  private static final String TRUNCATED_HEADER = "Unexpected end of gzip header";

  private final InputStream in;
  private final Memory state;
  private final Memory inBuf;
  private final Memory outBuf;
  private final long inAddress;
  private final long outAddress;
  /** Where bytes read from {@link #in} stop on their way to native memory. */
  private final byte[] transfer = new byte[IN_SIZE];

  private int inPos;
  private int inLimit;
  private boolean inputEnded;
  private int outPos;
  private int outLimit;
  private boolean memberDone;
  private boolean finished;
  private boolean closed;

  /**
   * Reads the first member's header, so a stream that is not gzip fails here, as
   * {@code new GZIPInputStream(in)} does.
   *
   * @throws IllegalStateException if ISA-L is not loaded (see {@link GzipDecoding})
   */
  public IsalGzipInputStream(InputStream in) throws IOException {
    if (Isal.failure() != null) {
      throw new IllegalStateException("ISA-L is not available: " + Isal.failure());
    }
    this.in = Objects.requireNonNull(in, "in");
    state = new Memory(Isal.STATE_SIZE);
    inBuf = new Memory(IN_SIZE);
    outBuf = new Memory(OUT_SIZE);
    inAddress = Pointer.nativeValue(inBuf);
    outAddress = Pointer.nativeValue(outBuf);
    Isal.isal_inflate_init(state);
    state.setInt(Isal.CRC_FLAG, Isal.ISAL_GZIP_NO_HDR_VER);
    try {
      String problem = readHeader();
      if (problem == TRUNCATED_HEADER) {
        throw new EOFException(problem);
      } else if (problem != null) {
        throw new ZipException(problem);
      }
    } catch (IOException | RuntimeException e) {
      free();
      throw e;
    }
  }

  @Override
  public int read() throws IOException {
    return Streams.readByte(this);
  }

  @Override
  public int read(byte[] b, int off, int len) throws IOException {
    Objects.checkFromIndexSize(off, len, b.length);
    if (closed) {
      throw new IOException("Stream closed");
    }
    if (len == 0) {
      return 0;
    }
    if (outPos == outLimit && !inflateMore()) {
      return -1;
    }
    int n = Math.min(len, outLimit - outPos);
    outBuf.read(outPos, b, off, n);
    outPos += n;
    return n;
  }

  @Override
  public int available() throws IOException {
    if (closed) {
      throw new IOException("Stream closed");
    }
    return outLimit - outPos;
  }

  @Override
  public long skip(long n) throws IOException {
    return Streams.skipByReading(this, n);
  }

  @Override
  public void close() throws IOException {
    if (!closed) {
      closed = true;
      free();
      in.close();
    }
  }

  private void free() {
    state.close();
    inBuf.close();
    outBuf.close();
  }

  /** Decodes the next piece of output into {@link #outBuf}; false at the end of the stream. */
  private boolean inflateMore() throws IOException {
    while (!finished) {
      if (memberDone && !nextMember()) {
        finished = true;
        break;
      }
      if (inPos == inLimit && !inputEnded) {
        refill();
      }
      int availIn = inLimit - inPos;
      state.setLong(Isal.NEXT_IN, inAddress + inPos);
      state.setInt(Isal.AVAIL_IN, availIn);
      state.setLong(Isal.NEXT_OUT, outAddress);
      state.setInt(Isal.AVAIL_OUT, OUT_SIZE);
      int ret = Isal.isal_inflate(state);
      int consumed = availIn - state.getInt(Isal.AVAIL_IN);
      inPos += consumed;
      int produced = OUT_SIZE - state.getInt(Isal.AVAIL_OUT);
      if (ret != Isal.ISAL_DECOMP_OK) {
        throw failure(ret);
      }
      memberDone = state.getInt(Isal.BLOCK_STATE) == IsalInflateState.ISAL_BLOCK_FINISH;
      if (produced > 0) {
        outPos = 0;
        outLimit = produced;
        return true;
      }
      if (!memberDone && consumed == 0) {
        if (inputEnded) {
          // GZIPInputStream's words for the same situation.
          throw new EOFException("Unexpected end of ZLIB input stream");
        }
        if (availIn > 0) {
          throw new IOException("ISA-L inflate made no progress (" + availIn + " input bytes left)");
        }
      }
    }
    outPos = 0;
    outLimit = 0;
    return false;
  }

  /**
   * After a member's trailer: another member follows if the next bytes are a gzip header. Anything
   * else, even a truncated header, ends the stream, exactly as {@code GZIPInputStream} decides; so
   * does a tail of at most {@value #IGNORED_TAIL} bytes at the very end of the input, which
   * {@code GZIPInputStream} does not even look at (it tries another header only when more than 26
   * bytes, trailer included, are left or its source says more are available).
   */
  private boolean nextMember() throws IOException {
    while (inLimit - inPos <= IGNORED_TAIL && !inputEnded) {
      refill();
    }
    if (inLimit - inPos <= IGNORED_TAIL) {
      return false;
    }
    if (readHeader() != null) {
      return false;
    }
    Isal.isal_inflate_reset(state); // keeps crc_flag
    memberDone = false;
    return true;
  }

  /**
   * Consumes one gzip member header (RFC 1952 2.3). Returns null when it is valid, else what is
   * wrong with it; failures of the underlying stream are thrown.
   */
  private String readHeader() throws IOException {
    CRC32 crc = new CRC32();
    int[] fixed = new int[10];
    for (int i = 0; i < fixed.length; i++) {
      if ((fixed[i] = headerByte(crc)) < 0) {
        return TRUNCATED_HEADER;
      }
    }
    if (fixed[0] != 0x1f || fixed[1] != 0x8b) {
      return "Not in GZIP format";
    }
    if (fixed[2] != 8) {
      return "Unsupported compression method";
    }
    int flags = fixed[3];
    if ((flags & FEXTRA) != 0) {
      int lo = headerByte(crc);
      int hi = headerByte(crc);
      if (lo < 0 || hi < 0) {
        return TRUNCATED_HEADER;
      }
      for (int n = lo | hi << 8; n > 0; n--) {
        if (headerByte(crc) < 0) {
          return TRUNCATED_HEADER;
        }
      }
    }
    for (int flag : new int[] {FNAME, FCOMMENT}) {
      if ((flags & flag) != 0) {
        int c;
        do {
          c = headerByte(crc);
        } while (c > 0);
        if (c < 0) {
          return TRUNCATED_HEADER;
        }
      }
    }
    if ((flags & FHCRC) != 0) {
      int expected = (int) crc.getValue() & 0xffff;
      int lo = headerByte(null);
      int hi = headerByte(null);
      if (lo < 0 || hi < 0) {
        return TRUNCATED_HEADER;
      }
      if ((lo | hi << 8) != expected) {
        return "Corrupt GZIP header";
      }
    }
    return null;
  }

  /** The next input byte (added to {@code crc} unless null), or -1 at the end of the input. */
  private int headerByte(CRC32 crc) throws IOException {
    if (inPos == inLimit) {
      if (inputEnded) {
        return -1;
      }
      refill();
      if (inPos == inLimit) {
        return -1;
      }
    }
    int b = inBuf.getByte(inPos++) & 0xff;
    if (crc != null) {
      crc.update(b);
    }
    return b;
  }

  /** Moves the unconsumed input to the front of the buffer and appends the next bytes of {@link #in}. */
  private void refill() throws IOException {
    int kept = inLimit - inPos;
    if (kept > 0 && inPos > 0) {
      inBuf.write(0, inBuf.getByteArray(inPos, kept), 0, kept);
    }
    inPos = 0;
    inLimit = kept;
    int n;
    do {
      n = in.read(transfer, 0, IN_SIZE - kept);
    } while (n == 0);
    if (n < 0) {
      inputEnded = true;
      return;
    }
    inBuf.write(kept, transfer, 0, n);
    inLimit = kept + n;
  }

  private static IOException failure(int ret) {
    return new ZipException(switch (ret) {
      case Isal.ISAL_INVALID_BLOCK -> "invalid deflate block";
      case Isal.ISAL_INVALID_SYMBOL -> "invalid deflate symbol";
      case Isal.ISAL_INVALID_LOOKBACK -> "invalid distance too far back";
      case Isal.ISAL_INCORRECT_CHECKSUM -> "Corrupt GZIP trailer";
      default -> "ISA-L inflate failed with code " + ret;
    });
  }
}
