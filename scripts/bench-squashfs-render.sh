#!/usr/bin/env bash
# End-to-end squashfs render (BENCHMARKS.md): `render --format squashfs` of the squashfs benchmark's
# synthetic image (4 gzip layers, 1 GB; made by scripts/bench-squashfs.sh in WORKDIR/image) with
# the built-in writer, against the same command with --squashfs-tool tar2sqfs and mksquashfs (the
# merged tar piped into them). Alternating, one warm-up round, then ROUNDS rounds; medians.
# Usage: scripts/bench-squashfs-render.sh [WORKDIR] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-target/bench-squashfs}
rounds=${2:-3}
[[ -f target/ocirender.jar ]] || mvn -q -o -DskipTests package
if [[ ! -d $work/image ]]; then
  mvn -q -o -DskipTests test-compile
  mvn -q -o dependency:build-classpath -Dmdep.outputFile=target/bench.classpath >/dev/null
  java -Xmx1g -cp "target/classes:target/test-classes:$(cat target/bench.classpath)" dev.ocirender.bench.SquashfsBenchmark prepare "$work"
fi
echo "machine: $(nproc) cores, $(java -version 2>&1 | head -1), $(date -u +%F)"
rm -f "$work/render-rounds.txt"
for round in $(seq 0 "$rounds"); do
  for backend in builtin tar2sqfs mksquashfs; do
    extra=()
    [[ $backend == builtin ]] || extra=(--squashfs-tool "$backend")
    rm -f "$work/render-$backend.sqfs"
    /usr/bin/time -f "%e %U %S %M" -o "$work/render-$backend.time" \
      java -jar target/ocirender.jar render "oci:$work/image:latest" --format squashfs "${extra[@]}" \
      --output "$work/render-$backend.sqfs" > /dev/null 2> "$work/render-$backend.log"
    read -r wall user sys rss < "$work/render-$backend.time"
    echo "round $round $backend wall=$wall user=$user sys=$sys maxrss_kb=$rss size=$(stat -c %s "$work/render-$backend.sqfs")"
    [[ $round == 0 ]] || echo "$backend $wall $user $sys" >> "$work/render-rounds.txt"
  done
done
python3 - "$work/render-rounds.txt" <<'PY'
import collections, statistics, sys
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    name, wall, user, sys_ = line.split()
    runs[name].append((float(wall), float(user) + float(sys_)))
med = {n: (statistics.median(w for w, _ in r), statistics.median(c for _, c in r)) for n, r in runs.items()}
for n, (w, c) in med.items():
    print(f"{n:10s} wall {w:6.2f} s  cpu {c:6.2f} s  wall/builtin {w / med['builtin'][0]:.3f}")
PY
