package dev.ocirender.testing;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ocirender.layer.EntryHeader;
import dev.ocirender.layer.EntryPath;
import dev.ocirender.layer.EntryType;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import org.junit.jupiter.api.Test;

/** The sink must catch each breach of the EntrySink contract, so merge tests can trust a pass. */
class CollectingSinkTest {

  private static EntryHeader dir(String p) {
    return EntryHeader.builder(EntryType.DIRECTORY, EntryPath.of(p)).mode(0755).build();
  }

  private static EntryHeader file(String p, int size) {
    return EntryHeader.builder(EntryType.FILE, EntryPath.of(p)).size(size).build();
  }

  private static EntryHeader link(String p, String target) {
    return EntryHeader.builder(EntryType.HARDLINK, EntryPath.of(p)).linkTarget(EntryPath.of(target)).build();
  }

  private static ByteArrayInputStream bytes(int n) {
    return new ByteArrayInputStream(new byte[n]);
  }

  @Test
  void samePathTwice_fails() throws IOException {
    CollectingSink s = new CollectingSink();
    s.accept(file("a", 1), bytes(1));
    assertThatThrownBy(() -> s.accept(dir("a"), null)).hasMessageContaining("delivered twice");
  }

  @Test
  void whiteoutName_fails() {
    assertThatThrownBy(() -> new CollectingSink().accept(file("d/.wh.x", 0), bytes(0))).hasMessageContaining("whiteout");
  }

  @Test
  void hardLinkToUnseenOrDirectory_fails() throws IOException {
    CollectingSink s = new CollectingSink();
    assertThatThrownBy(() -> s.accept(link("l", "f"), null)).hasMessageContaining("has not arrived");
    s.accept(dir("d"), null);
    assertThatThrownBy(() -> s.accept(link("l", "d"), null)).hasMessageContaining("to directory");
  }

  @Test
  void wrongContentLength_fails() {
    assertThatThrownBy(() -> new CollectingSink().accept(file("a", 3), bytes(2))).hasMessageContaining("2 bytes");
  }

  @Test
  void missingRootOrParent_failsAtFinish() throws IOException {
    CollectingSink noRoot = new CollectingSink();
    noRoot.accept(file("a", 0), bytes(0));
    assertThatThrownBy(noRoot::finish).hasMessageContaining("root");

    CollectingSink orphan = new CollectingSink();
    orphan.accept(dir(""), null);
    orphan.accept(file("a/b", 0), bytes(0));
    assertThatThrownBy(orphan::finish).hasMessageContaining("a/b (parent a missing)");
  }

  @Test
  void opener_requiresExactlyOneFinishedSink_andAllClosed() throws IOException {
    CollectingSink.Opener opener = new CollectingSink.Opener();
    CollectingSink discarded = opener.open();
    discarded.accept(dir(""), null);
    discarded.close();
    CollectingSink kept = opener.open();
    kept.accept(dir(""), null);
    assertThatThrownBy(opener::result).hasMessageContaining("never closed");
    kept.finish();
    kept.close();
    org.assertj.core.api.Assertions.assertThat(opener.result()).isSameAs(kept);
  }
}
