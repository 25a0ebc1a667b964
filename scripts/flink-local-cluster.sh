#!/usr/bin/env bash
# A local Flink 1.19 standalone session cluster for trying the catalog job on a real cluster: one
# JobManager and two TaskManagers (two slots each) as separate JVMs on 127.0.0.1, started from the
# project's Maven dependencies with pipelines/catalog-render/flink/config.yaml, the way Flink's own
# bin/*.sh start them (the same harness the cluster tests use: src/test/java/.../testing/FlinkCluster).
#
# Usage: scripts/flink-local-cluster.sh start [TASKMANAGERS]   prints the REST address (HOST:PORT)
#        scripts/flink-local-cluster.sh stop
# Then: scripts/catalog-pipeline.sh flink-cluster --flinkMaster=$(cat target/flink-local-cluster/rest-address)
# Logs: target/flink-local-cluster/{jm,tm-N}/stderr.log. Ports are picked free at start.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=target/flink-local-cluster
cmd=${1:-}
classpath() {
  if [[ ! -f target/test-classes/dev/ocirender/testing/FlinkCluster.class || ! -f $dir.classpath ]]; then
    mvn -B -q test-compile dependency:build-classpath -Dmdep.outputFile="$dir.classpath" >&2
  fi
  echo "target/test-classes:$(cat "$dir.classpath")"
}
case $cmd in
  start)
    if [[ -f $dir/jobmanager.pid ]] && kill -0 "$(cat "$dir/jobmanager.pid")" 2>/dev/null; then
      echo "already running at $(cat "$dir/rest-address") (scripts/flink-local-cluster.sh stop first)" >&2
      exit 1
    fi
    rm -rf "$dir"
    mkdir -p target
    java -cp "$(classpath)" dev.ocirender.testing.FlinkCluster start "$dir" "${2:-2}"
    ;;
  stop)
    [[ -d $dir ]] || { echo "no local cluster in $dir" >&2; exit 0; }
    java -cp "$(classpath)" dev.ocirender.testing.FlinkCluster stop "$dir"
    echo "stopped"
    ;;
  *)
    echo "usage: scripts/flink-local-cluster.sh start [TASKMANAGERS] | stop" >&2
    exit 2
    ;;
esac
