package dev.ocirender.store;

import org.apache.beam.sdk.io.aws2.options.S3Options;
import org.apache.beam.sdk.options.Default;
import org.apache.beam.sdk.options.Description;

/**
 * Beam's S3 options ({@code --endpoint}, {@code --awsRegion}, {@code --awsCredentialsProvider}, ...)
 * plus path-style access, which Beam has no option for and which MinIO, Ceph RGW and other servers
 * reached by IP address need. Used for both Beam's S3 filesystem (catalogs, results) and the S3
 * output store; {@link S3ClientFactory} applies it.
 */
public interface S3StoreOptions extends S3Options {

  @Description("Address S3 buckets by path (http://HOST/BUCKET/KEY) instead of by host name (http://BUCKET.HOST/KEY): "
      + "needed for MinIO, Ceph RGW and other S3-compatible servers reached by IP address or a single host name.")
  @Default.Boolean(false)
  boolean getS3PathStyleAccess();

  void setS3PathStyleAccess(boolean value);
}
