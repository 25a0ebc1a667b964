#!/usr/bin/env bash
# Squashfs writer benchmark (BENCHMARKS.md): ours vs tar2sqfs and mksquashfs on the same merged tar
# (>1 GB, synthetic image, seed 42), zstd level 3, 128 KiB blocks, alternating, ROUNDS rounds after
# one warm-up; wall time, CPU time (user, sys), output size and peak RSS from /usr/bin/time -v,
# then medians and ratios against tar2sqfs. Last, ours with a warm JVM: 4 writes in one JVM, as a
# pipeline worker runs it from its second image on.
# With BEFORE=DIR (compiled main classes of an earlier commit) that build runs too, as "before".
# Usage: [BEFORE=DIR] scripts/bench-squashfs.sh [WORKDIR] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-target/bench-squashfs}
rounds=${2:-3}
mkdir -p "$work"
mvn -q -o -DskipTests test-compile 2>/dev/null || mvn -q -DskipTests test-compile
mvn -q -o dependency:build-classpath -Dmdep.outputFile=target/bench.classpath >/dev/null 2>&1 \
  || mvn -q dependency:build-classpath -Dmdep.outputFile=target/bench.classpath >/dev/null
cp="target/classes:target/test-classes:$(cat target/bench.classpath)"
echo "machine: $(nproc) cores, $(java -version 2>&1 | head -1), $(date -u +%F)"
java -Xmx1g -cp "$cp" dev.ocirender.bench.SquashfsBenchmark prepare "$work"
tar="$work/merged.tar"
run() { # name, command...
  local name=$1; shift
  rm -f "$work/$name.sqfs"
  /usr/bin/time -v -o "$work/$name.time" "$@" > "$work/$name.out" 2>&1
  local wall user sys rss size
  wall=$(grep 'Elapsed (wall' "$work/$name.time" | awk '{print $NF}')
  user=$(grep 'User time' "$work/$name.time" | awk '{print $NF}')
  sys=$(grep 'System time' "$work/$name.time" | awk '{print $NF}')
  rss=$(grep 'Maximum resident' "$work/$name.time" | awk '{print $NF}')
  size=$(stat -c %s "$work/$name.sqfs")
  echo "$name wall=$wall user=$user sys=$sys maxrss_kb=$rss size=$size $(grep -h '^ours' "$work/$name.out" || true)"
  [[ $round == 0 ]] || echo "$name $wall $user $sys" >> "$work/rounds.txt"
}
rm -f "$work/rounds.txt"
for round in $(seq 0 "$rounds"); do
  [[ $round == 0 ]] && echo "--- warm-up" || echo "--- round $round"
  if [[ -n ${BEFORE:-} ]]; then
    run before java -Xmx512m -cp "$BEFORE:${cp#target/classes:}" dev.ocirender.bench.SquashfsBenchmark write "$tar" "$work/before.sqfs"
  fi
  run ours java -Xmx512m -cp "$cp" dev.ocirender.bench.SquashfsBenchmark write "$tar" "$work/ours.sqfs"
  run tar2sqfs bash -c "tar2sqfs -q -f -j 2 -c zstd -X level=3 '$work/tar2sqfs.sqfs' < '$tar'"
  run mksquashfs bash -c "mksquashfs - '$work/mksquashfs.sqfs' -tar -quiet -no-progress -noappend -comp zstd -Xcompression-level 3 < '$tar'"
done
echo "--- medians of $rounds rounds (wall = m:ss.ss)"
python3 - "$work/rounds.txt" <<'PY'
import collections, statistics, sys
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    name, wall, user, sys_ = line.split()
    m, s = wall.split(':') if ':' in wall else ('0', wall)
    runs[name].append((int(m) * 60 + float(s), float(user) + float(sys_)))
med = {n: (statistics.median(w for w, _ in r), statistics.median(c for _, c in r)) for n, r in runs.items()}
for n, (w, c) in med.items():
    print(f"{n:10s} wall {w:6.2f} s  cpu {c:6.2f} s  wall/tar2sqfs {w / med['tar2sqfs'][0]:.3f}  cpu/tar2sqfs {c / med['tar2sqfs'][1]:.3f}")
PY
echo "--- ours, warm JVM (4 writes in one JVM)"
java -Xmx512m -cp "$cp" dev.ocirender.bench.SquashfsBenchmark write "$tar" "$work/ours.sqfs" 4
