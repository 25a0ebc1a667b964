#!/usr/bin/env bash
# Issue 14 goal 4, squashfs side (BENCHMARKS.md): `render --format squashfs` of the million-entry
# layer (1 000 directories of 999 files of 0-99 bytes; scripts/bench-image.sh builds it) as a CLI
# process at -Xmx256m, against tar2sqfs (same compressor, level, block size and job count) on the
# merged tar of the same image, made once beforehand. Alternating, one warm-up round, then ROUNDS
# rounds (ROUNDS 0: the one round counts); medians. Prints the image size ratio, the CPU (user+sys)
# and wall ratios, peak RSS, and the largest heap occupancy right after a GC (from -Xlog:gc) per
# entry, merge and writer together (an upper bound of the live heap: a young GC leaves old garbage).
# Then the strictest measure of the heap per entry, the whole heap limit: whether the render runs
# with -Xmx at most 150 bytes times the entries, every fixed part included (-Xmx143m for 1 000 003
# entries: Java's m is a MiB), and the smallest -Xmx that works, searched from there down in steps
# of 8 MiB until a run fails (HEAP_SEARCH=0 skips the search; every run that works must give the
# image of the first rounds, byte for byte).
# Usage: scripts/bench-million-squashfs.sh [WORKDIR] [ROUNDS] [HEAP]
#   WORKDIR defaults to target/bench-million-squashfs; the image is read from
#   BENCH_IMAGE (default target/bench-image/million) and built there when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-target/bench-million-squashfs}
rounds=${2:-3}
heap=${3:-256m}
image=${BENCH_IMAGE:-target/bench-image/million}
jobs=$(nproc)
mkdir -p "$work"
[[ -f $image/index.json ]] || scripts/bench-image.sh "$(dirname "$image")" million
[[ -f target/ocirender.jar ]] || mvn -q -o -DskipTests package
jar=target/ocirender.jar
echo "machine: $jobs cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(java -version 2>&1 | head -1), $(date -u +%F)"
if [[ ! -f $work/merged.tar ]]; then
  java -jar "$jar" render "oci:$image:latest" --output "$work/merged.tar" 2> /dev/null
fi
entries=$(tar -tf "$work/merged.tar" | wc -l)
rm -f "$work/rounds.txt"
for round in $(seq 0 "$rounds"); do
  for who in ocirender tar2sqfs; do
    rm -f "$work/$who.sqfs"
    if [[ $who == ocirender ]]; then
      /usr/bin/time -f "%e %U %S %M" -o "$work/$who.time" java "-Xmx$heap" "-Xlog:gc:file=$work/gc.log" -jar "$jar" \
        render "oci:$image:latest" --format squashfs --output "$work/$who.sqfs" > /dev/null 2> "$work/$who.log" \
        || { echo "ocirender failed:"; tail -3 "$work/$who.log"; exit 1; }
      # The largest heap occupancy right after a GC: what the render keeps live, at its peak.
      # Only collections count: a Remark or Cleanup pause reports the heap as it is, young objects included.
      live=$(grep -E 'Pause (Young|Full)' "$work/gc.log" | grep -o '[0-9]*M->[0-9]*M' | sed 's/.*->//; s/M//' | sort -n | tail -1)
    else
      /usr/bin/time -f "%e %U %S %M" -o "$work/$who.time" tar2sqfs --quiet --force -c zstd -X level=3 -b 131072 \
        -j "$jobs" "$work/$who.sqfs" < "$work/merged.tar"
      live=0
    fi
    read -r wall user sys rss < "$work/$who.time"
    size=$(stat -c %s "$work/$who.sqfs")
    echo "round $round $who wall=$wall user=$user sys=$sys maxrss_kb=$rss size=$size live_heap_mb=$live"
    [[ $round == 0 && $rounds != 0 ]] || echo "$who $wall $user $sys $rss $size $live" >> "$work/rounds.txt"
  done
done
unsquashfs -s "$work/ocirender.sqfs" | grep -E 'exportable|Number of inodes'
python3 - "$work/rounds.txt" "$entries" "$heap" <<'PY'
import collections, statistics, sys
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    who, wall, user, sys_, rss, size, live = line.split()
    runs[who].append((float(wall), float(user) + float(sys_), int(rss), int(size), int(live)))
entries = int(sys.argv[2])
med = {w: [statistics.median(r[i] for r in rs) for i in range(3)] + [rs[-1][3], max(r[4] for r in rs)]
       for w, rs in runs.items()}
for w, (wall, cpu, rss, size, live) in med.items():
    print(f"{w:10s} wall {wall:6.2f} s  cpu {cpu:6.2f} s  rss {rss / 1024:6.0f} MB  image {size} bytes")
o, t = med["ocirender"], med["tar2sqfs"]
print(f"image size ocirender/tar2sqfs {o[3] / t[3]:.4f} (goal <= 1.02)")
print(f"cpu (user+sys) ocirender/tar2sqfs {o[1] / t[1]:.3f} (goal <= 1.0; ours includes gunzip and the merge)")
print(f"wall ocirender/tar2sqfs {o[0] / t[0]:.3f}")
print(f"peak live heap after GC at -Xmx{sys.argv[3]}: {o[4]} MB = {o[4] * 1048576 / entries:.0f} bytes per entry "
      f"({entries} entries; merge and writer together)")
PY

# The whole heap as the measure: G1 (the default), one run per limit, from 150 bytes an entry down by 8 MiB.
heap_runs() {
  local mb=$1
  rm -f "$work/limit.sqfs"
  if java "-Xmx${mb}m" -jar "$jar" render "oci:$image:latest" --format squashfs --output "$work/limit.sqfs" \
      > /dev/null 2> "$work/limit.log"; then
    cmp -s "$work/limit.sqfs" "$work/ocirender.sqfs" || { echo "-Xmx${mb}m: image differs from the -Xmx$heap one"; exit 1; }
    return 0
  fi
  grep -m1 -o 'OutOfMemoryError.*' "$work/limit.log" | cut -c1-100 > "$work/limit.why" || echo "failed" > "$work/limit.why"
  return 1
}
limit=$((150 * entries / 1048576))
if heap_runs $limit; then
  echo "runs at -Xmx${limit}m (at most 150 bytes per entry, the whole heap): yes (load $(cut -d' ' -f1-3 /proc/loadavg))"
  if [[ ${HEAP_SEARCH:-1} != 0 ]]; then
    mb=$limit
    while (( mb > 8 )) && heap_runs $((mb - 8)); do
      mb=$((mb - 8))
    done
    echo "smallest -Xmx that works (8 MiB steps): ${mb}m = $((mb * 1048576 / entries)) bytes per entry;" \
      "-Xmx$((mb - 8))m fails: $(cat "$work/limit.why") (load $(cut -d' ' -f1-3 /proc/loadavg))"
  fi
else
  echo "runs at -Xmx${limit}m (at most 150 bytes per entry, the whole heap): NO: $(cat "$work/limit.why")"
fi
