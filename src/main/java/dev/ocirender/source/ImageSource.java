package dev.ocirender.source;

import dev.ocirender.image.Descriptor;
import dev.ocirender.image.Platform;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;

/**
 * Where an image comes from: resolves one reference to a manifest, its config and its ordered layers,
 * and opens any blob of it as a verified stream.
 *
 * <p>Implementations are safe for concurrent {@link #openBlob} calls (layers are fetched
 * concurrently). They do not decode layers (see {@code dev.ocirender.layer.LayerDecoder}) and do not
 * choose a default platform: the caller passes one ({@code linux/amd64} unless the user said
 * otherwise). Create them with {@link ImageSources#open(String)}.
 */
public interface ImageSource extends Closeable {

  /** The reference as the user gave it, for messages, e.g. {@code oci:/images/app:v1}. */
  String reference();

  /**
   * Picks the image for {@code platform} and reads its manifest and config.
   *
   * @throws ImageSourceException when the reference names nothing usable: no such tag, no manifest
   *     for the platform, malformed JSON, missing blobs
   */
  ResolvedImage resolve(Platform platform) throws IOException;

  /**
   * Opens a blob of this image. The stream checks the bytes against {@code descriptor}'s digest and
   * exact size as they pass and fails the read that reaches the end on a mismatch; a consumer must
   * read to the end for the check to happen.
   *
   * @throws ImageSourceException when the blob is not there
   */
  InputStream openBlob(Descriptor descriptor) throws IOException;
}
