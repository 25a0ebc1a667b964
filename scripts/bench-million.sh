#!/usr/bin/env bash
# Merge metadata per entry (issue #14 goal 4, BENCHMARKS.md): `render --format tar` of the
# million-entry layer (scripts/bench-image.sh DIR million: 1 000 directories of 999 files of 0-99
# bytes) as the CLI process, at a small -Xmx (default 150m, about 150 bytes per entry). While it
# runs, a class histogram is taken every few seconds (jcmd GC.class_histogram runs a full GC first,
# so each total is the live heap); the largest total over the entries is the heap per entry.
# For context, the same run times tar2sqfs on the rendered tar and prints its peak RSS.
# Usage: scripts/bench-million.sh [IMAGE_DIR] [XMX] [FORMAT]
#   IMAGE_DIR  directory holding the `million` OCI layout (default target/bench-image; built if missing)
#   XMX        the JVM heap limit (default 150m)
#   FORMAT     tar (default) or squashfs
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-target/bench-image}
xmx=${2:-150m}
format=${3:-tar}
[[ -f target/ocirender-cli.jar ]] || mvn -q -o -DskipTests package
[[ -d $dir/million ]] || scripts/bench-image.sh "$dir" million
work=$(mktemp -d "${TMPDIR:-/tmp}/bench-million.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(java -version 2>&1 | head -1), $(date -u +%F)"

/usr/bin/time -f "%e %U %S %M" -o "$work/time" \
  java "-Xmx$xmx" -XX:+UseG1GC -jar target/ocirender-cli.jar render "oci:$dir/million:latest" \
  --format "$format" --output "$work/out.$format" > "$work/log" 2>&1 &
pid=$!
# The java process is the child of time.
sleep 1
jvm=$(pgrep -P "$pid" java || true)
max=0
while kill -0 "$pid" 2>/dev/null; do
  if [[ -n $jvm ]]; then
    live=$(jcmd "$jvm" GC.class_histogram 2>/dev/null | awk '/^Total/ {print $3}')
    [[ -n $live && $live -gt $max ]] && max=$live
  fi
  sleep 2
done
status=0
wait "$pid" || status=$?
cat "$work/log" | tail -1
if [[ $status != 0 ]]; then
  echo "render at -Xmx$xmx FAILED (exit $status)"
  exit 1
fi
read -r wall user sys rss < "$work/time"
entries=$(grep -o '[0-9]* entries' "$work/log" | head -1 | cut -d' ' -f1)
echo "ocirender $format -Xmx$xmx: wall $wall s, cpu $(echo "$user + $sys" | bc) s, peak RSS $((rss / 1024)) MB," \
  "max live heap $((max / 1048576)) MB = $((max / entries)) bytes per entry ($entries entries)"

if [[ $format == tar ]] && command -v tar2sqfs > /dev/null; then
  /usr/bin/time -f "%e %U %S %M" -o "$work/time2" tar2sqfs -q -f -j 2 -c zstd -X level=3 "$work/ref.sqfs" \
    < "$work/out.tar" > /dev/null 2>&1
  read -r wall2 user2 sys2 rss2 < "$work/time2"
  echo "tar2sqfs on the same tar: wall $wall2 s, cpu $(echo "$user2 + $sys2" | bc) s, peak RSS $((rss2 / 1024)) MB" \
    "= $((rss2 * 1024 / entries)) bytes per entry; ocirender heap / tar2sqfs RSS = $(echo "scale=2; $max / ($rss2 * 1024)" | bc)"
fi
