#!/usr/bin/env bash
# Runs the engine benchmarks (see BENCHMARKS.md): render speed against plain gzip decoding,
# --format dir against `umoci raw unpack` (needs umoci; run as root), peak heap while a 300 MB
# whited-out tree streams past under -Xmx256m, and "registry": pulling the speed image from a
# loopback docker-registry (needs docker-registry, skopeo) against rendering its oci: layout.
# "verify": ocirender verify of a >1 GB squashfs (made by mksquashfs) against its image vs unsquashfs -d plus a
# directory walk (run as root).
# Usage: scripts/bench.sh [speed|dir|heap|registry|verify|all] [WORKDIR]   (WORKDIR keeps the generated images; default target/bench)
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
work=${2:-target/bench}
mkdir -p "$work"
mvn -q -o -DskipTests test-compile 2>/dev/null || mvn -q -DskipTests test-compile
mvn -q -o dependency:build-classpath -Dmdep.outputFile=target/bench.classpath >/dev/null 2>&1 \
  || mvn -q dependency:build-classpath -Dmdep.outputFile=target/bench.classpath >/dev/null
cp="target/classes:target/test-classes:$(cat target/bench.classpath)"
echo "machine: $(nproc) cores, $(java -version 2>&1 | head -1), $(date -u +%F)"
if [[ $what == speed || $what == all ]]; then
  java -Xmx1g -cp "$cp" dev.ocirender.bench.RenderBenchmark speed "$work"
fi
if [[ $what == dir || $what == all ]]; then
  java -Xmx1g -cp "$cp" dev.ocirender.bench.RenderBenchmark dir "$work"
fi
if [[ $what == heap || $what == all ]]; then
  java -Xmx256m -cp "$cp" dev.ocirender.bench.RenderBenchmark heap "$work"
fi
if [[ $what == verify ]]; then
  java -Xmx2g -cp "$cp" dev.ocirender.bench.VerifyBenchmark "$work"
fi
if [[ $what == registry ]]; then
  java -Xmx1g -cp "$cp" dev.ocirender.bench.RegistryBenchmark "$work"
fi
