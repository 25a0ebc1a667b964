/**
 * Decoded layers kept for later: a layer's tar stream, once decompressed, held in a form that is
 * cheap to read again (memory chunks, then LZ4 frames with CRC32C checksums in a file).
 *
 * <p>Two uses share this one mechanism, the {@link dev.ocirender.layer.decoded.FrameFile} of
 * 256 KiB frames. Within one render, {@link dev.ocirender.layer.decoded.DecodeAhead} decodes the
 * older layers on spare cores while the merge still consumes the newer ones (the merge must read
 * layers newest first, so without this only one layer decodes at a time); its frames go to unnamed
 * temporary files. Across renders, the layer work cache ({@link dev.ocirender.layer.decoded.LayerCache},
 * issue 15) keeps the same frames in named files, keyed by the blob digest, so that a layer seen
 * before is never decompressed again.
 *
 * <p>The stored form is the decoded tar stream itself, byte for byte: the merge parses it exactly
 * as it would parse the decompressor's output, so outputs cannot depend on whether a layer came
 * from the store, the cache or its blob.
 *
 * <h2>The cache root: a contract shared with the squashfs block cache</h2>
 *
 * <pre>
 * R/                      the cache root (--layer-cache, --layerCacheDir)
 *   layers/               decoded layers (LayerCache)
 *     sha256-HEX-VARIANT.layer     frames, then a 36-byte trailer
 *     .NAME.tmp-XXXXXXXXXXXX       an entry being written
 *   blocks/               compressed squashfs data blocks (the block cache), in its own format
 * </pre>
 *
 * <ul>
 *   <li>Every file is written to a temporary in the same directory, named {@code .NAME.tmp-} and 12
 *       random hex digits ({@link dev.ocirender.io.TempNames#hidden}), and renamed atomically onto its
 *       final name only when complete; a reader never sees a partial file under a final name, and a
 *       crashed writer's temporary is removed by a later scan once an hour old.
 *   <li>Every file checks itself: a reader must detect truncation and damage (here: CRC32C per frame,
 *       a trailer with its own CRC32C that states the frame count, the decoded length and the length
 *       of the frames) and must then treat the file as absent (delete it, rebuild it), never use it.
 *   <li>A hit sets the file's mtime to now: eviction orders by mtime.
 *   <li>Eviction ({@link dev.ocirender.layer.decoded.LayerCache#evict}) covers every regular file under
 *       R, both subtrees, oldest mtime first, down to nine tenths of the size limit, leaving
 *       temporaries being written alone. A writer that adds a file under R in this JVM reports it to
 *       {@link dev.ocirender.layer.decoded.LayerCache#fileAdded} (the same instance:
 *       {@link dev.ocirender.layer.decoded.LayerCache#shared}), which evicts when the total may exceed
 *       the limit; every tenth of the limit written, it rescans, which also catches what other
 *       processes sharing R wrote.
 *   <li>Deleting a file that a render has open is safe (on Linux the open descriptor keeps the data),
 *       so eviction needs no coordination with readers, in this JVM or another.
 * </ul>
 */
package dev.ocirender.layer.decoded;
