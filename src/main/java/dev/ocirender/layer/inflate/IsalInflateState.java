package dev.ocirender.layer.inflate;

import com.sun.jna.Pointer;
import com.sun.jna.Structure;
import com.sun.jna.Structure.FieldOrder;

/**
 * The layout of ISA-L's {@code struct inflate_state} ({@code isa-l/igzip_lib.h}, libisal2 2.30),
 * written out field by field so that JNA computes the same offsets and size as the C compiler.
 *
 * <p>Only a layout: {@link IsalGzipInputStream} allocates {@link #size()} bytes of native memory
 * and reads and writes the few fields it needs at {@link #offsetOf} offsets, never through
 * {@link #read()}/{@link #write()}, which would copy the whole 90 KiB structure on every call.
 * {@code IsalInflateStateLayoutTest} compiles the installed header and checks every offset here.
 */
@FieldOrder({"next_out", "avail_out", "total_out", "next_in", "read_in", "avail_in", "read_in_length",
    "lit_short_code_lookup", "lit_long_code_lookup", "dist_short_code_lookup", "dist_long_code_lookup",
    "block_state", "dict_length", "bfinal", "crc_flag", "crc", "hist_bits", "type0_block_len_count_dict_id",
    "write_overflow_lits", "write_overflow_len", "copy_overflow_length", "copy_overflow_distance",
    "wrapper_flag", "tmp_in_size", "tmp_out_valid", "tmp_out_processed", "tmp_in_buffer", "tmp_out_buffer"})
public final class IsalInflateState extends Structure {

  // The header's array sizes, derived the way igzip_lib.h derives them.
  private static final int DECODE_LONG_BITS = 12;
  private static final int DECODE_SHORT_BITS = 10;
  private static final int LIT_LEN_SYMBOLS = 257 + 29;
  private static final int DIST_SYMBOLS = 30;
  private static final int L_REM = 21 - DECODE_LONG_BITS;
  private static final int S_REM = 15 - DECODE_SHORT_BITS;
  private static final int L_DUP = (1 << L_REM) - (L_REM + 1);
  private static final int S_DUP = (1 << S_REM) - (S_REM + 1);
  private static final int L_UNUSED = (1 << L_REM) - (1 << (L_REM / 2)) - (1 << ((L_REM + 1) / 2)) + 1;
  private static final int S_UNUSED = (1 << S_REM) - (1 << (S_REM / 2)) - (1 << ((S_REM + 1) / 2)) + 1;
  private static final int L_SIZE = LIT_LEN_SYMBOLS + L_DUP + L_UNUSED;
  private static final int S_SIZE = DIST_SYMBOLS + S_DUP + S_UNUSED;
  private static final int L_ALIGNED = L_SIZE + (-L_SIZE & 0xf);
  private static final int S_ALIGNED = S_SIZE + (-S_SIZE & 0xf);
  private static final int MAX_HDR_SIZE = 328;
  private static final int HIST_SIZE = 32 * 1024;
  private static final int LOOK_AHEAD = (258 + 31) & ~31;

  /** {@code enum isal_block_state}: a gzip member's deflate data and trailer are done. */
  static final int ISAL_BLOCK_FINISH = 5;

  public Pointer next_out;
  public int avail_out;
  public int total_out;
  public Pointer next_in;
  public long read_in;
  public int avail_in;
  public int read_in_length;
  // struct inflate_huff_code_large lit_huff_code
  public int[] lit_short_code_lookup = new int[1 << DECODE_LONG_BITS];
  public short[] lit_long_code_lookup = new short[L_ALIGNED];
  // struct inflate_huff_code_small dist_huff_code
  public short[] dist_short_code_lookup = new short[1 << DECODE_SHORT_BITS];
  public short[] dist_long_code_lookup = new short[S_ALIGNED];
  public int block_state;
  public int dict_length;
  public int bfinal;
  public int crc_flag;
  public int crc;
  public int hist_bits;
  /** An anonymous union of three 32-bit fields. */
  public int type0_block_len_count_dict_id;
  public int write_overflow_lits;
  public int write_overflow_len;
  public int copy_overflow_length;
  public int copy_overflow_distance;
  public short wrapper_flag;
  public short tmp_in_size;
  public int tmp_out_valid;
  public int tmp_out_processed;
  public byte[] tmp_in_buffer = new byte[MAX_HDR_SIZE];
  public byte[] tmp_out_buffer = new byte[2 * HIST_SIZE + LOOK_AHEAD];

  /** The fields' names, in the C order. */
  public java.util.List<String> fields() {
    return getFieldOrder();
  }

  /** The byte offset of a field of the C structure, by its C name. */
  public int offsetOf(String field) {
    return fieldOffset(field);
  }
}
