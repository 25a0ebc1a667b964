package dev.ocirender.merge;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class PathNodeTest {

  @Test
  void pathBytes_100000LevelsDeep_isBuiltWithoutRecursion() throws Exception {
    int depth = 100_000;
    PathNode n = new PathNode(null, null);
    for (int i = 0; i < depth; i++) {
      n = n.childOrCreate(new NameKey(new byte[] {'d'}));
    }
    PathNode leaf = n;
    byte[][] out = new byte[1][];
    // 256 KiB of stack: a recursive walk up 100 000 parents overflows it
    Thread t = new Thread(null, () -> out[0] = leaf.pathBytes(), "small-stack", 256 * 1024);
    t.start();
    t.join();
    assertThat(out[0]).hasSize(2 * depth - 1);
    assertThat(new String(out[0], 0, 5, StandardCharsets.US_ASCII)).isEqualTo("d/d/d");
    assertThat(out[0][out[0].length - 1]).isEqualTo((byte) 'd');
  }

  @Test
  void pathBytes_rootChildAndNested() {
    PathNode root = new PathNode(null, null);
    assertThat(root.pathBytes()).isEmpty();
    PathNode usr = root.childOrCreate(new NameKey("usr".getBytes(StandardCharsets.UTF_8)));
    PathNode bin = usr.childOrCreate(new NameKey("bin".getBytes(StandardCharsets.UTF_8)));
    assertThat(new String(usr.pathBytes(), StandardCharsets.UTF_8)).isEqualTo("usr");
    assertThat(new String(bin.pathBytes(), StandardCharsets.UTF_8)).isEqualTo("usr/bin");
  }
}
