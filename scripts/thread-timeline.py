#!/usr/bin/env python3
"""Runs a command and shows which of its threads used the CPU when (BENCHMARKS.md, issue 14 goal 2,
session 8): /proc/PID/task/*/stat sampled every 0.1 s; per 0.5 s, for each kind of thread (by name:
the JVM's main thread, the layer decoders, the squashfs compressors, the JIT compilers, GC), the CPU
seconds it used and how many samples found it runnable (R) or waiting (S, D). On 2 cores, a kind
that is runnable all the time while the others wait is what the run waits for; a bucket whose CPU
sums to well under 1 s had a core idle (or lent to another process: note the load average).
Usage: scripts/thread-timeline.py COMMAND [ARGS...]  (the command's own output is discarded)."""
import collections
import os
import subprocess
import sys
import time

KINDS = ["main", "read-ahead", "squashfs-compress", "C2", "C1", "GC", "other"]


def kind(name, tid, pid):
    for prefix, k in (("read-ahead", "read-ahead"), ("squashfs-comp", "squashfs-compress"), ("C2 ", "C2"),
                      ("C1 ", "C1"), ("GC ", "GC")):
        if name.startswith(prefix):
            return k
    # The launcher's thread (tid = pid) only waits; the JVM's main Java thread is the other "java".
    return "main" if name == "java" and tid != str(pid) else "other"


def main():
    proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    tick = os.sysconf("SC_CLK_TCK")
    start = time.time()
    seen = {}  # tid -> CPU seconds at the last sample
    buckets = collections.defaultdict(lambda: collections.defaultdict(lambda: [0.0, 0, 0]))
    while proc.poll() is None:
        now = time.time() - start
        try:
            tasks = os.listdir(f"/proc/{proc.pid}/task")
        except FileNotFoundError:
            break
        for tid in tasks:
            try:
                stat = open(f"/proc/{proc.pid}/task/{tid}/stat").read()
            except OSError:
                continue
            name = stat[stat.index("(") + 1:stat.rindex(")")]
            fields = stat[stat.rindex(")") + 2:].split()
            state, cpu = fields[0], (int(fields[11]) + int(fields[12])) / tick
            row = buckets[int(now / 0.5)][kind(name, tid, proc.pid)]
            row[0] += cpu - seen.get(tid, 0.0)
            seen[tid] = cpu
            row[1 if state == "R" else 2] += 1
        time.sleep(0.1)
    wall = time.time() - start
    print("t (s) " + "".join(f"{k[:17]:>18s}" for k in KINDS) + "   (CPU s / R samples / S samples)")
    totals = collections.Counter()
    for i in sorted(buckets):
        row = buckets[i]
        print(f"{i * 0.5:5.1f} " + "".join(f"{row[k][0]:8.2f}/{row[k][1]:3d}/{row[k][2]:3d}  " for k in KINDS))
        for k, v in row.items():
            totals[k] += v[0]
    print("CPU by kind: " + ", ".join(f"{k} {totals[k]:.2f} s" for k in KINDS) + f"; wall {wall:.2f} s, exit {proc.returncode}")


if __name__ == "__main__":
    main()
