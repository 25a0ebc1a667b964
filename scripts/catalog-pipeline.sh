#!/usr/bin/env bash
# The project's main job: render a catalog of images with the Beam pipeline, with the runner profile
# pipelines/catalog-render/runners/PROFILE.args, through
#   bin/ocirender pipeline --catalog=… --outputPrefix=… --resultsPrefix=… [profile] [options]
# (target/ocirender.jar with bin/ocirender's JVM flags and class-data sharing archive, which the first
# run after a build makes: README, Command line)
#
# Without --catalog among the options it runs the local example: it writes the sample images that
# pipelines/catalog-render/catalogs/local-example.jsonl names (the built-in sample, three variants
# sharing its base layers, and a copy that the pipeline de-duplicates), renders them under
# target/pipeline-example and shows the result records. Running it again skips what is rendered.
#
# Usage: scripts/catalog-pipeline.sh [PROFILE] [--no-build] [--dry-run] [BEAM OPTION...]
#   PROFILE   direct (default; in process), flink (in-process Flink mini-cluster),
#             flink-cluster (needs --flinkMaster=HOST:PORT), dataflow (needs --project, --tempLocation
#             and a gs:// --catalog, --outputPrefix and --resultsPrefix)
#   --dry-run build and validate the job for its runner, print its parameters, run nothing
set -euo pipefail
cd "$(dirname "$0")/.."

profile=direct
if [[ $# -gt 0 && $1 != -* ]]; then
  profile=$1
  shift
fi
build=1
cli=()
options=()
for a in "$@"; do
  case $a in
    --no-build) build=0 ;;
    --dry-run) cli+=("$a") ;;
    *) options+=("$a") ;;
  esac
done
profile_file=pipelines/catalog-render/runners/$profile.args
[[ -f $profile_file ]] || { echo "no runner profile $profile_file" >&2; exit 2; }
has() { [[ " ${options[*]} " == *" $1"* ]]; }
if [[ $profile == flink-cluster ]] && ! has --flinkMaster=; then
  echo "the flink-cluster profile needs --flinkMaster=HOST:PORT (the JobManager's REST address)" >&2
  exit 2
fi
if [[ $profile == dataflow ]] && ! has --catalog=; then
  echo "the dataflow profile needs gs:// --catalog, --outputPrefix and --resultsPrefix (the local example cannot run there)" >&2
  exit 2
fi

if [[ $build -eq 1 ]]; then
  mvn -B -q -DskipTests package
fi
jar=target/ocirender.jar
mapfile -t profile_options < <(grep -v '^\s*#' "$profile_file" | sed '/^\s*$/d')
# An option given on the command line replaces the profile's option of the same name (Beam refuses
# an option given twice: "expected one element but was: <8, 16>").
runner=()
for p in "${profile_options[@]}"; do
  has "${p%%=*}=" || has "${p%%=*} " || runner+=("$p")
done

if has --catalog=; then
  exec bin/ocirender pipeline "${cli[@]}" "${runner[@]}" "${options[@]}"
fi

work=target/pipeline-example
mkdir -p "$work/images"
if [[ ! -f "$work/images/sample/index.json" ]]; then
  java -jar "$jar" sample "$work/images/sample" >/dev/null
  java -jar "$jar" sample "$work/images/sample-copy" >/dev/null
  for n in 1 2 3; do
    java -jar "$jar" sample --variant "$n" "$work/images/variant-$n" >/dev/null
  done
fi

# The example names its images and outputs relative to the repository root; TaskManagers of a cluster
# run elsewhere, so the job gets a copy with absolute paths.
catalog="$work/local-example.jsonl"
sed "s|target/pipeline-example/|$PWD/$work/|g" pipelines/catalog-render/catalogs/local-example.jsonl >"$catalog"
run="$work/results/$(date -u +%Y%m%dT%H%M%SZ)-$profile"
bin/ocirender pipeline "${cli[@]}" \
  --catalog="$catalog" \
  --outputPrefix="$work/outputs" \
  --resultsPrefix="$run/" \
  "${runner[@]}" "${options[@]}"
if [[ " ${cli[*]} " == *" --dry-run "* ]]; then
  exit 0
fi

echo "--- results ($run)"
cat "$run"/results-*.jsonl
dead=$(cat "$run"/dead-letters-*.jsonl 2>/dev/null || true)
if [[ -n $dead ]]; then
  echo "--- dead letters"
  echo "$dead"
fi
echo "--- outputs"
ls -l "$work/outputs" "$work/outputs/named"
