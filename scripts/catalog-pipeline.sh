#!/usr/bin/env bash
# The project's main job: render a catalog of images with the Beam pipeline. Builds the jar, writes
# the sample images that pipelines/catalogs/local-example.jsonl names (the built-in sample, three
# variants sharing its base layers, and a copy that the pipeline de-duplicates), then runs
#   java -jar target/ocirender.jar pipeline --catalog=… --outputPrefix=… --resultsPrefix=…
# with the runner profile from pipelines/runners/PROFILE.args, and shows the result records.
# Running it again skips what is already rendered.
#
# Usage: scripts/catalog-pipeline.sh [direct|flink] [--no-build]
set -euo pipefail
cd "$(dirname "$0")/.."

profile=${1:-direct}
if [[ "${2:-}" != "--no-build" ]]; then
  mvn -B -q -DskipTests package
fi

jar=target/ocirender.jar
work=target/pipeline-example
mkdir -p "$work/images"
if [[ ! -f "$work/images/sample/index.json" ]]; then
  java -jar "$jar" sample "$work/images/sample" >/dev/null
  java -jar "$jar" sample "$work/images/sample-copy" >/dev/null
  for n in 1 2 3; do
    java -jar "$jar" sample --variant "$n" "$work/images/variant-$n" >/dev/null
  done
fi

mapfile -t runner < <(grep -v '^\s*#' "pipelines/runners/$profile.args" | sed '/^\s*$/d')
run="$work/results/$(date -u +%Y%m%dT%H%M%SZ)"
java -jar "$jar" pipeline \
  --catalog=pipelines/catalogs/local-example.jsonl \
  --outputPrefix="$work/outputs" \
  --resultsPrefix="$run/" \
  "${runner[@]}"

echo "--- results ($run)"
cat "$run"/results-*.jsonl
dead=$(cat "$run"/dead-letters-*.jsonl 2>/dev/null || true)
if [[ -n $dead ]]; then
  echo "--- dead letters"
  echo "$dead"
fi
echo "--- outputs"
ls -l "$work/outputs" "$work/outputs/named"
