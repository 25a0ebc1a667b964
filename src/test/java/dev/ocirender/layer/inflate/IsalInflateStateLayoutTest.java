package dev.ocirender.layer.inflate;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ocirender.testing.ExternalTools;
import dev.ocirender.testing.Requires;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link IsalInflateState}'s offsets against the C compiler's: compiles a program that prints
 * {@code offsetof} of every field and {@code sizeof} of {@code struct inflate_state} from the
 * installed {@code isa-l/igzip_lib.h} (Debian libisal-dev), so a layout mistake cannot hide.
 */
@Requires(tools = "gcc")
class IsalInflateStateLayoutTest {

  private static final Path HEADER = Path.of("/usr/include/isa-l/igzip_lib.h");

  @Test
  void everyFieldOffset_andSize_matchTheInstalledHeader(@TempDir Path dir) throws IOException {
    if (!Files.exists(HEADER)) {
      ExternalTools.skipOrFail("ISA-L headers (Debian libisal-dev) not installed: " + HEADER);
    }
    IsalInflateState layout = new IsalInflateState();
    // Java name -> C member designator (the union's first member stands for the union)
    Map<String, String> fields = new LinkedHashMap<>();
    for (String name : layout.fields()) {
      fields.put(name, switch (name) {
        case "lit_short_code_lookup" -> "lit_huff_code.short_code_lookup";
        case "lit_long_code_lookup" -> "lit_huff_code.long_code_lookup";
        case "dist_short_code_lookup" -> "dist_huff_code.short_code_lookup";
        case "dist_long_code_lookup" -> "dist_huff_code.long_code_lookup";
        case "type0_block_len_count_dict_id" -> "type0_block_len";
        default -> name;
      });
    }
    StringBuilder c = new StringBuilder("#include <stdio.h>\n#include <stddef.h>\n#include <isa-l/igzip_lib.h>\n"
        + "int main(void) {\n  printf(\"size %zu\\n\", sizeof(struct inflate_state));\n");
    fields.forEach((java, member) -> c.append("  printf(\"").append(java)
        .append(" %zu\\n\", offsetof(struct inflate_state, ").append(member).append("));\n"));
    c.append("  return 0;\n}\n");
    Files.writeString(dir.resolve("layout.c"), c);
    ExternalTools.run(dir, List.of("gcc", "-o", "layout", "layout.c"));
    String printed = new String(ExternalTools.run(dir, List.of("./layout")), StandardCharsets.US_ASCII);

    StringBuilder ours = new StringBuilder("size " + layout.size() + "\n");
    fields.keySet().forEach(java -> ours.append(java).append(' ').append(layout.offsetOf(java)).append('\n'));
    assertThat(ours.toString()).isEqualTo(printed);
  }
}
