package dev.ocirender.image.json;

import java.io.IOException;

/**
 * The {@code oci-layout} file at the root of an OCI image layout: {@code {"imageLayoutVersion": "1.0.0"}}.
 *
 * @see <a href="https://github.com/opencontainers/image-spec/blob/main/image-layout.md">OCI image layout</a>
 */
public final class OciLayoutTemplate {

  private String imageLayoutVersion;

  static OciLayoutTemplate read(TemplateParser p, String what) throws IOException {
    if (!p.beginObject(what)) {
      return null;
    }
    OciLayoutTemplate t = new OciLayoutTemplate();
    for (String field; (field = p.nextField()) != null; ) {
      if (field.equals("imageLayoutVersion")) {
        t.imageLayoutVersion = p.string("imageLayoutVersion");
      } else {
        p.skip();
      }
    }
    return t;
  }

  /** The version as written, or "" when absent. */
  public String imageLayoutVersion() {
    return imageLayoutVersion == null ? "" : imageLayoutVersion;
  }
}
