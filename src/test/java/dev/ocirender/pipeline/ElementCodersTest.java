package dev.ocirender.pipeline;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;

import java.util.List;
import org.apache.beam.sdk.coders.Coder;
import org.apache.beam.sdk.coders.KvCoder;
import org.apache.beam.sdk.coders.StringUtf8Coder;
import org.apache.beam.sdk.testing.CoderProperties;
import org.apache.beam.sdk.util.CoderUtils;
import org.apache.beam.sdk.values.KV;
import org.junit.jupiter.api.Test;

/**
 * The pipeline's element coders checked with Beam's own {@link CoderProperties}: values survive a
 * round trip (also in the nested context used inside KVs and lists), equal values encode to equal
 * bytes ({@code verifyDeterministic} and the encodings themselves), and the grouping key of
 * {@link DeduplicateImages} is deterministic with them as values.
 */
class ElementCodersTest {

  private static final ImageRequest A = new ImageRequest("/c/catalog.jsonl", 2, "{\"image\": \"oci:/i/a:v1\"}",
      "oci:/i/a:v1", "linux/amd64", "tar", "/out/a.tar");
  // Non-ASCII, empty strings, a big line number: what a catalog may hold.
  private static final ImageRequest B = new ImageRequest("gs://b/ç.jsonl", Long.MAX_VALUE, "", "docker://r.example/ü:1",
      "linux/arm64/v8", "squashfs", "gs://o/x");
  private static final ImageRequest WITH_NULLS = new ImageRequest("c", 1, null, null, null, null, null);
  private static final ResolvedRequest RA = new ResolvedRequest(A, "sha256:" + "ab".repeat(32), 12);
  private static final ResolvedRequest RB = new ResolvedRequest(B, "sha256:" + "cd".repeat(32), 0);
  private static final ResolvedRequest RC = new ResolvedRequest(A, "sha256:" + "ab".repeat(32), 12, "sha256:" + "ef".repeat(32));
  private static final ResolvedRequest RD = new ResolvedRequest(A, "sha256:" + "ab".repeat(32), 12, "sha256:" + "ef".repeat(32),
      List.of("sha256:" + "01".repeat(32), "sha256:" + "02".repeat(32)));

  @Test
  void imageRequest_roundTripsAndIsDeterministic() throws Exception {
    Coder<ImageRequest> coder = ElementCoders.ImageRequestCoder.of();
    for (ImageRequest r : List.of(A, B, WITH_NULLS)) {
      CoderProperties.coderDecodeEncodeEqual(coder, r);
      CoderProperties.coderDeterministic(coder, r, copyOf(r));
      CoderProperties.coderConsistentWithEquals(coder, r, copyOf(r));
    }
    CoderProperties.coderConsistentWithEquals(coder, A, B);
    CoderProperties.coderSerializable(coder);
    assertThatCode(coder::verifyDeterministic).doesNotThrowAnyException();
  }

  @Test
  void resolvedRequest_roundTripsAndIsDeterministic() throws Exception {
    Coder<ResolvedRequest> coder = ElementCoders.ResolvedRequestCoder.of();
    for (ResolvedRequest r : List.of(RA, RB, RC, RD)) {
      CoderProperties.coderDecodeEncodeEqual(coder, r);
      CoderProperties.coderDeterministic(coder, r,
          new ResolvedRequest(copyOf(r.request()), r.manifestDigest(), r.resolveMillis(), r.baseKey(), List.copyOf(r.layers())));
    }
    // The base key is part of the encoding (affinity groups by it after a shuffle), and so are the
    // layers (the render step counts which layers several images use).
    assertThat(CoderUtils.encodeToByteArray(coder, RA)).isNotEqualTo(CoderUtils.encodeToByteArray(coder, RC));
    assertThat(CoderUtils.encodeToByteArray(coder, RC)).isNotEqualTo(CoderUtils.encodeToByteArray(coder, RD));
    assertThat(CoderUtils.decodeFromByteArray(coder, CoderUtils.encodeToByteArray(coder, RD)).layers()).isEqualTo(RD.layers());
    CoderProperties.coderSerializable(coder);
    assertThatCode(coder::verifyDeterministic).doesNotThrowAnyException();
  }

  @Test
  void imageGroup_roundTripsWithAndWithoutDuplicatesAndReplacedVersion() throws Exception {
    Coder<ImageGroup> coder = ElementCoders.ImageGroupCoder.of();
    ImageGroup lone = new ImageGroup(RA, List.of(), null);
    ImageGroup full = new ImageGroup(RA, List.of(RB, RB), "1700000000123");
    ImageGroup withBase = new ImageGroup(RC, List.of(RB), null);
    for (ImageGroup g : List.of(lone, full, withBase)) {
      CoderProperties.coderDecodeEncodeEqual(coder, g);
      CoderProperties.coderDeterministic(coder, g, new ImageGroup(g.canonical(), List.copyOf(g.duplicates()), g.replaceVersion()));
    }
    CoderProperties.coderSerializable(coder);
    assertThatCode(coder::verifyDeterministic).doesNotThrowAnyException();
    // Distinct groups encode differently (the encoding is not lossy).
    assertThat(CoderUtils.encodeToByteArray(coder, lone)).isNotEqualTo(CoderUtils.encodeToByteArray(coder, full));
  }

  @Test
  void dedupKeyedRequests_areDeterministicAsGroupingInput() throws Exception {
    KvCoder<String, ResolvedRequest> coder = KvCoder.of(StringUtf8Coder.of(), ElementCoders.ResolvedRequestCoder.of());
    assertThatCode(coder::verifyDeterministic).doesNotThrowAnyException();
    CoderProperties.coderDeterministic(coder, KV.of(RA.dedupKey(), RA), KV.of(RA.dedupKey(), RA));
    CoderProperties.coderDeterministic(coder, KV.of(RC.baseKey(), RC), KV.of(RC.baseKey(), RC));
    CoderProperties.coderDecodeEncodeEqual(coder, KV.of(RB.dedupKey(), RB));
  }

  private static ImageRequest copyOf(ImageRequest r) {
    return new ImageRequest(copy(r.catalog()), r.line(), copy(r.text()), copy(r.image()), copy(r.platform()),
        copy(r.format()), copy(r.output()));
  }

  private static String copy(String s) {
    return s == null ? null : new String(s.toCharArray());
  }
}
