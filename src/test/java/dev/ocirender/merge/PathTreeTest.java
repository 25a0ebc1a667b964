package dev.ocirender.merge;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ocirender.layer.EntryPath;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Random;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

class PathTreeTest {

  private static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void pathBytes_100000LevelsDeep_isBuiltWithoutRecursion() throws Exception {
    int depth = 100_000;
    PathTree tree = new PathTree();
    PathNode n = tree.root;
    for (int i = 0; i < depth; i++) {
      n = tree.childOrCreate(n, new byte[] {'d'});
    }
    PathNode leaf = n;
    byte[][] out = new byte[1][];
    // 256 KiB of stack: a recursive walk up 100 000 parents overflows it
    Thread t = new Thread(null, () -> out[0] = tree.pathBytes(leaf), "small-stack", 256 * 1024);
    t.start();
    t.join();
    assertThat(out[0]).hasSize(2 * depth - 1);
    assertThat(new String(out[0], 0, 5, StandardCharsets.US_ASCII)).isEqualTo("d/d/d");
    assertThat(out[0][out[0].length - 1]).isEqualTo((byte) 'd');
  }

  @Test
  void pathBytes_rootChildAndNested() {
    PathTree tree = new PathTree();
    assertThat(tree.pathBytes(tree.root)).isEmpty();
    PathNode usr = tree.childOrCreate(tree.root, utf8("usr"));
    PathNode bin = tree.childOrCreate(usr, utf8("bin"));
    assertThat(new String(tree.pathBytes(usr), StandardCharsets.UTF_8)).isEqualTo("usr");
    assertThat(new String(tree.pathBytes(bin), StandardCharsets.UTF_8)).isEqualTo("usr/bin");
    assertThat(tree.find(EntryPath.of("usr/bin"))).isSameAs(bin);
    assertThat(tree.find(EntryPath.of("usr/lib"))).isNull();
    assertThat(tree.deepestExisting(EntryPath.of("usr/lib/x"))).isSameAs(usr);
    assertThat(tree.intern(EntryPath.of("usr/bin"))).isSameAs(bin);
  }

  /**
   * Many children with random byte names (non-UTF-8, empty-prefix collisions, long names past the
   * arena's chunk size) are each found again by name, are distinct, and list in the same order as
   * a TreeSet under unsigned byte comparison, the order every output lists a directory in.
   */
  @Test
  void children_manyRandomNames_foundOnceAndSortedUnsigned() {
    PathTree tree = new PathTree();
    PathNode dir = tree.childOrCreate(tree.root, utf8("dir"));
    Random random = new Random(14);
    TreeSet<byte[]> expected = new TreeSet<>(Arrays::compareUnsigned);
    for (int i = 0; i < 20_000; i++) {
      int len = i % 997 == 0 ? 70_000 + random.nextInt(1000) : 1 + random.nextInt(12);
      byte[] name = new byte[len];
      for (int k = 0; k < len; k++) {
        name[k] = (byte) (random.nextInt(255) + 1);
        if (name[k] == '/') {
          name[k] = (byte) 0xff;
        }
      }
      boolean isNew = expected.add(name);
      PathNode before = tree.child(dir, name);
      PathNode made = tree.childOrCreate(dir, name);
      assertThat(before == null).isEqualTo(isNew);
      assertThat(tree.childOrCreate(dir, name.clone())).isSameAs(made);
    }
    PathNode[] sorted = tree.sortedChildren(dir);
    assertThat(sorted).hasSize(expected.size());
    int k = 0;
    for (byte[] name : expected) {
      assertThat(tree.name(sorted[k])).isEqualTo(name);
      assertThat(tree.child(dir, name)).isSameAs(sorted[k]);
      k++;
    }
  }
}
