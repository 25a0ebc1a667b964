package dev.ocirender.pipeline;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.List;
import org.apache.beam.sdk.coders.AtomicCoder;
import org.apache.beam.sdk.coders.Coder;
import org.apache.beam.sdk.coders.ListCoder;
import org.apache.beam.sdk.coders.NullableCoder;
import org.apache.beam.sdk.coders.StringUtf8Coder;
import org.apache.beam.sdk.coders.VarLongCoder;

/**
 * The coders of the pipeline's own element types, written out field by field.
 *
 * <p>Why not {@code SerializableCoder}: Java serialisation is slow and bulky, and its bytes are not
 * guaranteed to be the same for equal values, which Beam requires of anything used as (part of) a
 * grouping key and which Dataflow's update compatibility check relies on. These coders write each
 * field in declaration order with Beam's own deterministic coders (UTF-8 strings, variable-length
 * longs, lists), so equal values always encode to equal bytes ({@link Coder#verifyDeterministic()}
 * passes) and the wire format is this file. Changing a record means changing its coder here, at
 * the end of the field list if old and new workers must understand each other.
 */
final class ElementCoders {

  private static final Coder<String> STRING = StringUtf8Coder.of();
  private static final Coder<String> NULLABLE_STRING = NullableCoder.of(StringUtf8Coder.of());
  private static final Coder<Long> LONG = VarLongCoder.of();

  private ElementCoders() {}

  /** {@link ImageRequest}: catalog, line, text, image, platform, format, output. */
  static final class ImageRequestCoder extends AtomicCoder<ImageRequest> {
    static final ImageRequestCoder INSTANCE = new ImageRequestCoder();

    static ImageRequestCoder of() {
      return INSTANCE;
    }

    @Override
    public void encode(ImageRequest r, OutputStream out) throws IOException {
      STRING.encode(r.catalog(), out);
      LONG.encode(r.line(), out);
      NULLABLE_STRING.encode(r.text(), out);
      NULLABLE_STRING.encode(r.image(), out);
      NULLABLE_STRING.encode(r.platform(), out);
      NULLABLE_STRING.encode(r.format(), out);
      NULLABLE_STRING.encode(r.output(), out);
    }

    @Override
    public ImageRequest decode(InputStream in) throws IOException {
      return new ImageRequest(STRING.decode(in), LONG.decode(in), NULLABLE_STRING.decode(in), NULLABLE_STRING.decode(in),
          NULLABLE_STRING.decode(in), NULLABLE_STRING.decode(in), NULLABLE_STRING.decode(in));
    }

    @Override
    public void verifyDeterministic() {} // strings and a varint, nothing else

    @Override
    public boolean consistentWithEquals() {
      return true;
    }
  }

  /** {@link ResolvedRequest}: the request, the manifest digest, the resolve time, the base key, the layer digests. */
  static final class ResolvedRequestCoder extends AtomicCoder<ResolvedRequest> {
    static final ResolvedRequestCoder INSTANCE = new ResolvedRequestCoder();
    private static final Coder<List<String>> LAYERS = ListCoder.of(STRING);

    static ResolvedRequestCoder of() {
      return INSTANCE;
    }

    @Override
    public void encode(ResolvedRequest r, OutputStream out) throws IOException {
      ImageRequestCoder.INSTANCE.encode(r.request(), out);
      STRING.encode(r.manifestDigest(), out);
      LONG.encode(r.resolveMillis(), out);
      STRING.encode(r.baseKey(), out);
      LAYERS.encode(r.layers(), out);
    }

    @Override
    public ResolvedRequest decode(InputStream in) throws IOException {
      return new ResolvedRequest(ImageRequestCoder.INSTANCE.decode(in), STRING.decode(in), LONG.decode(in), STRING.decode(in),
          LAYERS.decode(in));
    }

    @Override
    public void verifyDeterministic() {}

    @Override
    public boolean consistentWithEquals() {
      return true;
    }
  }

  /** {@link ImageGroup}: the canonical request, the duplicates in order, the replaced version (nullable). */
  static final class ImageGroupCoder extends AtomicCoder<ImageGroup> {
    static final ImageGroupCoder INSTANCE = new ImageGroupCoder();
    private static final Coder<List<ResolvedRequest>> DUPLICATES = ListCoder.of(ResolvedRequestCoder.INSTANCE);

    static ImageGroupCoder of() {
      return INSTANCE;
    }

    @Override
    public void encode(ImageGroup g, OutputStream out) throws IOException {
      ResolvedRequestCoder.INSTANCE.encode(g.canonical(), out);
      DUPLICATES.encode(g.duplicates(), out);
      NULLABLE_STRING.encode(g.replaceVersion(), out);
    }

    @Override
    public ImageGroup decode(InputStream in) throws IOException {
      return new ImageGroup(ResolvedRequestCoder.INSTANCE.decode(in), DUPLICATES.decode(in), NULLABLE_STRING.decode(in));
    }

    @Override
    public void verifyDeterministic() throws NonDeterministicException {
      DUPLICATES.verifyDeterministic();
    }

    @Override
    public boolean consistentWithEquals() {
      return true;
    }
  }
}
