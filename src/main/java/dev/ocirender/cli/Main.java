package dev.ocirender.cli;

import dev.ocirender.image.Messages;
import dev.ocirender.io.NativeLibraries;
import dev.ocirender.render.RenderException;
import java.io.PrintWriter;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParseResult;
import picocli.CommandLine.ScopeType;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Unmatched;

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
    description = "Renders OCI container images into one merged filesystem, streaming.")
public final class Main implements Runnable {

  static final String ERROR_PREFIX = "ocirender: error: ";

  @Spec CommandSpec spec;

  @Option(names = "--debug", scope = ScopeType.INHERIT, description = "Print stack traces for errors.")
  boolean debug;

  @Override
  public void run() {
    throw new ParameterException(spec.commandLine(), "missing command (render, inspect, verify, pipeline)");
  }

  /** The subcommands, in the order help lists them. */
  private static final List<String> SUBCOMMANDS = List.of("render", "inspect", "verify", "pipeline", "sample", "help");

  public static void main(String[] args) {
    int status;
    try {
      NativeLibraries.prepare();
      status = commandLine(args).execute(args);
    } catch (Error e) {
      // picocli hands only Exceptions to failure(); an Error (a native library that will not load,
      // memory) still gets one line, and the stack trace only with --debug.
      System.err.println(ERROR_PREFIX + "internal error: " + oneLine(e.toString())
          + (List.of(args).contains("--debug") ? "" : " (rerun with --debug for the stack trace)"));
      if (List.of(args).contains("--debug")) {
        e.printStackTrace();
      }
      status = 1;
    }
    System.exit(status);
  }

  /** A configured command line with every subcommand; set its out/err writers to capture output. */
  public static CommandLine commandLine() {
    return commandLine(new String[0]);
  }

  /**
   * A command line for {@code args}: with only the subcommand they name, when they name one, since
   * picocli reflects over every registered command at start-up (and the pipeline command's
   * signatures load Beam classes): a {@code render} should not pay for them. Without a known
   * subcommand (help, a usage error) all of them are there.
   */
  static CommandLine commandLine(String[] args) {
    String named = null;
    for (String a : args) {
      if (!a.startsWith("-")) {
        named = SUBCOMMANDS.contains(a) && !a.equals("help") ? a : null;
        break;
      }
    }
    CommandLine cl = new CommandLine(new Main());
    for (String name : SUBCOMMANDS) {
      if (named == null || named.equals(name)) {
        cl.addSubcommand(name, subcommand(name));
      }
    }
    cl.setParameterExceptionHandler(Main::usageError);
    cl.setExecutionExceptionHandler(Main::failure);
    return cl;
  }

  private static Object subcommand(String name) {
    return switch (name) {
      case "render" -> new RenderCommand();
      case "inspect" -> new InspectCommand();
      case "verify" -> new VerifyCommand();
      case "pipeline" -> pipelineCommand();
      case "sample" -> new SampleCommand();
      case "help" -> new CommandLine.HelpCommand();
      default -> throw new IllegalArgumentException(name);
    };
  }

  /**
   * The pipeline command, loaded by name: the command-line jar ({@code target/ocirender-cli.jar}, which
   * {@code bin/ocirender} starts for every other command) leaves it out with Beam, Flink and the cloud
   * clients, and gets a stand-in that says where the pipeline is.
   */
  private static Object pipelineCommand() {
    try {
      return Class.forName("dev.ocirender.cli.PipelineCommand").getDeclaredConstructor().newInstance();
    } catch (ClassNotFoundException e) {
      return new PipelineNotInThisJar();
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException("cannot create the pipeline command", e);
    }
  }

  /** {@code pipeline} in the command-line jar: one line saying which jar runs it. */
  @Command(name = "pipeline", description = "The catalog pipeline: runs from target/ocirender.jar (bin/ocirender starts it there).")
  static final class PipelineNotInThisJar implements Callable<Integer> {
    @Unmatched List<String> args;

    @Override
    public Integer call() {
      throw new IllegalArgumentException("the pipeline command is not in the command-line jar (no Beam): "
          + "run it with bin/ocirender pipeline … or java -jar target/ocirender.jar pipeline …");
    }
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
