package dev.ocirender.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code ocirender sample DIR}: writes the built-in demonstration image ({@link SampleImage}) as an
 * OCI layout and prints its spec on stdout, ready for {@code render}. Hidden from the help: it is a
 * demo and smoke-test aid, not part of the tool's job.
 */
@Command(name = "sample", hidden = true, mixinStandardHelpOptions = true,
    description = "Write a small multi-layer demo image (OCI layout) into DIR and print its spec.")
final class SampleCommand implements Callable<Integer> {

  @Spec CommandSpec spec;

  @Parameters(index = "0", paramLabel = "DIR", description = "Directory for the OCI layout (created if missing).")
  Path dir;

  @Option(names = "--variant", paramLabel = "N", defaultValue = "0",
      description = "Above 0: add a fourth layer with etc/variant = N (same base layers, another digest).")
  int variant;

  @Override
  public Integer call() throws Exception {
    spec.commandLine().getOut().println(SampleImage.write(dir, variant));
    spec.commandLine().getOut().flush();
    return 0;
  }
}
