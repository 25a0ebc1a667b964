package dev.ocirender.verify;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ocirender.cli.MainAccess;
import dev.ocirender.image.Platform;
import dev.ocirender.render.DirectoryRenderTarget;
import dev.ocirender.render.OutputFormat;
import dev.ocirender.render.Renderer;
import dev.ocirender.source.ImageSource;
import dev.ocirender.source.ImageSources;
import dev.ocirender.testing.ExternalTools;
import dev.ocirender.testing.Requires;
import dev.ocirender.testing.UmociOracleImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code ocirender verify} against the oracle: an image built by {@code umoci} from real trees (hard
 * links, a setuid file, xattrs, devices, a FIFO, whiteouts across three layers), rendered by us to
 * every output format, must verify clean against {@code umoci raw unpack} of the same image, and
 * against the image itself rendered on the fly. Then differences planted in a copy of our output
 * (a changed byte, a mode, an owner, an xattr, a broken hard link, a missing and an extra file) are
 * each reported exactly once, with the right field.
 */
@Requires(tools = {"getfattr", "gzip", "umoci", "setfattr", "mknod", "mkfifo"}, root = true)
class VerifyUmociOracleTest {

  static final List<OutputFormat> FILE_FORMATS = List.of(OutputFormat.TAR, OutputFormat.SQUASHFS);

  @TempDir static Path tmp;
  static String image;
  static Path oracle;
  static Path ourDir;

  @BeforeAll
  static void buildImageAndOracle() throws Exception {
    UmociOracleImage built = UmociOracleImage.build(tmp);
    image = built.spec();
    oracle = built.oracle();

    ourDir = tmp.resolve("ours-dir");
    try (ImageSource source = ImageSources.open(image); DirectoryRenderTarget target = new DirectoryRenderTarget(ourDir, false)) {
      new Renderer().renderTo(source, Platform.LINUX_AMD64, target);
    }
  }

  @Test
  void everyOutputFormat_verifiesCleanAgainstUmociAndTheImage() throws Exception {
    List<Path> outputs = new ArrayList<>();
    for (OutputFormat format : FILE_FORMATS) {
      Path out = tmp.resolve("ours." + format.name().toLowerCase());
      try (ImageSource source = ImageSources.open(image)) {
        new Renderer().renderToFile(source, Platform.LINUX_AMD64, format, out);
      }
      outputs.add(out);
    }
    ExternalTools.bash(tmp, "gzip -k -c ours.tar > ours.tar.gz");
    outputs.add(tmp.resolve("ours.tar.gz"));
    outputs.add(ourDir);

    for (Path out : outputs) {
      // umoci made the oracle's root directory itself, so its metadata is umoci's, not the image's.
      Run vsOracle = verify(out.toString(), "--reference", oracle.toString(), "--ignore-root-metadata");
      assertThat(vsOracle.exit).as("%s vs umoci:\n%s%s", out, vsOracle.out, vsOracle.err).isZero();
      assertThat(vsOracle.out).startsWith("equal: ");
      Run vsImage = verify(out.toString(), "--reference", image, "--mtime");
      assertThat(vsImage.exit).as("%s vs the image:\n%s%s", out, vsImage.out, vsImage.err).isZero();
    }
    // The comparison is not vacuous: the image's facts are in the model.
    FsModel model = FsReaders.read(oracle.toString(), s -> ImageSources.open(s), Platform.LINUX_AMD64);
    assertThat(model.size()).isGreaterThan(20);
    assertThat(model.linkedTo(dev.ocirender.layer.EntryPath.of("usr/bin/tool-alias"))).isNull(); // it is the group's smallest
    assertThat(model.nodes().get(dev.ocirender.layer.EntryPath.of("usr/lib/big.so")).xattrs()).containsKey("user.bin");
    assertThat(model.nodes().get(dev.ocirender.layer.EntryPath.of("dev/loop9")).devMinor()).isEqualTo(9);
  }

  @Test
  void plantedDifferences_areEachReportedOnceWithTheRightField() throws Exception {
    Path copy = tmp.resolve("planted");
    ExternalTools.run(tmp, List.of("cp", "-a", ourDir.toString(), copy.toString()));
    ExternalTools.bash(copy, String.join("\n",
        "printf 'X' | dd of=usr/lib/big.so bs=1 seek=1000 conv=notrunc 2>/dev/null",     // a changed byte
        "chmod 0600 etc/passwd",                                                        // a mode
        "chown 4321 opt/keep/file",                                                     // an owner
        "setfattr -n user.bin -v 0x00ff11 usr/lib/big.so",                              // an xattr
        "cp usr/bin/extra-link x && rm usr/bin/extra-link && mv x usr/bin/extra-link",  // a broken hard link
        "rm var/cache/app/c.dat",                                                       // a missing file
        "printf 'surprise' > etc/extra"));                                              // an extra file
    // Make sure the byte really changed (the random file might have had an 'X' there).
    Run run = verify(copy.toString(), "--reference", oracle.toString(), "--ignore-root-metadata");
    assertThat(run.exit).as(run.err).isEqualTo(1);
    List<String> lines = new ArrayList<>(Arrays.asList(run.out.split("\n")));
    String summary = lines.remove(lines.size() - 1);
    assertThat(lines).containsExactlyInAnyOrder(
        "+ etc/extra",
        "- var/cache/app/c.dat",
        "~ etc/passwd: mode 0600 != 0644",
        "~ opt/keep/file: uid 4321 != 70000",
        "~ usr/bin/extra-link: hardlink (none) != usr/bin/extra",
        "~ usr/lib/big.so: sha256 " + sha(copy.resolve("usr/lib/big.so")) + " != " + sha(oracle.resolve("usr/lib/big.so")),
        "~ usr/lib/big.so: xattr user.bin 0x00ff11 != 0x00ff10");
    assertThat(summary).startsWith("different: 7 difference(s): 1 only in candidate, 1 only in reference, 5 changed field(s)");

    // --json: the same, for machines; --exclude and --ignore-ownership take differences away.
    Run json = verify(copy.toString(), "--reference", oracle.toString(), "--ignore-root-metadata", "--json",
        "--exclude", "etc/extra", "--exclude", "/var/cache", "--ignore-ownership");
    assertThat(json.exit).isEqualTo(1);
    com.fasterxml.jackson.databind.JsonNode n = new com.fasterxml.jackson.databind.ObjectMapper().readTree(json.out);
    assertThat(n.get("equal").asBoolean()).isFalse();
    assertThat(n.get("onlyInCandidate").asInt()).isZero();
    assertThat(n.get("onlyInReference").asInt()).isZero();
    assertThat(n.get("changed").asInt()).isEqualTo(4);
    assertThat(n.get("differences").get(0).get("field").asText()).isEqualTo("mode");
  }

  @Test
  void errors_exitTwo() {
    Run missing = verify(tmp.resolve("nope").toString(), "--reference", oracle.toString());
    assertThat(missing.exit).isEqualTo(2);
    assertThat(missing.err).contains("nope").contains("no such file");
  }

  private static String sha(Path p) throws Exception {
    return java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(p)));
  }

  record Run(int exit, String out, String err) {}

  static Run verify(String... args) {
    String[] all = new String[args.length + 1];
    all[0] = "verify";
    System.arraycopy(args, 0, all, 1, args.length);
    MainAccess.Result r = MainAccess.run(all);
    return new Run(r.exit(), r.out(), r.err());
  }
}
