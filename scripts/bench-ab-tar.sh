#!/usr/bin/env bash
# A/B of builds on issue 14 goal 1: `bin/ocirender render --format tar` of the real-file image,
# alternating with the JDK gunzip reference (dev.ocirender.bench.GunzipBlobs) in every round, one
# warm-up round (round 0, also where each jar directory's CDS archive is made), then ROUNDS rounds;
# medians of wall, CPU (user+sys) and sys, and each variant's wall over the reference's. Outputs are
# compared with cmp against the first variant's.
#
#   scripts/bench-ab-tar.sh ROUNDS WORKDIR NAME=JARDIR[:JAVA-OPTIONS] ...
#
# WORKDIR holds the image as WORKDIR/real (scripts/bench-image.sh); outputs and logs go to
# WORKDIR/ab. JARDIR holds ocirender.jar and ocirender-cli.jar (a copy of target/ per build); the
# options are added to OCIRENDER_JAVA_OPTS=-Xmx256m. Example (BENCHMARKS.md, session 8, h-tarpath):
#   scripts/bench-ab-tar.sh 5 target/bench-image base=/tmp/main-jars final=target \
#     old-stream=target:-Docirender.directWrite=false
set -uo pipefail
cd "$(dirname "$0")/.."
rounds=$1 work=$2
shift 2
img=$work/real out=$work/ab
mkdir -p "$out"
[[ -f target/test-classes/dev/ocirender/bench/GunzipBlobs.class ]] || mvn -q -o -DskipTests test-compile
read -ra blobs < <(python3 - "$img" <<'PY'
import json, sys
d = sys.argv[1]
m = json.load(open(d + "/index.json"))["manifests"][0]["digest"].split(":")[1]
man = json.load(open(d + "/blobs/sha256/" + m))
print(" ".join(d + "/blobs/sha256/" + l["digest"].split(":")[1] for l in man["layers"]))
PY
)
log=$out/rounds.txt
: > "$log"
run() { # NAME COMMAND...
  local name=$1
  shift
  rm -f "$out/$name.tar"
  sync
  if ! /usr/bin/time -f "%e %U %S %M" -o "$out/time" "$@" > "$out/$name.log" 2>&1; then
    echo "$round $name FAILED: $(tail -1 "$out/$name.log")"
    return
  fi
  read -r w u s m < "$out/time"
  echo "$round $name wall=$w cpu=$(python3 -c "print(round($u+$s,2))") user=$u sys=$s rss=$((m / 1024)) load=$(cut -d' ' -f1 /proc/loadavg)" | tee -a "$log"
}
for round in $(seq 0 "$rounds"); do
  run ref java -cp target/test-classes dev.ocirender.bench.GunzipBlobs "${blobs[@]}"
  for spec in "$@"; do
    name=${spec%%=*} rest=${spec#*=}
    dir=${rest%%:*} opts=""
    [[ $rest == *:* ]] && opts=${rest#*:}
    run "$name" env OCIRENDER_JAVA_OPTS="-Xmx256m $opts" OCIRENDER_JARS="$dir" bin/ocirender render "oci:$img:latest" \
      --format tar --output "$out/$name.tar"
  done
done
first=""
for spec in "$@"; do
  name=${spec%%=*}
  if [[ -z $first ]]; then
    first=$name
  else
    cmp "$out/$first.tar" "$out/$name.tar" && echo "$name: output identical to $first's"
  fi
done
python3 - "$log" <<'PY'
import collections, statistics, sys
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    f = line.split()
    if f[0] == '0':
        continue
    d = dict(x.split('=') for x in f[2:])
    runs[f[1]].append((float(d['wall']), float(d['cpu']), float(d['sys']), float(d['load'])))
ref = statistics.median(x[0] for x in runs['ref'])
for n, v in runs.items():
    w, c, s = (statistics.median(x[i] for x in v) for i in range(3))
    print(f"{n:14s} n={len(v)} wall {w:6.2f} cpu {c:6.2f} sys {s:5.2f} wall/ref {w / ref:.3f} "
          f"load {min(x[3] for x in v):.1f}-{max(x[3] for x in v):.1f}")
PY
