package dev.ocirender.pipeline;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.beam.runners.dataflow.DataflowRunner;
import org.apache.beam.sdk.Pipeline;
import org.apache.beam.sdk.extensions.gcp.auth.NoopCredentialFactory;
import org.apache.beam.sdk.extensions.gcp.options.GcpOptions;
import org.apache.beam.sdk.extensions.gcp.options.GcsOptions;
import org.apache.beam.sdk.extensions.gcp.storage.PathValidator;
import org.apache.beam.sdk.extensions.gcp.util.gcsfs.GcsPath;
import org.apache.beam.sdk.io.fs.ResourceId;
import org.apache.beam.sdk.runners.TransformHierarchy;
import org.apache.beam.sdk.transforms.display.DisplayData;
import org.apache.beam.sdk.util.construction.PipelineTranslation;

/**
 * {@code ocirender pipeline --dry-run}: builds the catalog pipeline for the given options exactly as
 * a real run would (same runner, same validation, same steps), checks that it translates to Beam's
 * portable pipeline proto, and reports the job's parameters and steps, without running it.
 *
 * <p>For DataflowRunner this is the offline check of a Dataflow profile: the runner's own option
 * validation runs ({@code DataflowRunner.fromOptions}: project, region, gs:// temp and staging
 * locations, job name, files to stage), but with no credentials and a path validator that checks
 * the form of gs:// paths only, so that nothing contacts Google: bucket existence is not checked,
 * nothing is staged, no job is created. It deliberately does not read the catalog (it may be in a bucket this machine cannot
 * reach) and does not apply the runner's own transform overrides, which happen at submission.
 */
public final class DryRun {

  private static final ObjectMapper JSON = new ObjectMapper();

  private DryRun() {}

  /** What a dry run found: the runner, every parameter the job would get, and its steps in order. */
  public record Report(String runner, Map<String, String> parameters, List<String> steps) {

    /** One JSON object, for people and scripts alike. */
    public String toJson() {
      Map<String, Object> json = new LinkedHashMap<>();
      json.put("runner", runner);
      json.put("parameters", parameters);
      json.put("steps", steps);
      try {
        return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(json);
      } catch (JsonProcessingException e) {
        throw new IllegalStateException("a map of strings always serialises", e);
      }
    }
  }

  /**
   * Builds and validates the pipeline for {@code options} and reports it.
   *
   * @throws IllegalArgumentException when the options do not validate for their runner, or the
   *     default format or platform is invalid
   */
  public static Report of(CatalogPipelineOptions options) {
    if (DataflowRunner.class.isAssignableFrom(options.getRunner())) {
      offline(options);
    }
    Pipeline pipeline = Pipeline.create(options); // runs PipelineRunner.fromOptions: the runner's validation
    CatalogPipeline.write(CatalogPipeline.expand(pipeline, options), options.getResultsPrefix());
    // Translating checks every coder and DoFn serialises, as submission to any portable runner would.
    PipelineTranslation.toProto(pipeline);

    List<String> steps = new ArrayList<>();
    pipeline.traverseTopologically(new Pipeline.PipelineVisitor.Defaults() {
      @Override
      public void visitPrimitiveTransform(TransformHierarchy.Node node) {
        steps.add(node.getFullName());
      }
    });
    return new Report(options.getRunner().getSimpleName(), parameters(options), steps);
  }

  /**
   * Keeps DataflowRunner's validation but takes away what would reach Google: the credentials, the
   * bucket checks of the path validator, and the derivation of {@code gcpTempLocation}, whose
   * factory looks the bucket up (or creates a default one when no {@code tempLocation} is given).
   */
  private static void offline(CatalogPipelineOptions options) {
    options.as(GcpOptions.class).setCredentialFactoryClass(NoopCredentialFactory.class);
    options.as(GcsOptions.class).setPathValidator(new OfflineGcsPathValidator());
    boolean gcpTempSet = DisplayData.from(options).items().stream().anyMatch(i -> i.getKey().equals("gcpTempLocation"));
    if (!gcpTempSet) {
      String temp = options.getTempLocation();
      if (temp == null || temp.isBlank()) {
        throw new IllegalArgumentException("a Dataflow dry run needs --tempLocation=gs://BUCKET/PATH (without it "
            + "Dataflow would create a default bucket, which a dry run must not do)");
      }
      options.as(GcpOptions.class).setGcpTempLocation(temp);
    }
  }

  /**
   * What Beam's GCS path validator checks about a path's form (a gs:// URI with a bucket), without
   * its check that the bucket exists and is accessible, which needs Google.
   */
  static final class OfflineGcsPathValidator implements PathValidator {

    @Override
    public void validateInputFilePatternSupported(String filepattern) {
      verifyPath(filepattern);
    }

    @Override
    public void validateOutputFilePrefixSupported(String filePrefix) {
      verifyPath(filePrefix);
    }

    @Override
    public void validateOutputResourceSupported(ResourceId resource) {
      verifyPath(resource.toString());
    }

    @Override
    public String verifyPath(String path) {
      GcsPath gcs;
      try {
        gcs = GcsPath.fromUri(path);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("Dataflow needs a gs:// path, not '" + path + "'", e);
      }
      if (gcs.getBucket() == null || gcs.getBucket().isEmpty()) {
        throw new IllegalArgumentException("'" + path + "' names no bucket");
      }
      return path;
    }
  }

  /**
   * Every option of {@link CatalogPipelineOptions} with its effective value (defaults included),
   * and every other option that was set or computed, as Beam's display data of the options has them.
   */
  static Map<String, String> parameters(CatalogPipelineOptions options) {
    Map<String, String> out = new TreeMap<>();
    for (DisplayData.Item item : DisplayData.from(options).items()) {
      // The dry run's own stand-in credentials are not a parameter of the job.
      if (item.getValue() != null && !item.getKey().equals("credentialFactoryClass")) {
        out.put(item.getKey(), String.valueOf(item.getValue()));
      }
    }
    for (Method m : CatalogPipelineOptions.class.getDeclaredMethods()) {
      String property = property(m);
      if (property != null) {
        try {
          out.put(property, String.valueOf(m.invoke(options)));
        } catch (IllegalAccessException | InvocationTargetException e) {
          throw new IllegalStateException("reading option " + property, e);
        }
      }
    }
    return out;
  }

  /** The option name of a getter ({@code getCatalog} -> {@code catalog}), or null for other methods. */
  private static String property(Method m) {
    String n = m.getName();
    int prefix = n.startsWith("get") ? 3 : n.startsWith("is") ? 2 : 0;
    if (prefix == 0 || n.length() == prefix || m.getParameterCount() != 0 || m.isSynthetic()) {
      return null;
    }
    return Character.toLowerCase(n.charAt(prefix)) + n.substring(prefix + 1);
  }
}
