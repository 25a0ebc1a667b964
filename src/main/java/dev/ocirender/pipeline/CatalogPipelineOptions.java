package dev.ocirender.pipeline;

import dev.ocirender.layer.LayerLimits;
import dev.ocirender.merge.MergeLimits;
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

  @Description("Output format for lines that name none: tar or squashfs (squashfs is written to a local temporary file, then uploaded).")
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

  @Description("The longest one image may take to render and publish (and, with verifyOutputs, to verify), in "
      + "seconds. An image over it is interrupted and becomes a dead letter; the job goes on.")
  @Default.Long(4 * 3600)
  long getRenderTimeoutSeconds();

  void setRenderTimeoutSeconds(long value);

  @Description("The largest output one image may write, in bytes: a render past it (say a small layer that expands "
      + "enormously) stops there, publishes nothing and becomes a dead letter. 0: no limit.")
  @Default.Long(1L << 40)
  long getMaxOutputBytes();

  void setMaxOutputBytes(long value);

  @Description("Render images that share a base (their bottom layers holding half their bytes) on the same worker, "
      + "one after the other, so its caches pay for the base once; false: spread renders at random. Records and "
      + "outputs are the same either way.")
  @Default.Boolean(true)
  boolean getAffinity();

  void setAffinity(boolean value);

  @Description("With affinity, the most images of one base rendered in turn on one worker: a base with more is "
      + "split over several workers, to keep them all busy.")
  @Default.Integer(4)
  int getAffinityGroupSize();

  void setAffinityGroupSize(int value);

  // Registries (docker:// images). Each worker JVM keeps one set of HTTP clients, one download pool
  // and one on-disk blob cache for all images it resolves and renders (WorkerRegistries), so layers
  // that images share are downloaded once per worker. Credentials are not options: they come from the
  // worker's Docker and containers auth files and credential helpers, as for the CLI.

  @Description("The worker's blob (layer) cache directory, shared by every image the worker renders. Empty: "
      + "$XDG_CACHE_HOME/ocirender/blobs or ~/.cache/ocirender/blobs on the worker.")
  @Default.String("")
  String getBlobCacheDir();

  void setBlobCacheDir(String value);

  @Description("The most the worker's blob cache may hold, in bytes; least recently used blobs go first.")
  @Default.Long(20L << 30)
  long getBlobCacheMaxBytes();

  void setBlobCacheMaxBytes(long value);

  // The layer work cache: every layer a worker decodes is kept there decoded (LZ4, checksummed), so
  // images that share layers decompress each of them once per worker (README: operating notes).

  @Description("The worker's layer work cache directory, shared by every image the worker renders: layers kept "
      + "decoded so that no layer is decompressed twice. Empty: ocirender-layer-cache under the worker's java.io.tmpdir.")
  @Default.String("")
  String getLayerCacheDir();

  void setLayerCacheDir(String value);

  @Description("The most the worker's layer cache may hold, in bytes (least recently used files go first); 0 turns "
      + "the cache off.")
  @Default.Long(30L << 30)
  long getLayerCacheMaxBytes();

  void setLayerCacheMaxBytes(long value);

  @Description("Blobs a worker downloads at once, over all the images it is rendering.")
  @Default.Integer(4)
  int getParallelDownloads();

  void setParallelDownloads(int value);

  @Description("Comma-separated registries (HOST or HOST:PORT) reached without TLS checks or over plain HTTP; "
      + "localhost and 127.0.0.1 always are.")
  @Default.String("")
  String getInsecureRegistries();

  void setInsecureRegistries(String value);

  @Description("Require HTTPS with valid certificates for every registry not named insecure (false: none is checked).")
  @Default.Boolean(true)
  boolean getRegistryTlsVerify();

  void setRegistryTlsVerify(boolean value);

  @Description("Comma-separated mirrors (URLs) tried before Docker Hub for docker.io images.")
  @Default.String("")
  String getRegistryMirrors();

  void setRegistryMirrors(String value);

  @Description("Attempts per registry request (connection errors, 429, 5xx, bodies cut short) before the image fails.")
  @Default.Integer(6)
  int getRegistryRetries();

  void setRegistryRetries(int value);

  @Description("Connect, response and read timeout for registry requests, in seconds.")
  @Default.Long(60)
  long getRegistryTimeoutSeconds();

  void setRegistryTimeoutSeconds(long value);

  @Description("Fail an image with more than this many tar entries (all layers, whiteouts included), before its "
      + "metadata outgrows the worker heap.")
  @Default.Long(MergeLimits.DEFAULT_MAX_ENTRIES)
  long getMaxEntries();

  void setMaxEntries(long value);

  @Description("Fail an image with a path of more than this many components.")
  @Default.Integer(4096)
  int getMaxPathDepth();

  void setMaxPathDepth(int value);

  @Description("Fail an image with a path longer than this many bytes.")
  @Default.Integer(65536)
  int getMaxPathBytes();

  void setMaxPathBytes(int value);

  /** The per-image limits these options give (the renderer's and the output verifier's). */
  static MergeLimits limits(CatalogPipelineOptions options) {
    return new MergeLimits(options.getMaxEntries(), LayerLimits.DEFAULT.withMaxPathDepth(options.getMaxPathDepth())
        .withMaxPathBytes(options.getMaxPathBytes()));
  }
}
