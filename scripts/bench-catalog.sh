#!/usr/bin/env bash
# The catalog benchmark of issue 15 (BENCHMARKS.md, "catalog with shared bases"): 3 base stacks built
# from what a Debian machine with a JDK has, 8 images on each (24 in all), rendered by the catalog
# pipeline on DirectRunner without the layer work cache, with a cold one and with a warm one, for
# squashfs and for tar, alternated in each round.
#
#   DIR/layout   one OCI layout, tags img01..img24; blobs that images share are stored once
#     stack 1  distro-a (usr/share/{man,perl,i18n}, >= 100 MB) + a JDK (opt/java)      img01..img08
#     stack 2  distro-a                                        + Python's stdlib        img09..img16
#     stack 3  distro-b (usr/share/doc, usr/include, >= 100 MB) + gcc's lib (usr/lib/gcc) img17..img24
#     every image: its own top layer of 1-20 MB of real libraries and programs (app/...: files of
#     /usr/lib/x86_64-linux-gnu, /usr/bin, /usr/libexec) and etc/image-id;
#     every third top whites out a directory of its base (.wh.NAME), every sixth also makes one
#     opaque (.wh..wh..opq)
#   DIR/catalog.txt  the 24 references
#
# Each leg runs `ocirender pipeline` (the shaded jar, pipelines/catalog-render/runners/direct.args),
# by default as `java -jar JAR pipeline …`, with LAUNCHER=bin as the README runs it, `bin/ocirender
# pipeline …` (its JVM flags and class-data sharing archive; the archive is made before the first leg,
# outside the legs' times), and reports wall-clock images/minute (JVM start included), bytes decoded and compressed and the
# layer cache hits/misses from the job's counters (--metrics-json; "-" while the job has no such
# counter), and the disk the cache uses. The outputs of the legs of one format must be byte-identical
# (sha256 of every output); the script stops if they are not. Outputs are deleted after each leg
# (24 images of 250-400 MB each).
#
# The cache options are variables, so the same script runs before and after the cache exists:
#   NO_CACHE_OPTS  options of the no-cache leg (default "--layerCacheMaxBytes=0": the pipeline's cache
#                  is on by default, so the no-cache leg turns it off)
#   CACHE_OPTS     options of the cold and warm legs, @DIR@ standing for the cache directory (e.g.
#                  "--layerCacheDir=@DIR@ --layerCacheMaxBytes=21474836480"); unset: only the
#                  no-cache leg runs
#   FORMATS        default "squashfs tar";  ROUNDS  default 1;  PER_STACK  images per stack, default 8
#   JAVA_OPTS      JVM options of every leg (default none);  JAR  the jar to run (default target/ocirender.jar)
#   LAUNCHER       java (default: java -jar JAR) or bin (bin/ocirender with OCIRENDER_JARS = JAR's directory,
#                  which must hold ocirender.jar, and OCIRENDER_JAVA_OPTS = JAVA_OPTS)
# Every leg line gives the wall time, images/minute, the CPU time of the leg's process (user+sys,
# /usr/bin/time) and the load average before and after it; after the three legs of a format the
# script prints the same-run ratios (images/minute and CPU of cold and warm against no cache).
# Building the images takes about 2 minutes on 2 cores and needs about 1.5 GB; each leg writes and
# deletes about 7 GB of outputs.
# Usage: [CACHE_OPTS=...] scripts/bench-catalog.sh [DIR=target/bench-catalog] [--no-build]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-target/bench-catalog}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
formats=${FORMATS:-squashfs tar}
rounds=${ROUNDS:-1}
per_stack=${PER_STACK:-8}
gz="gzip -n"
command -v pigz > /dev/null && gz="pigz -n"
if [[ "${2:-}" != "--no-build" ]]; then
  mvn -B -q -o -DskipTests package 2>/dev/null || mvn -B -q -DskipTests package
fi
jar=${JAR:-$PWD/target/ocirender.jar}
launcher=${LAUNCHER:-java}
case $launcher in
  java) ;;
  bin)
    [[ ${jar##*/} == ocirender.jar ]] || { echo "LAUNCHER=bin runs OCIRENDER_JARS/ocirender.jar: JAR must be named so" >&2; exit 2; }
    export OCIRENDER_JARS=${jar%/*} OCIRENDER_JAVA_OPTS=${JAVA_OPTS:-}
    ;;
  *) echo "LAUNCHER must be java or bin, got $launcher" >&2; exit 2 ;;
esac
mapfile -t runner < <(grep -v '^\s*#' pipelines/catalog-render/runners/direct.args | sed '/^\s*$/d')

# One gzip layer from tar arguments: OUT.tgz (numeric owners, sorted names; the top layers' staging
# files get a fixed mtime in build).
tgz() {
  local out=$1
  shift
  tar --numeric-owner --sort=name --ignore-failed-read -cf - "$@" 2> "$out.log" | $gz > "$out.tgz"
}

build() {
  local work=$dir/work
  rm -rf "$work" "$dir/layout"
  mkdir -p "$work"
  local jdk
  jdk=$(for j in /usr/lib/jvm/*/; do [[ -f $j/lib/modules ]] && readlink -f "$j"; done | sort -u | head -1)
  [[ -n $jdk ]] || { echo "no JDK with lib/modules under /usr/lib/jvm" >&2; exit 1; }
  local python
  python=$(ls -d /usr/lib/python3.[0-9]* | sort -V | tail -1)
  local start=$SECONDS
  tgz "$work/distro-a" -C / usr/share/man usr/share/perl usr/share/i18n &
  tgz "$work/distro-b" -C / usr/share/doc usr/include &
  wait
  tgz "$work/runtime-1" -C "$jdk" --transform 's,^\.,opt/java,rhS' . &
  tgz "$work/runtime-2" -C / "${python#/}" &
  tgz "$work/runtime-3" -C / usr/lib/gcc &
  wait
  # Top layers: real libraries and programs, a different stride of the sorted list for each image, until
  # its size (1-20 MB, varying) is reached.
  find /usr/lib/x86_64-linux-gnu /usr/bin /usr/libexec -type f -size +16k -size -12M 2> /dev/null | sort > "$work/libs"
  local n=$((3 * per_stack))
  for i in $(seq 1 "$n"); do
    local id; id=$(printf 'img%02d' "$i")
    local stack=$(( (i - 1) / per_stack + 1 ))
    local top=$work/top-$id
    mkdir -p "$top/etc"
    echo "$id on stack $stack" > "$top/etc/image-id"
    local want=$(( (1 + (i * 7) % 20) * 1000000 ))
    awk -v i="$i" -v n="$n" 'NR % n == i % n' "$work/libs" > "$top.candidates"
    while read -r f; do
      echo "${f#/}"
      want=$((want - $(stat -c %s "$f")))
      ((want > 0)) || break
    done < "$top.candidates" > "$top.list"
    if ((i % 3 == 0)); then
      case $stack in
        1) mkdir -p "$top/usr/share/man"; : > "$top/usr/share/man/.wh.man3";;
        2) mkdir -p "$top/usr/share/perl"; : > "$top/usr/share/perl/.wh.$(ls /usr/share/perl | head -1)";;
        3) mkdir -p "$top/usr/include"; : > "$top/usr/include/.wh.linux";;
      esac
    fi
    if ((i % 6 == 0)); then
      case $stack in
        1|2) mkdir -p "$top/usr/share/i18n/locales"; : > "$top/usr/share/i18n/locales/.wh..wh..opq"
             echo "only locale left" > "$top/usr/share/i18n/locales/C";;
        3) mkdir -p "$top/usr/share/doc"; : > "$top/usr/share/doc/.wh..wh..opq"
           echo "docs removed by $id" > "$top/usr/share/doc/README";;
      esac
    fi
    find "$top" -exec touch -h -d @1700000000 {} +
    tgz "$work/$id" -C "$top" . -C / --transform 's,^usr/,app/,S' -T "$top.list"
  done
  # One layout, one manifest per image; a blob several images use is written once.
  python3 - "$dir/layout" "$work" "$per_stack" <<'PY'
import gzip, hashlib, json, os, shutil, sys
out, work, per_stack = sys.argv[1], sys.argv[2], int(sys.argv[3])
blobs = os.path.join(out, "blobs", "sha256")
os.makedirs(blobs)
known = {}

def digest_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()

def layer(name):
    """The descriptor and diff ID of WORK/NAME.tgz, moved into the layout the first time."""
    if name not in known:
        src = os.path.join(work, name + ".tgz")
        d = digest_of(src)
        diff = hashlib.sha256()
        with gzip.open(src, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                diff.update(chunk)
        size = os.path.getsize(src)
        os.replace(src, os.path.join(blobs, d))
        known[name] = ({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": "sha256:" + d,
                        "size": size}, "sha256:" + diff.hexdigest())
    return known[name]

def put(data, media):
    d = hashlib.sha256(data).hexdigest()
    with open(os.path.join(blobs, d), "wb") as f:
        f.write(data)
    return {"mediaType": media, "digest": "sha256:" + d, "size": len(data)}

stacks = {1: ["distro-a", "runtime-1"], 2: ["distro-a", "runtime-2"], 3: ["distro-b", "runtime-3"]}
manifests = []
for i in range(1, 3 * per_stack + 1):
    tag = "img%02d" % i
    layers = [layer(n) for n in stacks[(i - 1) // per_stack + 1] + [tag]]
    config = put(json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                             "rootfs": {"type": "layers", "diff_ids": [l[1] for l in layers]}}).encode(),
                 "application/vnd.oci.image.config.v1+json")
    m = put(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                        "config": config, "layers": [l[0] for l in layers]}).encode(),
            "application/vnd.oci.image.manifest.v1+json")
    m["annotations"] = {"org.opencontainers.image.ref.name": tag}
    manifests.append(m)
with open(os.path.join(out, "index.json"), "w") as f:
    json.dump({"schemaVersion": 2, "manifests": manifests}, f)
with open(os.path.join(out, "oci-layout"), "w") as f:
    json.dump({"imageLayoutVersion": "1.0.0"}, f)
PY
  for i in $(seq 1 "$n"); do printf 'oci:%s:img%02d\n' "$dir/layout" "$i"; done > "$dir/catalog.txt"
  rm -rf "$work"
  echo "built $n images over 3 stacks in $((SECONDS - start)) s: $(du -sm "$dir/layout" | cut -f1) MB of blobs -> $dir/catalog.txt"
}

[[ -f $dir/catalog.txt && -f $dir/layout/index.json ]] || build
n=$(wc -l < "$dir/catalog.txt")

now() { date +%s.%N; }
counter() { python3 -c 'import json,sys; c=json.load(open(sys.argv[1])); print(c.get(sys.argv[2], "-"))' "$1" "$2"; }

# One pipeline run: $1 format, $2 leg name, other arguments are pipeline options. Prints one line and
# keeps the leg's wall time, CPU time (user+sys of the whole process, from /usr/bin/time) and
# images/minute in wall_$1_$2, cpu_$1_$2 and ipm_$1_$2 for the ratios.
leg() {
  local format=$1 name=$2
  shift 2
  local out=$dir/out-$format results=$dir/results-$format-$name
  rm -rf "$out" "$results"
  local t0 t1 load0 load1
  load0=$(cut -d' ' -f1 /proc/loadavg)
  t0=$(now)
  local run
  if [[ $launcher == bin ]]; then
    run=("$PWD/bin/ocirender")
  else
    # shellcheck disable=SC2206  # JAVA_OPTS is a list of JVM options
    run=(java ${JAVA_OPTS:-} -jar "$jar")
  fi
  /usr/bin/time -o "$dir/time-$format-$name" -f '%U %S %M' "${run[@]}" pipeline --progress=log --progress-interval=30 \
    --metrics-json="$dir/metrics-$format-$name.json" \
    --catalog="$dir/catalog.txt" --outputPrefix="$out" --resultsPrefix="$results/" --format="$format" \
    "${runner[@]}" "$@" > "$dir/$format-$name.log" 2>&1 || { echo "$format $name: pipeline failed, see $dir/$format-$name.log" >&2; exit 1; }
  t1=$(now)
  load1=$(cut -d' ' -f1 /proc/loadavg)
  local m=$dir/metrics-$format-$name.json
  local rendered; rendered=$(counter "$m" images_rendered)
  [[ $rendered == "$n" ]] || { echo "$format $name: rendered $rendered of $n images, see $dir/$format-$name.log" >&2; exit 1; }
  (cd "$out" && find . -type f -print0 | sort -z | xargs -0 sha256sum) > "$dir/sums-$format-$name"
  local cache_mb="-"
  [[ -n ${cache_dir:-} && -d ${cache_dir:-} ]] && cache_mb=$(du -sm "$cache_dir" | cut -f1)
  rm -rf "$out"
  local user sys rss wall cpu ipm
  read -r user sys rss < <(tail -1 "$dir/time-$format-$name")
  wall=$(echo "$t1 - $t0" | bc)
  cpu=$(echo "$user + $sys" | bc)
  ipm=$(echo "$n * 60 / $wall" | bc -l)
  printf -v "wall_${format}_${name//-/_}" '%s' "$wall"
  printf -v "cpu_${format}_${name//-/_}" '%s' "$cpu"
  printf -v "ipm_${format}_${name//-/_}" '%s' "$ipm"
  printf '%-8s %-8s %7.1f s %6.1f images/min  CPU %6.1f s (user %s + sys %s)  peak RSS %d MB  load %s -> %s  decoded %s  compressed %s (reused %s)  written %s  cache hits/misses %s/%s  cache disk %s MB\n' \
    "$format" "$name" "$wall" "$ipm" "$cpu" "$user" "$sys" $((rss / 1024)) "$load0" "$load1" \
    "$(counter "$m" bytes_decoded)" "$(counter "$m" bytes_compressed)" \
    "$(counter "$m" bytes_compression_reused)" "$(counter "$m" bytes_written)" \
    "$(counter "$m" layer_cache_hits)" "$(counter "$m" layer_cache_misses)" "$cache_mb"
}

# The same-run ratios of one format: images/minute of a cache leg over the no-cache leg's (the goal),
# and the no-cache leg's CPU time over the cache leg's.
ratios() {
  local f=$1 base_ipm base_cpu
  base_ipm=ipm_${f}_no_cache base_cpu=cpu_${f}_no_cache
  for l in cold warm; do
    local ipm=ipm_${f}_$l cpu=cpu_${f}_$l
    printf '%-8s %-4s / no-cache: images/min %.2fx, CPU %.2fx less\n' "$f" "$l" \
      "$(echo "${!ipm} / ${!base_ipm}" | bc -l)" "$(echo "${!base_cpu} / ${!cpu}" | bc -l)"
  done
}

same() {  # $1 format, $2 and $3 legs: the outputs must be byte-identical
  cmp -s "$dir/sums-$1-$2" "$dir/sums-$1-$3" \
    || { echo "$1: outputs of $2 and $3 differ:"; diff "$dir/sums-$1-$2" "$dir/sums-$1-$3" | head; exit 1; } >&2
}

echo "machine: $(nproc) cores, $(java -version 2>&1 | head -1), $(date -u '+%F %H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
[[ -z ${JAVA_OPTS:-} ]] || echo "JVM options: $JAVA_OPTS"
if [[ $launcher == bin ]]; then
  # The first pipeline run of a build makes bin/ocirender's archive: done here, not inside a leg.
  t0=$(now)
  /usr/bin/time -o "$dir/time-archive" -f '%U %S' bin/ocirender pipeline --help > /dev/null 2>&1
  read -r user sys < "$dir/time-archive"
  echo "launcher: bin/ocirender ($(printf '%.1f' "$(echo "$(now) - $t0" | bc)") s, CPU $(echo "$user + $sys" | bc) s to start it once: its archive $(ls "$OCIRENDER_JARS"/.ocirender-pipeline-*.jsa 2>/dev/null | head -1 || echo none))"
else
  echo "launcher: java -jar $jar"
fi
echo "input: $n images, $(du -sm "$dir/layout" | cut -f1) MB of blobs; runner: ${runner[*]}"
[[ -n ${CACHE_OPTS:-} ]] || echo "CACHE_OPTS unset: the no-cache leg only"
read -r -a no_cache <<< "${NO_CACHE_OPTS---layerCacheMaxBytes=0}"
for r in $(seq 1 "$rounds"); do
  echo "round $r"
  for format in $formats; do
    cache_dir=
    leg "$format" no-cache "${no_cache[@]}"
    if [[ -n ${CACHE_OPTS:-} ]]; then
      cache_dir=$dir/layer-cache
      rm -rf "$cache_dir"
      read -r -a cache <<< "${CACHE_OPTS//@DIR@/$cache_dir}"
      leg "$format" cold "${cache[@]}"
      same "$format" no-cache cold
      leg "$format" warm "${cache[@]}"
      same "$format" no-cache warm
      echo "$format: outputs byte-identical across no-cache, cold and warm ($n images)"
      ratios "$format"
      rm -rf "$cache_dir"
    fi
  done
done
