package dev.ocirender.verify;

import dev.ocirender.layer.EntryPath;
import dev.ocirender.layer.EntryType;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeSet;

/** Compares two {@link FsModel}s path by path and field by field (see {@link VerifyOptions}). */
public final class Verifier {

  private Verifier() {}

  public static VerifyReport compare(FsModel candidate, FsModel reference, VerifyOptions options) {
    List<Difference> out = new ArrayList<>();
    Iterator<Map.Entry<EntryPath, FsNode>> ci = candidate.nodes().entrySet().iterator();
    Iterator<Map.Entry<EntryPath, FsNode>> ri = reference.nodes().entrySet().iterator();
    Map.Entry<EntryPath, FsNode> c = next(ci, options);
    Map.Entry<EntryPath, FsNode> r = next(ri, options);
    long compared = 0;
    boolean xattrs = candidate.xattrsKnown() && reference.xattrsKnown();
    while (c != null || r != null) {
      int cmp = c == null ? 1 : r == null ? -1 : c.getKey().compareTo(r.getKey());
      if (cmp < 0) {
        out.add(new Difference(Difference.Kind.ADDED, c.getKey(), null, null, null));
        c = next(ci, options);
      } else if (cmp > 0) {
        out.add(new Difference(Difference.Kind.REMOVED, r.getKey(), null, null, null));
        r = next(ri, options);
      } else {
        compared++;
        compareNode(c.getKey(), c.getValue(), r.getValue(), candidate, reference, options, xattrs, out);
        c = next(ci, options);
        r = next(ri, options);
      }
    }
    return new VerifyReport(candidate, reference, compared, xattrs, out);
  }

  private static Map.Entry<EntryPath, FsNode> next(Iterator<Map.Entry<EntryPath, FsNode>> it, VerifyOptions o) {
    while (it.hasNext()) {
      Map.Entry<EntryPath, FsNode> e = it.next();
      if (!o.excluded(e.getKey())) {
        return e;
      }
    }
    return null;
  }

  private static void compareNode(EntryPath p, FsNode c, FsNode r, FsModel cm, FsModel rm, VerifyOptions o,
      boolean xattrs, List<Difference> out) {
    if (c.type() != r.type()) {
      out.add(changed(p, "type", typeName(c.type()), typeName(r.type())));
      return;
    }
    boolean meta = !p.isRoot() || o.rootMetadata();
    if (meta && c.type() != EntryType.SYMLINK && c.mode() != r.mode()) {
      out.add(changed(p, "mode", String.format("%04o", c.mode()), String.format("%04o", r.mode())));
    }
    if (meta && o.ownership()) {
      if (c.uid() != r.uid()) {
        out.add(changed(p, "uid", Long.toString(c.uid()), Long.toString(r.uid())));
      }
      if (c.gid() != r.gid()) {
        out.add(changed(p, "gid", Long.toString(c.gid()), Long.toString(r.gid())));
      }
    }
    if (meta && o.mtimes() && c.mtimeSeconds() != r.mtimeSeconds()) {
      out.add(changed(p, "mtime", Long.toString(c.mtimeSeconds()), Long.toString(r.mtimeSeconds())));
    }
    if (c.size() != r.size()) {
      out.add(changed(p, "size", Long.toString(c.size()), Long.toString(r.size())));
    } else if (!Arrays.equals(c.sha256(), r.sha256())) {
      out.add(changed(p, "sha256", hex(c.sha256()), hex(r.sha256())));
    }
    if (!Arrays.equals(c.symlinkTarget(), r.symlinkTarget())) {
      out.add(changed(p, "symlink", EntryPath.display(c.symlinkTarget()), EntryPath.display(r.symlinkTarget())));
    }
    if (c.devMajor() != r.devMajor() || c.devMinor() != r.devMinor()) {
      out.add(changed(p, "device", c.devMajor() + "," + c.devMinor(), r.devMajor() + "," + r.devMinor()));
    }
    if (meta && xattrs) {
      TreeSet<String> names = new TreeSet<>(c.xattrs().keySet());
      names.addAll(r.xattrs().keySet());
      for (String n : names) {
        byte[] cv = c.xattrs().get(n);
        byte[] rv = r.xattrs().get(n);
        if (!Arrays.equals(cv, rv)) {
          out.add(changed(p, "xattr " + n, value(cv), value(rv)));
        }
      }
    }
    EntryPath cl = cm.linkedTo(p);
    EntryPath rl = rm.linkedTo(p);
    if (!Objects.equals(cl, rl)) {
      out.add(changed(p, "hardlink", cl == null ? "(none)" : Difference.display(cl), rl == null ? "(none)" : Difference.display(rl)));
    }
  }

  private static Difference changed(EntryPath p, String field, String candidate, String reference) {
    return new Difference(Difference.Kind.CHANGED, p, field, candidate, reference);
  }

  static String typeName(EntryType t) {
    return t.name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
  }

  private static String hex(byte[] b) {
    return b == null ? "(none)" : HexFormat.of().formatHex(b);
  }

  /** Printable ASCII values quoted, anything else as 0x-hex; "(absent)" when missing. */
  private static String value(byte[] v) {
    if (v == null) {
      return "(absent)";
    }
    for (byte b : v) {
      if (b < 0x20 || b > 0x7e) {
        return "0x" + HexFormat.of().formatHex(v);
      }
    }
    return "\"" + new String(v, java.nio.charset.StandardCharsets.US_ASCII) + "\"";
  }
}
