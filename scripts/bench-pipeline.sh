#!/usr/bin/env bash
# Catalog pipeline throughput (see BENCHMARKS.md): images per minute for a catalog of N sample
# variants that share their base layers (`ocirender sample --variant i`), rendered to tar by the Beam
# pipeline on DirectRunner (one JVM, `pipelines/catalog-render/runners/direct.args`), against rendering the same
# images one by one with the CLI (`java -jar … render`, a JVM per image, as a user would). Both are
# wall-clock times including JVM start, alternated in one run, medians of ROUNDS rounds after a
# warm-up round; every pipeline output is checked against the CLI's (cmp) in the first round.
# Takes about 2.5 min per round on 2 cores (most of it the CLI's 24 JVM starts).
# Usage: scripts/bench-pipeline.sh [N=24] [ROUNDS=3] [WORKDIR=target/bench-pipeline] [--no-build]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-24}
rounds=${2:-3}
work=${3:-target/bench-pipeline}
if [[ "${4:-}" != "--no-build" ]]; then
  mvn -B -q -o -DskipTests package 2>/dev/null || mvn -B -q -DskipTests package
fi
jar=target/ocirender.jar
mkdir -p "$work/images"
catalog="$work/catalog.jsonl"
: > "$catalog"
for i in $(seq 1 "$n"); do
  if [[ ! -f "$work/images/variant-$i/index.json" ]]; then
    java -jar "$jar" sample --variant "$i" "$work/images/variant-$i" >/dev/null
  fi
  echo "oci:$work/images/variant-$i:latest" >> "$catalog"
done
mapfile -t runner < <(grep -v '^\s*#' pipelines/catalog-render/runners/direct.args | sed '/^\s*$/d')

now() { date +%s.%N; }
pipeline_run() {  # $1: round; prints seconds
  rm -rf "$work/pipe-out" "$work/pipe-results"
  local t0; t0=$(now)
  java -jar "$jar" pipeline --catalog="$catalog" --outputPrefix="$work/pipe-out" \
    --resultsPrefix="$work/pipe-results/" "${runner[@]}" >"$work/pipeline.log" 2>&1
  local t1; t1=$(now)
  local rendered; rendered=$(cat "$work"/pipe-results/results-*.jsonl | grep -c '"status":"rendered"' || true)
  if [[ $rendered -ne $n ]]; then
    echo "pipeline rendered $rendered of $n images; see $work/pipeline.log" >&2; exit 1
  fi
  echo "$t1 - $t0" | bc
}
cli_run() {  # prints seconds
  rm -rf "$work/cli-out"; mkdir -p "$work/cli-out"
  local t0; t0=$(now)
  for i in $(seq 1 "$n"); do
    java -jar "$jar" render "oci:$work/images/variant-$i:latest" --output "$work/cli-out/variant-$i.tar" >/dev/null 2>&1
  done
  local t1; t1=$(now)
  echo "$t1 - $t0" | bc
}
check_equal() {
  for i in $(seq 1 "$n"); do
    local piped; piped=$(ls "$work"/pipe-out/*variant-"$i"_latest-*.tar)
    cmp -s "$piped" "$work/cli-out/variant-$i.tar" || { echo "variant-$i: pipeline output differs from the CLI's" >&2; exit 1; }
  done
  echo "outputs: all $n pipeline tars equal the CLI's byte for byte"
}

echo "machine: $(nproc) cores, $(java -version 2>&1 | head -1), $(date -u +%F)"
echo "input: $n images, $(du -sh "$work/images" | cut -f1) of layouts; runner: ${runner[*]}"
pipeline_run 0 >/dev/null; cli_run >/dev/null; check_equal   # warm-up (page cache, jar) and correctness
p=(); c=()
for r in $(seq 1 "$rounds"); do
  p+=("$(pipeline_run "$r")"); c+=("$(cli_run)")
  echo "round $r: pipeline ${p[-1]} s, CLI one by one ${c[-1]} s"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
pm=$(median "${p[@]}"); cm=$(median "${c[@]}")
awk -v n="$n" -v p="$pm" -v c="$cm" 'BEGIN {
  printf "pipeline (DirectRunner): %.2f s, %.1f images/min\n", p, n * 60 / p
  printf "CLI, a JVM per image:    %.2f s, %.1f images/min\n", c, n * 60 / c
  printf "ratio (pipeline images/min / CLI images/min): %.2f\n", c / p
}'
