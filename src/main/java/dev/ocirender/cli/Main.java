package dev.ocirender.cli;

import dev.ocirender.image.Messages;
import dev.ocirender.render.RenderException;
import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParseResult;
import picocli.CommandLine.ScopeType;
import picocli.CommandLine.Spec;

/**
 * The {@code ocirender} command line: parses arguments, runs one subcommand, and turns every
 * failure into one line on stderr and an exit code (0 success, 1 failure, 2 usage error).
 *
 * <p>This class only wires picocli; the work happens in {@code dev.ocirender.render}. It prints no
 * stack traces unless {@code --debug} is given, and never calls {@link System#exit} except in
 * {@link #main}, so tests can run commands in-process through {@link #commandLine()}.
 */
@Command(
    name = "ocirender",
    mixinStandardHelpOptions = true,
    versionProvider = Main.Version.class,
    description = "Renders OCI container images into one merged filesystem, streaming.",
    subcommands = {RenderCommand.class, InspectCommand.class, VerifyCommand.class, PipelineCommand.class, SampleCommand.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {

  static final String ERROR_PREFIX = "ocirender: error: ";

  @Spec CommandSpec spec;

  @Option(names = "--debug", scope = ScopeType.INHERIT, description = "Print stack traces for errors.")
  boolean debug;

  @Override
  public void run() {
    throw new ParameterException(spec.commandLine(), "missing command (render, inspect, verify, pipeline)");
  }

  public static void main(String[] args) {
    System.exit(commandLine().execute(args));
  }

  /** A configured command line; set its out/err writers to capture output. */
  public static CommandLine commandLine() {
    CommandLine cl = new CommandLine(new Main());
    cl.setParameterExceptionHandler(Main::usageError);
    cl.setExecutionExceptionHandler(Main::failure);
    return cl;
  }

  private static int usageError(ParameterException e, String[] args) {
    CommandLine cl = e.getCommandLine();
    PrintWriter err = cl.getErr();
    String command = cl.getCommandSpec().qualifiedName();
    err.println(ERROR_PREFIX + oneLine(e.getMessage()) + " (see '" + command + " --help')");
    if (hasDebug(cl.getParseResult())) {
      e.printStackTrace(err);
    }
    err.flush();
    return cl.getCommandSpec().exitCodeOnInvalidInput();
  }

  private static int failure(Exception e, CommandLine cl, ParseResult parsed) {
    PrintWriter err = cl.getErr();
    String message;
    if (e instanceof RenderException) {
      // Already one self-contained line that names the image.
      message = e.getMessage();
    } else if (e instanceof RuntimeException && !(e instanceof IllegalArgumentException)) {
      // Not a failure of the input but of ocirender itself: say so, and where to look.
      message = "internal error: " + e.getClass().getName() + ": " + Messages.describe(e)
          + (hasDebug(parsed) ? "" : " (rerun with --debug for the stack trace)");
    } else {
      message = Messages.describe(e);
    }
    err.println(ERROR_PREFIX + oneLine(message));
    if (hasDebug(parsed)) {
      e.printStackTrace(err);
    }
    err.flush();
    return cl.getCommandSpec().exitCodeOnExecutionException();
  }

  private static boolean hasDebug(ParseResult parsed) {
    // --debug is inherited by every subcommand, so it may have been given at any level.
    for (ParseResult p = parsed; p != null; p = p.subcommand()) {
      if (p.hasMatchedOption("--debug")) {
        return true;
      }
    }
    return false;
  }

  static String oneLine(String s) {
    return s == null ? "" : s.strip().replaceAll("\\s*[\\r\\n]+\\s*", " ");
  }

  /** The version from the jar manifest; classes run from a build directory have none. */
  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      String v = Main.class.getPackage().getImplementationVersion();
      return new String[] {"ocirender " + (v == null ? "(development build)" : v)};
    }
  }
}
