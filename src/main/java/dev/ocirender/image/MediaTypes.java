package dev.ocirender.image;

/**
 * The media types ocirender reads, as named constants, so that no string literal of a wire format
 * is spelled twice.
 *
 * <p>OCI types are from the OCI image spec (media-types.md); Docker types from the Docker image
 * manifest v2 schema 2 spec. Docker schema 1 manifests are deliberately absent: they are
 * deprecated and carry no content-addressed config, so sources reject them.
 */
public final class MediaTypes {

  // OCI image spec.
  public static final String OCI_INDEX = "application/vnd.oci.image.index.v1+json";
  public static final String OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
  public static final String OCI_CONFIG = "application/vnd.oci.image.config.v1+json";
  public static final String OCI_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar";
  public static final String OCI_LAYER_TAR_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip";
  public static final String OCI_LAYER_TAR_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd";
  public static final String OCI_LAYER_NONDISTRIBUTABLE_TAR = "application/vnd.oci.image.layer.nondistributable.v1.tar";
  public static final String OCI_LAYER_NONDISTRIBUTABLE_TAR_GZIP =
      "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
  public static final String OCI_LAYER_NONDISTRIBUTABLE_TAR_ZSTD =
      "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd";

  // Docker image manifest v2, schema 2.
  public static final String DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";
  public static final String DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
  public static final String DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json";
  public static final String DOCKER_LAYER_TAR_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip";
  public static final String DOCKER_LAYER_TAR = "application/vnd.docker.image.rootfs.diff.tar";
  public static final String DOCKER_FOREIGN_LAYER_TAR_GZIP = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";

  /** The deprecated schema 1 type, named only so that it can be recognised and refused clearly. */
  public static final String DOCKER_MANIFEST_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json";
  public static final String DOCKER_MANIFEST_SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws";

  private MediaTypes() {}

  /** Whether {@code type} is an image index (OCI index or Docker manifest list). */
  public static boolean isIndex(String type) {
    return OCI_INDEX.equals(type) || DOCKER_MANIFEST_LIST.equals(type);
  }

  /** Whether {@code type} is a single-image manifest (OCI manifest or Docker schema 2). */
  public static boolean isManifest(String type) {
    return OCI_MANIFEST.equals(type) || DOCKER_MANIFEST.equals(type);
  }

  /** Whether {@code type} is a layer of an image that may be absent from a layout by design. */
  public static boolean isNondistributable(String type) {
    return OCI_LAYER_NONDISTRIBUTABLE_TAR.equals(type)
        || OCI_LAYER_NONDISTRIBUTABLE_TAR_GZIP.equals(type)
        || OCI_LAYER_NONDISTRIBUTABLE_TAR_ZSTD.equals(type)
        || DOCKER_FOREIGN_LAYER_TAR_GZIP.equals(type);
  }
}
