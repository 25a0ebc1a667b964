#!/usr/bin/env bash
# Squashfs block store benchmark (BENCHMARKS.md, issue #15), in process: a JDK-sized image written to
# squashfs with no store, a cold store and a warm one, and a second image sharing the JDK base layer
# written warm from the first one's store; every output compared byte for byte with the no-store one.
# Usage: scripts/bench-blockstore.sh [WORKDIR] [ROUNDS] [JDK_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-target/bench-blockstore}
rounds=${2:-3}
jdk=${3:-$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")}
mvn -q -o -DskipTests test-compile 2>/dev/null || mvn -q -DskipTests test-compile
mvn -q -o dependency:build-classpath -Dmdep.outputFile=target/bench.classpath >/dev/null 2>&1 \
  || mvn -q dependency:build-classpath -Dmdep.outputFile=target/bench.classpath >/dev/null
java -Xmx1g -cp "target/classes:target/test-classes:$(cat target/bench.classpath)" \
  dev.ocirender.bench.BlockStoreBenchmark "$work" "$rounds" "$jdk"
