package dev.ocirender.squashfs.writer;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class TailIndexTest {

  @Test
  void sameLengthAndChecksum_offersEveryEntryUntilOneMatches() throws Exception {
    TailIndex index = new TailIndex();
    // Three different tails of 40 bytes whose CRC32C collide, and one of another length.
    index.add(40, 0x1234abcd, 3, 100);
    index.add(40, 0x1234abcd, 5, 7);
    index.add(40, 0x1234abcd, (1 << 24) + 9, 64);
    index.add(41, 0x1234abcd, 6, 0);
    List<String> offered = new ArrayList<>();
    long place = index.find(40, 0x1234abcd, (fragment, offset) -> {
      offered.add(fragment + ":" + offset);
      return fragment == (1 << 24) + 9;
    });
    assertEquals((1 << 24) + 9, TailIndex.fragment(place));
    assertEquals(64, TailIndex.offset(place));
    assertEquals(List.of("16777225:64", "3:100", "5:7"), offered.stream().sorted().toList());
    assertEquals(TailIndex.ABSENT, index.find(40, 0x1234abcd, (fragment, offset) -> false));
    assertEquals(TailIndex.ABSENT, index.find(39, 0x1234abcd, (fragment, offset) -> true));
  }

  @Test
  void manyTails_eachFoundAtItsPlace() throws Exception {
    TailIndex index = new TailIndex();
    int n = 200_000; // past several doublings of every segment
    for (int i = 0; i < n; i++) {
      index.add(1 + i % 1000, i * 0x9E3779B1, i / 1000, i % 1000 * 7);
    }
    for (int i = 0; i < n; i++) {
      int fragment = i / 1000;
      int offset = i % 1000 * 7;
      long place = index.find(1 + i % 1000, i * 0x9E3779B1, (f, o) -> f == fragment && o == offset);
      assertEquals(fragment, TailIndex.fragment(place), "tail " + i);
      assertEquals(offset, TailIndex.offset(place), "tail " + i);
    }
  }
}
