package dev.ocirender.pipeline;

import org.apache.beam.sdk.options.Default;
import org.apache.beam.sdk.options.Description;
import org.apache.beam.sdk.options.PipelineOptions;
import org.apache.beam.sdk.options.Validation;

/** Options of the catalog pipeline ({@link CatalogPipeline}); every catalog field but the image defaults from here. */
public interface CatalogPipelineOptions extends PipelineOptions {

  @Description("Catalog file(s): any Beam FileSystems path or glob. One image per line, as JSON "
      + "({\"image\":…, \"platform\":…, \"format\":…, \"output\":…}) or a bare reference.")
  @Validation.Required
  String getCatalog();

  void setCatalog(String value);

  @Description("Where outputs go when a catalog line names none: a local directory, gs://BUCKET/PREFIX, "
      + "or any Beam FileSystems prefix. Names are derived from the reference (see OutputNames).")
  @Validation.Required
  String getOutputPrefix();

  void setOutputPrefix(String value);

  @Description("Prefix for the results and dead-letter JSON Lines files, e.g. out/run1/ or gs://BUCKET/runs/1/.")
  @Validation.Required
  String getResultsPrefix();

  void setResultsPrefix(String value);

  @Description("Output format for lines that name none: tar (squashfs and dir are planned).")
  @Default.String("tar")
  String getFormat();

  void setFormat(String value);

  @Description("Platform for lines that name none, os/arch[/variant].")
  @Default.String("linux/amd64")
  String getPlatform();

  void setPlatform(String value);

  @Description("Render and replace outputs that already exist for the same manifest digest and format.")
  @Default.Boolean(false)
  boolean getOverwrite();

  void setOverwrite(boolean value);

  @Description("After writing each output, read it back and compare it with the image streamed again "
      + "(ocirender verify); the verdict goes into the results record and a mismatch becomes a dead letter "
      + "(stage verify). Outputs are read through Beam FileSystems unless local.")
  @Default.Boolean(false)
  boolean getVerifyOutputs();

  void setVerifyOutputs(boolean value);

  @Description("GCS JSON API endpoint for gs:// outputs, e.g. http://127.0.0.1:4443 (emulators, tests; no credentials "
      + "are sent). Empty: Google's endpoint with Application Default Credentials.")
  @Default.String("")
  String getOutputGcsHost();

  void setOutputGcsHost(String value);
}
