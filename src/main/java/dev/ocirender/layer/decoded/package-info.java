/**
 * Decoded layers kept for later: a layer's tar stream, once decompressed, held in a form that is
 * cheap to read again (memory chunks, then LZ4 frames with CRC32C checksums in a temporary file).
 *
 * <p>Two uses share this one mechanism. Within one render, {@link dev.ocirender.layer.decoded.DecodeAhead}
 * decodes the older layers on spare cores while the merge still consumes the newer ones (the merge
 * must read layers newest first, so without this only one layer decodes at a time). Across renders,
 * a content-addressed layer work cache (issue 15) can keep the same frames on disk, keyed by the
 * blob digest, so that a layer seen before is never gunzipped again.
 *
 * <p>The stored form is the decoded tar stream itself, byte for byte: the merge parses it exactly
 * as it would parse the decompressor's output, so outputs cannot depend on whether a layer came
 * from the store or from its blob.
 */
package dev.ocirender.layer.decoded;
