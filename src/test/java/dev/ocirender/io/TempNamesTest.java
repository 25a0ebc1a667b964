package dev.ocirender.io;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The names writers make are exactly the names cleanups recognise, and nothing of anyone else's. */
class TempNamesTest {

  @Test
  void everyNameMadeIsRecognised() {
    for (String name : new String[] {"out.tar", "a", ".hidden", "name with spaces.sqfs", "x.tmp-"}) {
      for (String kind : new String[] {TempNames.TMP, TempNames.OLD}) {
        String made = TempNames.hidden(name, kind);
        assertTrue(TempNames.HIDDEN.matcher(made).matches(), made);
        assertTrue(made.startsWith("." + name + kind), made);
      }
    }
    assertNotEquals(TempNames.hidden("a", TempNames.TMP), TempNames.hidden("a", TempNames.TMP));
  }

  @Test
  void namesOfOtherShapesAreLeftAlone() {
    for (String other : new String[] {
        "out.tar", "out.tar.tmp-0123456789ab", // not hidden
        ".out.tar.tmp-", ".out.tar.tmp-0123456", // suffix too short
        ".out.tar.tmp-0123456789AB", ".out.tar.tmp-0123456789ag", // not lower-case hex
        ".out.tar.bak-0123456789ab", ".tmp-0123456789ab", // another kind; no name
        "..tmp-0123456789ab/x"}) {
      assertFalse(TempNames.HIDDEN.matcher(other).matches(), other);
    }
  }
}
