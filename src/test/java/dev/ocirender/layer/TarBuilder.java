package dev.ocirender.layer;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Builds tar archives byte by byte for tests, including ones no tool would write (malformed
 * headers, binary PAX values, odd typeflags). Independent of the production writer on purpose.
 */
public final class TarBuilder {

  private final ByteArrayOutputStream out = new ByteArrayOutputStream();

  /** One header block; fields are raw bytes or numbers written as octal unless set raw. */
  public static final class Header {
    public byte[] name = new byte[0];
    public int mode = 0644;
    public long uid;
    public long gid;
    public long size;
    public long mtime;
    public byte typeflag = '0';
    public byte[] linkname = new byte[0];
    public String magic = "ustar\0" + "00";
    public String uname = "";
    public String gname = "";
    public long devmajor;
    public long devminor;
    public byte[] prefix = new byte[0];
    /** Applied after the fields are encoded and before the checksum: raw field overrides. */
    public java.util.function.Consumer<byte[]> tweak = b -> { };
    public boolean signedChecksum;
    public boolean corruptChecksum;

    public Header name(String n) {
      this.name = n.getBytes(StandardCharsets.UTF_8);
      return this;
    }

    public Header type(char t) {
      this.typeflag = (byte) t;
      return this;
    }

    public byte[] encode() {
      byte[] b = new byte[512];
      System.arraycopy(name, 0, b, 0, Math.min(100, name.length));
      octal(b, 100, 8, mode);
      octal(b, 108, 8, uid);
      octal(b, 116, 8, gid);
      octal(b, 124, 12, size);
      octal(b, 136, 12, mtime);
      b[156] = typeflag;
      System.arraycopy(linkname, 0, b, 157, Math.min(100, linkname.length));
      byte[] m = magic.getBytes(StandardCharsets.ISO_8859_1);
      System.arraycopy(m, 0, b, 257, m.length);
      if (!magic.isEmpty()) {
        byte[] u = uname.getBytes(StandardCharsets.UTF_8);
        System.arraycopy(u, 0, b, 265, u.length);
        byte[] g = gname.getBytes(StandardCharsets.UTF_8);
        System.arraycopy(g, 0, b, 297, g.length);
        octal(b, 329, 8, devmajor);
        octal(b, 337, 8, devminor);
        System.arraycopy(prefix, 0, b, 345, prefix.length);
      }
      tweak.accept(b);
      Arrays.fill(b, 148, 156, (byte) ' ');
      long sum = 0;
      for (byte x : b) {
        sum += signedChecksum ? x : (x & 0xff);
      }
      if (corruptChecksum) {
        sum += 1;
      }
      String s = String.format("%06o", sum & 0777777);
      System.arraycopy(s.getBytes(StandardCharsets.US_ASCII), 0, b, 148, 6);
      b[154] = 0;
      return b;
    }

    static void octal(byte[] b, int off, int len, long v) {
      String s = Long.toOctalString(v);
      String padded = "0".repeat(Math.max(0, len - 1 - s.length())) + s;
      System.arraycopy(padded.getBytes(StandardCharsets.US_ASCII), 0, b, off, Math.min(len - 1, padded.length()));
    }
  }

  public static Header file(String name, int size) {
    Header h = new Header().name(name);
    h.size = size;
    return h;
  }

  public TarBuilder entry(Header h, byte[] data) {
    out.writeBytes(h.encode());
    out.writeBytes(data);
    pad(data.length);
    return this;
  }

  public TarBuilder entry(Header h) {
    return entry(h, new byte[0]);
  }

  public TarBuilder raw(byte[] bytes) {
    out.writeBytes(bytes);
    return this;
  }

  /** A PAX header ('x' or 'g') holding the given records. */
  public TarBuilder pax(char type, byte[] records) {
    Header h = new Header().name("PaxHeaders/x").type(type);
    h.size = records.length;
    return entry(h, records);
  }

  public TarBuilder end() {
    out.writeBytes(new byte[1024]);
    return this;
  }

  public byte[] bytes() {
    return out.toByteArray();
  }

  private void pad(int n) {
    out.writeBytes(new byte[(512 - n % 512) % 512]);
  }

  /** One PAX record with a correct length prefix. */
  public static byte[] record(String key, byte[] value) {
    byte[] k = key.getBytes(StandardCharsets.UTF_8);
    int body = k.length + value.length + 3;
    int len = body + Integer.toString(body).length();
    if (Integer.toString(len).length() != Integer.toString(body).length()) {
      len = body + Integer.toString(len).length();
    }
    ByteArrayOutputStream r = new ByteArrayOutputStream();
    r.writeBytes((len + " ").getBytes(StandardCharsets.US_ASCII));
    r.writeBytes(k);
    r.write('=');
    r.writeBytes(value);
    r.write('\n');
    return r.toByteArray();
  }

  public static byte[] record(String key, String value) {
    return record(key, value.getBytes(StandardCharsets.UTF_8));
  }

  public static byte[] concat(byte[]... parts) {
    ByteArrayOutputStream r = new ByteArrayOutputStream();
    for (byte[] p : parts) {
      r.writeBytes(p);
    }
    return r.toByteArray();
  }
}
