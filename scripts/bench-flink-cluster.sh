#!/usr/bin/env bash
# The catalog benchmark of scripts/bench-pipeline.sh (N sample variants sharing their base layers,
# rendered to tar) on a real Flink session cluster (scripts/flink-local-cluster.sh: JobManager + two
# TaskManagers with two slots each, separate JVMs on this machine; flink-cluster profile, parallelism
# 4), next to DirectRunner and the CLI one image at a time, in the same run. Reports wall time,
# images/minute and the peak resident memory (VmHWM) of each JVM. One round each after a warm-up:
# the cluster run includes uploading the shaded jar and Flink's scheduling, as a user would see it.
# Usage: scripts/bench-flink-cluster.sh [N=24] [WORKDIR=target/bench-flink] (needs target/ocirender.jar)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-24}
work=${2:-target/bench-flink}
jar=target/ocirender.jar
mkdir -p "$work/images"
catalog="$PWD/$work/catalog.jsonl"
: > "$catalog"
for i in $(seq 1 "$n"); do
  [[ -f "$work/images/variant-$i/index.json" ]] || java -jar "$jar" sample --variant "$i" "$work/images/variant-$i" >/dev/null
  echo "oci:$PWD/$work/images/variant-$i:latest" >> "$catalog"
done
scripts/flink-local-cluster.sh stop >/dev/null 2>&1 || true
master=$(scripts/flink-local-cluster.sh start | tail -1)
trap 'scripts/flink-local-cluster.sh stop >/dev/null' EXIT
now() { date +%s.%N; }
peak() { grep VmHWM "/proc/$1/status" | awk '{printf "%.0f MB", $2/1024}'; }
rendered() { cat "$1"/results-*.jsonl | grep -c '"status":"rendered"' || true; }
run() { # $1: name, rest: command; prints "seconds maxrss_kb"
  local name=$1; shift
  local t0; t0=$(now)
  /usr/bin/time -f "%M" -o "$work/$name.rss" "$@" >"$work/$name.log" 2>&1
  local t1; t1=$(now)
  echo "$(echo "$t1 - $t0" | bc) $(cat "$work/$name.rss")"
}
flink() {
  rm -rf "$work/flink-out" "$work/flink-res"
  run flink scripts/catalog-pipeline.sh flink-cluster --no-build --flinkMaster="$master" --parallelism=4 \
    --catalog="$catalog" --outputPrefix="$PWD/$work/flink-out" --resultsPrefix="$PWD/$work/flink-res/"
}
direct() {
  rm -rf "$work/direct-out" "$work/direct-res"
  run direct java -jar "$jar" pipeline --runner=DirectRunner --targetParallelism=2 --catalog="$catalog" \
    --outputPrefix="$work/direct-out" --resultsPrefix="$work/direct-res/"
}
cli() {
  rm -rf "$work/cli-out"; mkdir -p "$work/cli-out"
  local t0; t0=$(now); local max=0
  for i in $(seq 1 "$n"); do
    /usr/bin/time -f "%M" -o "$work/cli.rss" java -jar "$jar" render "oci:$work/images/variant-$i:latest" \
      --output "$work/cli-out/variant-$i.tar" >/dev/null 2>&1
    max=$(( $(cat "$work/cli.rss") > max ? $(cat "$work/cli.rss") : max ))
  done
  local t1; t1=$(now)
  echo "$(echo "$t1 - $t0" | bc) $max"
}
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(java -version 2>&1 | head -1), $(date -u +%F)"
echo "input: $n images; cluster at $master"
flink >/dev/null; direct >/dev/null   # warm-up (page cache, jar upload path)
read -r ft frss < <(flink); [[ $(rendered "$work/flink-res") -eq $n ]] || { echo "flink: not all rendered" >&2; exit 1; }
read -r dt drss < <(direct); [[ $(rendered "$work/direct-res") -eq $n ]] || { echo "direct: not all rendered" >&2; exit 1; }
read -r ct crss < <(cli)
for i in $(seq 1 "$n"); do
  cmp -s "$(ls "$work"/flink-out/*variant-"$i"_latest-*.tar)" "$work/cli-out/variant-$i.tar" || { echo "variant-$i differs" >&2; exit 1; }
done
echo "outputs: all $n cluster tars equal the CLI's byte for byte"
d=target/flink-local-cluster
awk -v n="$n" -v f="$ft" -v d="$dt" -v c="$ct" 'BEGIN {
  printf "Flink cluster (parallelism 4): %.1f s, %.1f images/min\n", f, n * 60 / f
  printf "DirectRunner:                  %.1f s, %.1f images/min\n", d, n * 60 / d
  printf "CLI, a JVM per image:          %.1f s, %.1f images/min\n", c, n * 60 / c
}'
echo "peak RSS: submitter $((frss / 1024)) MB, JobManager $(peak "$(cat $d/jobmanager.pid)"), TaskManager 0 $(peak "$(cat $d/taskmanager-0.pid)"), TaskManager 1 $(peak "$(cat $d/taskmanager-1.pid)"), DirectRunner $((drss / 1024)) MB, CLI (largest) $((crss / 1024)) MB"
