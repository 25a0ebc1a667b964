package dev.ocirender.store;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import org.apache.beam.sdk.io.aws2.options.AwsModule;
import org.apache.beam.sdk.options.PipelineOptions;
import org.apache.beam.sdk.options.PipelineOptionsFactory;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * The S3 options an {@link OutputStores} ships to workers to make its S3 client there: kept as the
 * option arguments themselves ({@code --endpoint=…}, {@code --awsRegion=…}, {@code --s3PathStyleAccess=…},
 * and {@code --awsCredentialsProvider} as Beam's own JSON form), so the worker builds its client exactly
 * as Beam's S3 filesystem does, through {@link S3ClientFactory}. A credentials provider given as an
 * option travels with the job as Beam's option would; the default (the standard AWS chain) is looked up
 * on each worker.
 */
public final class S3Settings implements Serializable {
  private static final long serialVersionUID = 1L;

  private final List<String> args;

  private S3Settings(List<String> args) {
    this.args = List.copyOf(args);
  }

  /** The S3 options of {@code options} (defaults where none were given). */
  public static S3Settings from(PipelineOptions options) {
    PipelineOptionsFactory.register(S3StoreOptions.class);
    S3StoreOptions s3 = options.as(S3StoreOptions.class);
    List<String> args = new ArrayList<>();
    if (s3.getEndpoint() != null) {
      args.add("--endpoint=" + s3.getEndpoint());
    }
    if (s3.getAwsRegion() != null) {
      args.add("--awsRegion=" + s3.getAwsRegion().id());
    }
    args.add("--s3PathStyleAccess=" + s3.getS3PathStyleAccess());
    try {
      ObjectMapper json = new ObjectMapper().registerModule(new AwsModule());
      args.add("--awsCredentialsProvider=" + json.writerFor(AwsCredentialsProvider.class).writeValueAsString(s3.getAwsCredentialsProvider()));
    } catch (JsonProcessingException | RuntimeException e) {
      // A provider Beam cannot write as JSON: workers use the standard AWS provider chain.
    }
    return new S3Settings(args);
  }

  /** Settings with no options: the standard AWS chain for credentials and region, AWS endpoints. */
  public static S3Settings defaults() {
    return new S3Settings(List.of());
  }

  /** A new client for these settings. */
  S3Client newClient() {
    PipelineOptionsFactory.register(S3StoreOptions.class);
    S3StoreOptions options = PipelineOptionsFactory.fromArgs(args.toArray(String[]::new)).as(S3StoreOptions.class);
    return new S3ClientFactory().createBuilder(options).build();
  }
}
