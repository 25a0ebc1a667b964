#!/usr/bin/env bash
# Start-up of the command line (issue 14, goal 5; BENCHMARKS.md): `render` of the built-in sample image
# as a fresh process, the way the README runs it (bin/ocirender: the command-line jar with its class-data
# sharing archive and start-up flags) against the whole jar (`java -jar target/ocirender.jar`, how the
# README ran it before) and the JVM's own floor (`java -version`), alternating, one warm-up round, then
# ROUNDS rounds; medians of wall and CPU (user + sys) time and peak RSS from /usr/bin/time.
#
# `big IMAGE` instead renders IMAGE (an image spec) to tar through the launcher with C1 only
# (-XX:TieredStopAtLevel=1, a start-up flag) and with the JVM's default tiered compilation (C2), and
# from the whole jar: what C1 alone would cost a long render.
#
# Usage: scripts/bench-startup.sh [--no-build] [ROUNDS]          (default 5)
#        scripts/bench-startup.sh [--no-build] big IMAGE [ROUNDS] (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ${1:-} == --no-build ]]; then
  shift
else
  mvn -B -q -DskipTests package
fi
mode=startup
if [[ ${1:-} == big ]]; then
  mode=big
  image=$2
  shift 2
fi
rounds=${1:-$([[ $mode == big ]] && echo 3 || echo 5)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "machine: $(nproc) cores, $(java -version 2>&1 | head -1), load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u '+%F %H:%M') UTC"

declare -A cmd
if [[ $mode == startup ]]; then
  spec=$(java -jar target/ocirender.jar sample "$work/sample")
  bin/ocirender --version >/dev/null # makes the archive, once per build, outside the timing
  cmd[floor]="java -version"
  cmd[whole-jar]="java -jar target/ocirender.jar render $spec --output $work/out.tar"
  cmd[launcher]="bin/ocirender render $spec --output $work/out.tar"
  cmd[launcher-c1]="env OCIRENDER_JAVA_OPTS=-XX:TieredStopAtLevel=1 bin/ocirender render $spec --output $work/out.tar"
  variants=(floor whole-jar launcher launcher-c1)
else
  bin/ocirender --version >/dev/null
  cmd[launcher-c1]="env OCIRENDER_JAVA_OPTS=-XX:TieredStopAtLevel=1 bin/ocirender render $image --output $work/out.tar"
  cmd[launcher-c2]="bin/ocirender render $image --output $work/out.tar"
  cmd[whole-jar]="java -jar target/ocirender.jar render $image --output $work/out.tar"
  variants=(launcher-c1 launcher-c2 whole-jar)
fi

for round in $(seq 0 "$rounds"); do
  for v in "${variants[@]}"; do
    rm -f "$work/out.tar"
    # shellcheck disable=SC2086 # the command strings are split on purpose
    /usr/bin/time -f "$v $round %e %U %S %M" -a -o "$work/times" ${cmd[$v]} >/dev/null 2>"$work/err" \
      || { cat "$work/err" >&2; exit 1; }
  done
done

median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
printf '%-12s %10s %10s %10s  %s\n' variant wall_med cpu_med rss_MB "wall per round (s)"
declare -A wall
for v in "${variants[@]}"; do
  rows=$(awk -v v="$v" '$1 == v && $2 > 0' "$work/times")
  wall[$v]=$(awk '{print $3}' <<<"$rows" | median)
  cpu=$(awk '{print $4 + $5}' <<<"$rows" | median)
  rss=$(awk '{print $6 / 1024}' <<<"$rows" | median)
  printf '%-12s %10s %10s %10.0f  %s\n' "$v" "${wall[$v]}" "$cpu" "$rss" "$(awk '{printf "%s ", $3}' <<<"$rows")"
done
if [[ $mode == startup ]]; then
  awk -v a="${wall[launcher]}" -v b="${wall[whole-jar]}" -v f="${wall[floor]}" \
    'BEGIN {printf "launcher / whole jar: %.3f; launcher above the JVM floor: %.3f s\n", a / b, a - f}'
else
  awk -v a="${wall[launcher-c1]}" -v b="${wall[launcher-c2]}" 'BEGIN {printf "C1 only / default tiered: %.3f\n", a / b}'
fi
