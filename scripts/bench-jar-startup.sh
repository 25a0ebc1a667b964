#!/usr/bin/env bash
# Shaded-jar size and CLI start-up from the whole jar, one jar against another (BENCHMARKS.md, "Shaded
# jar"): `java -jar JAR render` of the built-in sample image (3 layers) to a tar file, each a fresh
# process, the jars alternating, one warm-up round, then ROUNDS rounds; prints each jar's size and entry
# count, the medians of wall and CPU (user + sys) time and peak RSS from /usr/bin/time, and the
# same-run ratios B/A.
#
# Usage: scripts/bench-jar-startup.sh A.jar B.jar [ROUNDS]   (default 5)
# For example, before and after a pom.xml change: copy target/ocirender.jar to /tmp/before.jar, rebuild
# (mvn -B -o -DskipTests package), then scripts/bench-jar-startup.sh /tmp/before.jar target/ocirender.jar
set -euo pipefail
cd "$(dirname "$0")/.."
a=$1
b=$2
rounds=${3:-5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "machine: $(nproc) cores, $(java -version 2>&1 | head -1), load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u '+%F %H:%M') UTC"
spec=$(java -jar "$a" sample "$work/sample")

run() { # jar -> "wall cpu rss_kb"
  /usr/bin/time -f '%e %U %S %M' -o "$work/time" java -jar "$1" render "$spec" --output "$work/out.tar" >/dev/null 2>&1
  awk '{printf "%.2f %.2f %d\n", $1, $2 + $3, $4}' "$work/time"
}
median() { sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

: >"$work/A"
: >"$work/B"
for ((r = 0; r <= rounds; r++)); do
  ra=$(run "$a")
  rb=$(run "$b")
  if ((r > 0)); then # round 0 warms the page cache
    echo "$ra" >>"$work/A"
    echo "$rb" >>"$work/B"
  fi
done
for v in A B; do
  jar=$a
  [[ $v == B ]] && jar=$b
  printf '%s %s: %d bytes, %d entries; wall %s s, cpu %s s, rss %s KB (medians of %d; wall rounds: %s)\n' "$v" "$jar" \
    "$(stat -c %s "$jar")" "$(unzip -Z1 "$jar" | wc -l)" "$(cut -d' ' -f1 "$work/$v" | median)" \
    "$(cut -d' ' -f2 "$work/$v" | median)" "$(cut -d' ' -f3 "$work/$v" | median)" "$rounds" "$(cut -d' ' -f1 "$work/$v" | paste -sd' ')"
done
awk -v wa="$(cut -d' ' -f1 "$work/A" | median)" -v wb="$(cut -d' ' -f1 "$work/B" | median)" \
  -v ca="$(cut -d' ' -f2 "$work/A" | median)" -v cb="$(cut -d' ' -f2 "$work/B" | median)" \
  'BEGIN {printf "B/A: wall %.2f, cpu %.2f\n", wb / wa, cb / ca}'
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
