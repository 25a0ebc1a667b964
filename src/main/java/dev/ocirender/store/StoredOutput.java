package dev.ocirender.store;

/**
 * An output as a store holds it.
 *
 * @param uri where it is
 * @param size its length in bytes
 * @param version the store's token for this exact version of it (a GCS generation; for file stores
 *     size and modification time), to pass to {@link OutputStore#create} to replace exactly it
 * @param metadata what ocirender recorded about it; null when it was not written by ocirender (or
 *     its record is missing)
 */
public record StoredOutput(String uri, long size, String version, OutputMetadata metadata) {}
