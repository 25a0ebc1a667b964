#!/usr/bin/env python3
"""CPU by thread and a timeline of which threads are busy when, from a perf profile of a render.

  perf record -F 499 -g -o perf.data env OCIRENDER_JAVA_OPTS="-Xmx256m -XX:+UnlockDiagnosticVMOptions \
      -XX:+DumpPerfMapAtExit" bin/ocirender render oci:IMAGE --format tar --output OUT.tar
  perf script -i perf.data -F comm,tid,time,ip,sym,dso --hide-call-graph > perf.txt
  scripts/perf-threads.py perf.txt [HZ] [BIN_SECONDS]

Threads are classed by name and by what they run: a thread with most of its samples in ISA-L
(libisal) inflates; the other `read-ahead` threads read and digest blobs; `ocirender-write` is the
output writer; `java` is the main thread (merge, tar parsing, tar writing). Prints each thread's CPU
(samples / HZ), the total per class, and per time bin how many cores each class kept busy. On a
loaded machine the timeline shows what ran, not what could have run: the other core may have been
someone else's.
"""
import collections
import re
import sys

LINE = re.compile(r'^\s*(.+?)\s+(\d+)\s+([\d.]+):\s+([0-9a-f]+)\s+(.*?)\s+\((.*)\)\s*$')
CLASSES = ['main', 'inflate', 'blob+sha', 'writer', 'C2', 'C1', 'GC']


def klass(comm, samples):
    isal = sum(1 for s in samples if 'libisal' in s[4])
    if isal > len(samples) * 0.3:
        return 'inflate'
    if comm.startswith('read-ahead'):
        return 'blob+sha'
    if comm.startswith('ocirender-writ'):
        return 'writer'
    for prefix, name in (('C2', 'C2'), ('C1', 'C1'), ('G1', 'GC'), ('GC', 'GC')):
        if comm.startswith(prefix):
            return name
    if comm == 'java':
        return 'main'
    return 'other'


def main():
    hz = float(sys.argv[2]) if len(sys.argv) > 2 else 499
    width = float(sys.argv[3]) if len(sys.argv) > 3 else 0.25
    rows = []
    for line in open(sys.argv[1]):
        m = LINE.match(line)
        if m:
            comm, tid, t, _, sym, dso = m.groups()
            rows.append((comm, int(tid), float(t), sym, dso))
    t0 = min(r[2] for r in rows)
    by_tid = collections.defaultdict(list)
    for r in rows:
        by_tid[r[1]].append(r)
    cls = {tid: klass(s[0][0], s) for tid, s in by_tid.items()}
    print('tid      class      cpu_s  first_s last_s  thread')
    for tid, s in sorted(by_tid.items(), key=lambda kv: -len(kv[1])):
        if len(s) >= 10:
            print(f'{tid:<8} {cls[tid]:<10} {len(s) / hz:5.2f}  {s[0][2] - t0:6.2f} {s[-1][2] - t0:6.2f}  {s[0][0]}')
    total = collections.Counter()
    for tid, s in by_tid.items():
        total[cls[tid]] += len(s)
    print('by class:', ', '.join(f'{k} {v / hz:.2f} s' for k, v in total.most_common()))
    bins = collections.defaultdict(collections.Counter)
    for r in rows:
        bins[int((r[2] - t0) / width)][cls[r[1]]] += 1
    print('t_s    cores ' + ' '.join(f'{k:>8}' for k in CLASSES) + '    other')
    for i in sorted(bins):
        c = bins[i]
        scale = hz * width
        print(f'{i * width:5.2f} {sum(c.values()) / scale:6.2f} ' + ' '.join(f'{c[k] / scale:8.2f}' for k in CLASSES)
              + f' {sum(v for k, v in c.items() if k not in CLASSES) / scale:8.2f}')


if __name__ == '__main__':
    main()
