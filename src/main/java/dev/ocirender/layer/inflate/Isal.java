package dev.ocirender.layer.inflate;

import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Pointer;
import dev.ocirender.io.NativeLibraries;

/**
 * The few functions of Intel ISA-L's igzip (Debian package {@code libisal2}) that inflating needs,
 * bound with JNA direct mapping, and whether they could be loaded on this machine.
 *
 * <p>Loaded at most once, on first use; a machine without the library (or another CPU
 * architecture, or an incompatible version) simply reports {@link #failure()} and the JDK's
 * inflater is used instead. Knows nothing about streams: that is {@link IsalGzipInputStream}.
 */
final class Isal {

  /** {@code crc_flag}: raw deflate, then verify a gzip trailer (CRC-32 and ISIZE). */
  static final int ISAL_GZIP_NO_HDR_VER = 6;

  static final int ISAL_DECOMP_OK = 0;
  static final int ISAL_INVALID_BLOCK = -1;
  static final int ISAL_INVALID_SYMBOL = -2;
  static final int ISAL_INVALID_LOOKBACK = -3;
  static final int ISAL_INCORRECT_CHECKSUM = -6;

  /** The sonames to try: the runtime package's, then the development link name. */
  private static final String[] NAMES = {"libisal.so.2", "isal"};

  private static final String FAILURE = load();

  /** Byte offsets of the fields of {@code struct inflate_state} that the stream touches. */
  static final int STATE_SIZE;
  static final int NEXT_OUT;
  static final int AVAIL_OUT;
  static final int NEXT_IN;
  static final int AVAIL_IN;
  static final int BLOCK_STATE;
  static final int CRC_FLAG;

  static {
    IsalInflateState layout = new IsalInflateState();
    STATE_SIZE = layout.size();
    NEXT_OUT = layout.offsetOf("next_out");
    AVAIL_OUT = layout.offsetOf("avail_out");
    NEXT_IN = layout.offsetOf("next_in");
    AVAIL_IN = layout.offsetOf("avail_in");
    BLOCK_STATE = layout.offsetOf("block_state");
    CRC_FLAG = layout.offsetOf("crc_flag");
  }

  private Isal() {}

  /** Null when the library is loaded and usable, else why not. */
  static String failure() {
    return FAILURE;
  }

  static native void isal_inflate_init(Pointer state);

  static native void isal_inflate_reset(Pointer state);

  static native int isal_inflate(Pointer state);

  private static String load() {
    if (!"amd64".equals(System.getProperty("os.arch")) && !"aarch64".equals(System.getProperty("os.arch"))) {
      // The layout is checked on x86-64; aarch64 has the same LP64 layout.
      return "ISA-L binding not checked on " + System.getProperty("os.arch");
    }
    NativeLibraries.prepare();
    StringBuilder why = new StringBuilder();
    for (String name : NAMES) {
      try {
        Native.register(Isal.class, NativeLibrary.getInstance(name));
        return null;
      } catch (UnsatisfiedLinkError | RuntimeException e) {
        if (why.length() > 0) {
          why.append("; ");
        }
        why.append(e.getMessage());
      }
    }
    return why.toString();
  }
}
