#!/usr/bin/env bash
# Builds the real-file benchmark images of issue 14 (BENCHMARKS.md, "real-file image") from what any
# Debian machine with a JDK has: /usr/share, the JDKs under /usr/lib/jvm, man pages, headers, gcc.
#
#   DIR/real     OCI layout, tag "latest": 5 gzip layers (oldest first)
#                  0 usr/share without man pages
#                  1 usr/share/man, usr/include, usr/lib/gcc
#                  2 opt/victim/{jdk,bin}: a JDK and /usr/bin; whited out as a whole by layer 4
#                  3 opt/jdk: a JDK (the newest one found), with its 130-150 MB lib/modules
#                  4 opt/.wh.victim (hides all of layer 2), opt/jdk/lib/modules replaced by another
#                    JDK's modules file, usr/share/doc made opaque (.wh..wh..opq) with one new file
#   DIR/million  OCI layout, tag "latest": one gzip layer of 1 000 000 small entries
#                (1 000 directories of 999 files of 0-99 bytes, generated)
#
# Layers are built with GNU tar (numeric owners, sorted names) and gzip (pigz when installed), two
# at a time. Nothing here is committed: DIR defaults to target/bench-image.
# Usage: scripts/bench-image.sh [DIR] [real|million|all]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-target/bench-image}
what=${2:-all}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
gz="gzip -n"
command -v pigz > /dev/null && gz="pigz -n"

# Writes one layer: tar arguments in, OUT.tgz plus OUT.diffid (sha256 of the tar) and OUT.size out.
layer() {
  local out=$1
  shift
  tar --numeric-owner --sort=name --ignore-failed-read -cf - "$@" 2> "$out.log" \
    | tee >(sha256sum | cut -d' ' -f1 > "$out.diffid") >(wc -c > "$out.size") | $gz > "$out.tgz"
}

# Writes an OCI layout from the layer files given (oldest first).
layout() {
  local out=$1
  shift
  rm -rf "$out"
  mkdir -p "$out/blobs/sha256"
  python3 - "$out" "$@" <<'PY'
import hashlib, json, os, shutil, sys, time
out, layers = sys.argv[1], sys.argv[2:]
blobs = os.path.join(out, "blobs", "sha256")
def put(data):
    d = hashlib.sha256(data).hexdigest()
    open(os.path.join(blobs, d), "wb").write(data)
    return {"digest": "sha256:" + d, "size": len(data)}
descs, diff_ids = [], []
for l in layers:
    h = hashlib.sha256()
    with open(l + ".tgz", "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    d = h.hexdigest()
    # wait for the tee'd digest of the tar (process substitution may finish after the pipeline)
    for _ in range(600):
        if os.path.getsize(l + ".diffid") > 0:
            break
        time.sleep(0.1)
    os.replace(l + ".tgz", os.path.join(blobs, d))
    descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": "sha256:" + d,
                  "size": os.path.getsize(os.path.join(blobs, d))})
    diff_ids.append("sha256:" + open(l + ".diffid").read().strip())
config = put(json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode())
config["mediaType"] = "application/vnd.oci.image.config.v1+json"
manifest = put(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": config, "layers": descs}).encode())
manifest["mediaType"] = "application/vnd.oci.image.manifest.v1+json"
manifest["annotations"] = {"org.opencontainers.image.ref.name": "latest"}
json.dump({"schemaVersion": 2, "manifests": [manifest]}, open(os.path.join(out, "index.json"), "w"))
json.dump({"imageLayoutVersion": "1.0.0"}, open(os.path.join(out, "oci-layout"), "w"))
PY
}

build_real() {
  local work=$dir/real-work
  rm -rf "$work"
  mkdir -p "$work/top/opt" "$work/top/usr/share/doc"
  # Distinct JDK homes, oldest name first; the last one is layer 3's, another (or the same) layer 2's.
  mapfile -t jdks < <(for j in /usr/lib/jvm/*/; do [[ -f $j/lib/modules ]] && readlink -f "$j"; done | sort -u)
  ((${#jdks[@]} > 0)) || { echo "no JDK with lib/modules under /usr/lib/jvm" >&2; exit 1; }
  local newest=${jdks[-1]} other=${jdks[0]}
  : > "$work/top/opt/.wh.victim"
  : > "$work/top/usr/share/doc/.wh..wh..opq"
  echo "usr/share/doc was made opaque by the top layer" > "$work/top/usr/share/doc/README"
  local start=$SECONDS
  layer "$work/l0" -C / --exclude=usr/share/man usr/share &
  layer "$work/l1" -C / usr/share/man usr/include usr/lib/gcc &
  wait
  layer "$work/l2" -C "$other" --transform 's,^\.,opt/victim/jdk,rhS' . \
    -C /usr --transform 's,^bin,opt/victim/bin,rhS' bin &
  layer "$work/l3" -C "$newest" --transform 's,^\.,opt/jdk,rhS' . &
  layer "$work/l4" -C "$work/top" . -C "$other/lib" --transform 's,^modules$,opt/jdk/lib/modules,rhS' modules
  wait
  layout "$dir/real" "$work"/l{0,1,2,3,4}
  local total=0
  for i in 0 1 2 3 4; do total=$((total + $(cat "$work/l$i.size"))); done
  echo "real: 5 layers, $((total / 1000000)) MB uncompressed, $(du -sm "$dir/real" | cut -f1) MB of blobs," \
    "built in $((SECONDS - start)) s -> oci:$dir/real:latest"
  rm -rf "$work"
}

build_million() {
  local work=$dir/million-work
  rm -rf "$work"
  mkdir -p "$work"
  local start=$SECONDS
  # ustar headers written directly: Python's tarfile needs minutes for a million entries.
  python3 - <<'PY' | tee >(sha256sum | cut -d' ' -f1 > "$work/l0.diffid") >(wc -c > "$work/l0.size") | $gz > "$work/l0.tgz"
import sys
out = sys.stdout.buffer
def header(name, size, typeflag, mode):
    h = bytearray(512)
    h[0:len(name)] = name
    h[100:108] = b"%07o\0" % mode
    h[108:116] = b"0000000\0"
    h[116:124] = b"0000000\0"
    h[124:136] = b"%011o\0" % size
    h[136:148] = b"14700000000\0"
    h[148:156] = b"        "
    h[156] = typeflag
    h[257:265] = b"ustar\x0000"
    h[148:156] = b"%06o\0 " % sum(h)
    return h
buf = bytearray()
n = 0
for d in range(1000):
    dname = b"data/d%03d/" % d
    buf += header(dname, 0, ord("5"), 0o755)
    n += 1
    for f in range(999):
        size = (d * 31 + f * 7) % 100
        buf += header(dname + b"f%03d.txt" % f, size, ord("0"), 0o644)
        if size:
            buf += (b"%d/%d " % (d, f) * 20)[:size].ljust(512, b"\0")
        n += 1
    if len(buf) > 1 << 22:
        out.write(buf)
        buf = bytearray()
buf += header(b"data/last", 0, ord("0"), 0o644)
n += 1
out.write(buf + bytes(1024))
sys.stderr.write("million: %d entries\n" % n)
PY
  layout "$dir/million" "$work/l0"
  echo "million: 1 layer, $(($(cat "$work/l0.size") / 1000000)) MB uncompressed, built in $((SECONDS - start)) s" \
    "-> oci:$dir/million:latest"
  rm -rf "$work"
}

[[ $what == real || $what == all ]] && build_real
[[ $what == million || $what == all ]] && build_million
exit 0
