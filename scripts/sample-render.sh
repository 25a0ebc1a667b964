#!/usr/bin/env bash
# The single-image demo (the main job is scripts/catalog-pipeline.sh): build the jar, write the built-in
# three-layer sample image (whiteouts, an opaque directory, hard links; gzip, zstd and plain
# layers) as an OCI layout, render it to one merged tar, and list the result.
#
# Usage: scripts/sample-render.sh [--no-build]
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ "${1:-}" != "--no-build" ]]; then
  mvn -B -q -DskipTests package
fi

layout=target/sample-image
output=target/sample.tar

rm -rf "$layout"
spec=$(bin/ocirender sample "$layout")
bin/ocirender inspect "$spec"
bin/ocirender render "$spec" --format tar --output "$output"
tar -tvf "$output"
