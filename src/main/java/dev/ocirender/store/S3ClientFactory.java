package dev.ocirender.store;

import org.apache.beam.sdk.io.aws2.options.S3ClientBuilderFactory;
import org.apache.beam.sdk.io.aws2.options.S3Options;
import org.apache.beam.sdk.io.aws2.s3.DefaultS3ClientBuilderFactory;
import software.amazon.awssdk.services.s3.S3ClientBuilder;
import software.amazon.awssdk.services.s3.S3Configuration;

/**
 * Beam's S3 client builder (credentials from {@code --awsCredentialsProvider} or the standard AWS
 * provider chain, {@code --awsRegion}, {@code --endpoint}, HTTP settings) with
 * {@code --s3PathStyleAccess} applied, and without aws-chunked request bodies (see below). The catalog pipeline sets it as Beam's
 * {@code --s3ClientFactoryClass}, so catalogs, results and outputs reach the same server the same way.
 */
public final class S3ClientFactory implements S3ClientBuilderFactory {

  @Override
  public S3ClientBuilder createBuilder(S3Options options) {
    S3ClientBuilder builder = new DefaultS3ClientBuilderFactory().createBuilder(options);
    // Plain bodies with a signed payload hash rather than the SDK's aws-chunked signed encoding over
    // http://, which some S3-compatible servers (s3rver, older Ceph) store verbatim, chunk headers included.
    return builder.serviceConfiguration(S3Configuration.builder()
            .pathStyleAccessEnabled(options.as(S3StoreOptions.class).getS3PathStyleAccess())
            .chunkedEncodingEnabled(false).build());
  }
}
