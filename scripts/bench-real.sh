#!/usr/bin/env bash
# Issue 14's end-to-end benchmarks (BENCHMARKS.md, "Real-file image"): the CLI as a fresh process
# (`java -Xmx256m -jar target/ocirender.jar render ...`, a real output file), alternating with a
# reference measured in the same run; one warm-up round, then ROUNDS rounds; medians; wall, CPU
# (user+sys) and peak RSS from /usr/bin/time.
#
#   tar       render --format tar of the real-file image, as the README runs the CLI
#             (`bin/ocirender`: the command-line jar, its CDS archive, later C2; OCIRENDER_JAVA_OPTS=-Xmx256m,
#             variant tar-cli), as `java -Xmx256m -jar target/ocirender.jar` (variant tar), and the jar
#             decoding ahead on two threads (-Docirender.decodeThreads=2: by default an image decodes
#             ahead only when a layer is slow to decode, i.e. not with ISA-L), against
#             dev.ocirender.bench.GunzipBlobs: the five blobs gunzipped one after the other
#             by java.util.zip.GZIPInputStream to nowhere. Goal: <= 0.75x. Gzip layers are decoded by
#             ISA-L when libisal2 is installed (`inspect` says which); JDK_INFLATER=1 adds a render
#             forced onto the JDK's inflater (-Docirender.inflater=jdk), and every tar run also times
#             the same single-threaded loop over ISA-L (gunzip-isal), the stricter reference.
#   squashfs  render --format squashfs (zstd 3) of the same image against
#             `tar2sqfs -j 2 -c zstd -X level=3` of the merged tar (rendered once, untimed).
#             Goal: at least 0.65 of tar2sqfs's speed, output within 2% of its size. squashfs-cli renders
#             as the README runs the CLI (bin/ocirender), the goal's variant; BASE_JAR=PATH adds
#             squashfs-cli-base (bin/ocirender with the jars beside PATH) in the same rounds;
#             SKIP_DECODE_AHEAD=1 leaves out squashfs-decode-ahead; DECODE_AHEAD_CLI=1 adds
#             squashfs-cli-decode-ahead (bin/ocirender with -Docirender.decodeThreads=2).
#   million   the 1 000 001-entry layer: render to tar and squashfs at -Xmx256m (and -Xmx384m if
#             that fails), against tar2sqfs of its merged tar (goal 4 rows: heap, size).
#   startup   render of the built-in sample image to tar (goal: < 0.5 s wall).
#   dir       render --format dir of the real-file image against `umoci raw unpack` of the same image
#             (goal 3: at least 2x faster), as root; before every run all directory outputs are
#             deleted and `sync` run. A third contestant renders through the writer's fallback
#             (-Docirender.dir.noNative=true: Java paths and tool processes, no direct Linux calls).
#             Then, untimed, one `strace -f -c` run of each counts syscalls and processes started.
#             dir-cli renders as the README runs the CLI (bin/ocirender). SINGLE_THREAD=1 adds the
#             writer on the merge thread (-Docirender.dir.writerThread=false, as before session 6).
#             DROP_CACHES=1 (a variant, NOT the issue's protocol) also runs `echo 3 > drop_caches`
#             after the sync before every run: on a journal-less ext4 that removes the kernel's cost
#             of skipping recently deleted inodes (BENCHMARKS.md, "dir speed, session 6").
#             BASE_JAR=PATH adds the same renders from another build (dir-base: java -jar PATH;
#             dir-cli-base: bin/ocirender with the jars beside PATH), alternating in the same rounds,
#             to compare two builds against one umoci reference; SKIP_FALLBACK=1 leaves out
#             dir-fallback. The render uses two writer threads unless -Docirender.dir.writerThreads=1.
#
# The images come from scripts/bench-image.sh (built into WORKDIR unless already there).
# RAW_SPILL=1 adds a tar variant with -Docirender.spill=raw (uncompressed frames on disk).
# Usage: scripts/bench-real.sh [tar|squashfs|million|startup|dir|all] [ROUNDS] [WORKDIR]
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
rounds=${2:-5}
work=${3:-target/bench-image}
jar=${OCIRENDER_JAR:-target/ocirender.jar}
[[ -f $jar && -f $(dirname "$jar")/ocirender-cli.jar ]] || mvn -q -o -DskipTests package
[[ -f target/test-classes/dev/ocirender/bench/GunzipBlobs.class ]] || mvn -q -o -DskipTests test-compile
# Build only the images this run uses.
[[ -d $work/real || $what == million || $what == startup ]] || scripts/bench-image.sh "$work" real
[[ -d $work/million || ($what != million && $what != all) ]] || scripts/bench-image.sh "$work" million
out=$work/out
mkdir -p "$out"
log=$out/rounds.txt
: > "$log"
echo "machine: $(nproc) cores, $(java -version 2>&1 | head -1), $(date -u '+%F %H:%M UTC'), load $(cut -d' ' -f1-3 /proc/loadavg)"

blobs() { # the layer blobs of an OCI layout, oldest first
  python3 - "$1" <<'PY'
import json, sys
d = sys.argv[1]
m = json.load(open(d + "/index.json"))["manifests"][0]["digest"].split(":")[1]
man = json.load(open(d + "/blobs/sha256/" + m))
print(" ".join(d + "/blobs/sha256/" + l["digest"].split(":")[1] for l in man["layers"]))
PY
}

# run NAME ROUND OUTPUT COMMAND...: times COMMAND (OUTPUT deleted before, untimed), logs a line.
run() {
  local name=$1 round=$2 output=$3
  shift 3
  rm -rf "$output"
  sync
  if /usr/bin/time -f "%e %U %S %M" -o "$out/time" "$@" > "$out/$name.log" 2>&1; then
    read -r wall user sys rss < "$out/time"
    local size=-
    [[ -f $output ]] && size=$(stat -c %s "$output")
    echo "round $round $name wall=$wall cpu=$(python3 -c "print(round($user+$sys,2))") user=$user sys=$sys maxrss_mb=$((rss / 1024)) size=$size load=$(cut -d' ' -f1 /proc/loadavg)"
    [[ $round == 0 ]] || echo "$name $wall $user $sys $rss $size" >> "$log"
  else
    echo "round $round $name FAILED: $(grep -v '^Command\|^$' "$out/$name.log" | tail -1)"
    echo "$name FAILED" >> "$log"
  fi
}

summary() { # summary REFERENCE: medians, and each variant's wall and CPU over the reference's
  python3 - "$log" "$1" <<'PY'
import collections, statistics, sys
runs, failed = collections.defaultdict(list), collections.Counter()
for line in open(sys.argv[1]):
    f = line.split()
    if f[1] == "FAILED":
        failed[f[0]] += 1
        continue
    runs[f[0]].append((float(f[1]), float(f[2]) + float(f[3]), int(f[4]) / 1024, f[5], float(f[3])))
ref = sys.argv[2]
med = {n: (statistics.median(r[0] for r in v), statistics.median(r[1] for r in v), max(r[2] for r in v), v[-1][3],
           statistics.median(r[4] for r in v))
       for n, v in runs.items()}
for n, (w, c, rss, size, sys_) in med.items():
    line = f"{n:22s} wall {w:7.2f} s  cpu {c:7.2f} s (sys {sys_:6.2f} s)  peak rss {rss:6.0f} MB  size {size}"
    if ref in med and n != ref:
        line += f"  wall/ref {w / med[ref][0]:.3f}  speed/ref {med[ref][0] / w:.3f}  cpu/ref {c / med[ref][1]:.3f}"
    print(line + (f"  ({failed[n]} failed)" if failed[n] else ""))
for n in failed:
    if n not in med:
        print(f"{n:22s} failed in every round")
PY
}

java_render=(java -Xmx256m -jar "$jar" render)

if [[ $what == tar || $what == all ]]; then
  : > "$log"
  read -ra real < <(blobs "$work/real")
  for round in $(seq 0 "$rounds"); do
    run gunzip-reference "$round" /nonexistent java -cp target/test-classes dev.ocirender.bench.GunzipBlobs "${real[@]}"
    run gunzip-isal "$round" /nonexistent java -Docirender.inflater=isal -cp "target/test-classes:$jar" \
      dev.ocirender.bench.GunzipBlobs "${real[@]}"
    run tar-cli "$round" "$out/real-cli.tar" env OCIRENDER_JAVA_OPTS=-Xmx256m OCIRENDER_JARS="$(dirname "$jar")" \
      bin/ocirender render "oci:$work/real:latest" --format tar --output "$out/real-cli.tar"
    run tar "$round" "$out/real.tar" "${java_render[@]}" "oci:$work/real:latest" --format tar --output "$out/real.tar"
    [[ -z ${RAW_SPILL:-} ]] || run tar-raw-spill "$round" "$out/real-raw.tar" java -Docirender.spill=raw -Docirender.decodeThreads=2 -Xmx256m \
      -jar "$jar" render "oci:$work/real:latest" --format tar --output "$out/real-raw.tar"
    [[ -z ${JDK_INFLATER:-} ]] || run tar-jdk-inflater "$round" "$out/real-jdk.tar" java -Docirender.inflater=jdk -Xmx256m \
      -jar "$jar" render "oci:$work/real:latest" --format tar --output "$out/real-jdk.tar"
    run tar-decode-ahead "$round" "$out/real-2.tar" java -Docirender.decodeThreads=2 -Xmx256m -jar "$jar" render \
      "oci:$work/real:latest" --format tar --output "$out/real-2.tar"
  done
  cmp "$out/real.tar" "$out/real-2.tar" && echo "tar outputs identical with and without decoding ahead"
  cmp "$out/real.tar" "$out/real-cli.tar" && echo "tar outputs identical from bin/ocirender and java -jar"
  [[ -z ${JDK_INFLATER:-} ]] || { cmp "$out/real.tar" "$out/real-jdk.tar" && echo "tar outputs identical with ISA-L and the JDK inflater"; }
  echo "gzip decoder of the render: $(java -jar "$jar" inspect --json "oci:$work/real:latest" | python3 -c 'import json,sys; print(json.load(sys.stdin)["gzipDecoder"])')"
  echo "== tar (reference: gunzip-reference)"
  summary gunzip-reference
  echo "== tar (reference: gunzip-isal, the same loop over ISA-L)"
  summary gunzip-isal
fi

if [[ $what == squashfs || $what == all ]]; then
  : > "$log"
  [[ -f $out/real.tar ]] || "${java_render[@]}" "oci:$work/real:latest" --format tar --output "$out/real.tar" 2> /dev/null
  for round in $(seq 0 "$rounds"); do
    run tar2sqfs "$round" "$out/real-tar2sqfs.sqfs" sh -c "tar2sqfs -q -j 2 -c zstd -X level=3 $out/real-tar2sqfs.sqfs < $out/real.tar"
    # As the README runs the CLI (bin/ocirender: command-line jar, CDS archive, later C2): the goal's variant.
    run squashfs-cli "$round" "$out/real-cli.sqfs" env OCIRENDER_JAVA_OPTS=-Xmx256m OCIRENDER_JARS="$(dirname "$jar")" \
      bin/ocirender render "oci:$work/real:latest" --format squashfs --output "$out/real-cli.sqfs"
    [[ -z ${BASE_JAR:-} ]] || run squashfs-cli-base "$round" "$out/real-cli-base.sqfs" env OCIRENDER_JAVA_OPTS=-Xmx256m \
      OCIRENDER_JARS="$(dirname "$BASE_JAR")" bin/ocirender render "oci:$work/real:latest" --format squashfs \
      --output "$out/real-cli-base.sqfs"
    [[ -z ${DECODE_AHEAD_CLI:-} ]] || run squashfs-cli-decode-ahead "$round" "$out/real-cli-2.sqfs" env \
      OCIRENDER_JAVA_OPTS="-Xmx256m -Docirender.decodeThreads=2" OCIRENDER_JARS="$(dirname "$jar")" bin/ocirender render \
      "oci:$work/real:latest" --format squashfs --output "$out/real-cli-2.sqfs"
    run squashfs "$round" "$out/real.sqfs" "${java_render[@]}" "oci:$work/real:latest" --format squashfs --output "$out/real.sqfs"
    [[ -n ${SKIP_DECODE_AHEAD:-} ]] || run squashfs-decode-ahead "$round" "$out/real-2.sqfs" java -Docirender.decodeThreads=2 \
      -Xmx256m -jar "$jar" render "oci:$work/real:latest" --format squashfs --output "$out/real-2.sqfs"
  done
  [[ -n ${SKIP_DECODE_AHEAD:-} ]] || { cmp "$out/real.sqfs" "$out/real-2.sqfs" && echo "squashfs outputs identical with and without decoding ahead"; }
  cmp "$out/real.sqfs" "$out/real-cli.sqfs" && echo "squashfs outputs identical from bin/ocirender and java -jar"
  [[ -z ${BASE_JAR:-} ]] || { cmp "$out/real.sqfs" "$out/real-cli-base.sqfs" && echo "squashfs outputs identical with the base build"; }
  [[ -z ${DECODE_AHEAD_CLI:-} ]] || { cmp "$out/real.sqfs" "$out/real-cli-2.sqfs" && echo "squashfs outputs identical from bin/ocirender decoding ahead"; }
  echo "== squashfs (reference: tar2sqfs)"
  summary tar2sqfs
fi

if [[ $what == million || $what == all ]]; then
  : > "$log"
  rm -f "$out/million.tar"
  java -Xmx1g -jar "$jar" render "oci:$work/million:latest" --format tar --output "$out/million.tar" 2> /dev/null
  for round in $(seq 0 "$rounds"); do
    run tar2sqfs-million "$round" "$out/million-tar2sqfs.sqfs" sh -c "tar2sqfs -q -j 2 -c zstd -X level=3 $out/million-tar2sqfs.sqfs < $out/million.tar"
    for heap in 256m 384m; do
      run "million-tar-$heap" "$round" "$out/million-$heap.tar" java "-Xmx$heap" -jar "$jar" render \
        "oci:$work/million:latest" --format tar --output "$out/million-$heap.tar"
      run "million-squashfs-$heap" "$round" "$out/million-$heap.sqfs" java "-Xmx$heap" -jar "$jar" render \
        "oci:$work/million:latest" --format squashfs --output "$out/million-$heap.sqfs"
    done
  done
  echo "== million-entry layer (reference: tar2sqfs-million)"
  summary tar2sqfs-million
fi

if [[ $what == startup || $what == all ]]; then
  : > "$log"
  rm -rf "$out/sample"
  spec=$(java -jar "$jar" sample "$out/sample")
  for round in $(seq 0 "$rounds"); do
    run startup-render "$round" "$out/sample.tar" java -jar "$jar" render "$spec" --output "$out/sample.tar"
    run startup-version "$round" /nonexistent java -jar "$jar" --version
  done
  echo "== start-up: render of the sample image (goal < 0.5 s), and --version"
  summary startup-version
fi

if [[ $what == dir || $what == all ]]; then
  [[ $(id -u) == 0 ]] || { echo "dir: run as root (umoci raw unpack and ocirender then both write owners and devices)" >&2; exit 1; }
  command -v umoci > /dev/null || { echo "dir: umoci is not installed" >&2; exit 1; }
  : > "$log"
  dirs=("$out/dir-umoci" "$out/dir-ocirender" "$out/dir-fallback" "$out/dir-cli" "$out/dir-single" "$out/dir-base" "$out/dir-cli-base")
  # dirrun NAME ROUND OUTPUT COMMAND...: every directory output deleted and synced first, then run.
  # DROP_CACHES=1 (a variant, not the issue's protocol) also empties the page cache after the sync.
  dirrun() {
    rm -rf "${dirs[@]}"
    if [[ -n ${DROP_CACHES:-} ]]; then
      sync
      echo 3 > /proc/sys/vm/drop_caches
    fi
    run "$@"
  }
  [[ -z ${DROP_CACHES:-} ]] || echo "DROP_CACHES=1: page cache emptied before every run (not the issue's protocol)"
  for round in $(seq 0 "$rounds"); do
    dirrun umoci "$round" "$out/dir-umoci" umoci raw unpack --image "$work/real:latest" "$out/dir-umoci"
    dirrun dir "$round" "$out/dir-ocirender" "${java_render[@]}" "oci:$work/real:latest" --format dir --output "$out/dir-ocirender"
    # SINGLE_THREAD=1: also the writer on the merge thread, as before session 6 (-Docirender.dir.writerThread=false).
    [[ -z ${SINGLE_THREAD:-} ]] || dirrun dir-single-thread "$round" "$out/dir-single" java -Docirender.dir.writerThread=false \
      -Xmx256m -jar "$jar" render "oci:$work/real:latest" --format dir --output "$out/dir-single"
    [[ -z ${BASE_JAR:-} ]] || dirrun dir-base "$round" "$out/dir-base" java -Xmx256m -jar "$BASE_JAR" render \
      "oci:$work/real:latest" --format dir --output "$out/dir-base"
    [[ -n ${SKIP_FALLBACK:-} ]] || dirrun dir-fallback "$round" "$out/dir-fallback" java -Docirender.dir.noNative=true -Xmx256m -jar "$jar" render \
      "oci:$work/real:latest" --format dir --output "$out/dir-fallback"
    # As the README runs the CLI (bin/ocirender: command-line jar, CDS archive, later C2).
    dirrun dir-cli "$round" "$out/dir-cli" env OCIRENDER_JAVA_OPTS=-Xmx256m OCIRENDER_JARS="$(dirname "$jar")" \
      bin/ocirender render "oci:$work/real:latest" --format dir --output "$out/dir-cli"
    [[ -z ${BASE_JAR:-} ]] || dirrun dir-cli-base "$round" "$out/dir-cli-base" env OCIRENDER_JAVA_OPTS=-Xmx256m \
      OCIRENDER_JARS="$(dirname "$BASE_JAR")" bin/ocirender render "oci:$work/real:latest" --format dir --output "$out/dir-cli-base"
  done
  echo "== dir (reference: umoci raw unpack; speed/ref is the goal-3 ratio, goal >= 2)"
  summary umoci
  if command -v strace > /dev/null; then
    echo "== syscalls of one untimed run each (strace -f -c; processes = execve calls)"
    for name in umoci dir dir-fallback; do
      rm -rf "${dirs[@]}"
      sync
      case $name in
        umoci) cmd=(umoci raw unpack --image "$work/real:latest" "$out/dir-umoci") ;;
        dir) cmd=("${java_render[@]}" "oci:$work/real:latest" --format dir --output "$out/dir-ocirender") ;;
        dir-fallback) cmd=(java -Docirender.dir.noNative=true -Xmx256m -jar "$jar" render "oci:$work/real:latest" \
          --format dir --output "$out/dir-fallback") ;;
      esac
      strace -f -c -o "$out/strace-$name.txt" "${cmd[@]}" > /dev/null 2>&1
      python3 - "$out/strace-$name.txt" "$name" <<'PY'
import sys
calls, top = {}, []
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) >= 5 and f[0][0].isdigit() and f[-1] != "total":
        calls[f[-1]] = int(f[3])
total = sum(calls.values())
quiet = sum(v for k, v in calls.items() if k in ("futex", "nanosleep", "clock_nanosleep", "epoll_pwait", "sched_yield"))
fs = sorted(((v, k) for k, v in calls.items() if k not in ("futex", "nanosleep", "clock_nanosleep", "epoll_pwait", "sched_yield")), reverse=True)
print(f"{sys.argv[2]:14s} {total:9d} syscalls ({total - quiet} without futex/sleep/epoll/yield), "
      f"{calls.get('execve', 0)} processes started, fsync {calls.get('fsync', 0) + calls.get('fdatasync', 0)}; "
      + ", ".join(f"{k} {v}" for v, k in fs[:10]))
PY
    done
    rm -rf "${dirs[@]}"
  fi
fi
