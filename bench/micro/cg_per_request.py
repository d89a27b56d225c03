#!/usr/bin/env python3
"""cg_per_request.py BENCH... : callgrind instructions per h1_rig_feed call (one request) of
bench_h1's benchmarks, noise-free (bench/RESULTS.md, issue 15).

Each benchmark runs twice under callgrind (--toggle-collect=h1_rig_feed), a short and a longer
run; the figure is (Ir2 - Ir1) / (calls2 - calls1), so first-request costs (the file cache's
fill, page faults) cancel out. vDSO clock reads show as valgrind's syscall stub (~10 Ir): add
their wall cost (about 25 ns for CLOCK_MONOTONIC on this VM) by hand.
Run from the tree root after building build-rel (Release, -DSPATE_BENCH=ON).
"""
import os
import re
import subprocess
import sys
import tempfile


def per_call(path, fn):
    """(calls, inclusive Ir) of fn as a callee in a callgrind output file."""
    names, calls, incl, want, pending = {}, 0, 0, False, None
    for line in open(path):
        m = re.match(r'(cfn|fn)=\((\d+)\)(?: (.*))?', line)
        if m:
            if m.group(3):
                names[m.group(2)] = m.group(3).strip()
            if m.group(1) == 'cfn':
                want = names.get(m.group(2)) == fn
            continue
        m = re.match(r'calls=(\d+)', line)
        if m:
            pending = int(m.group(1)) if want else None
            continue
        if pending is not None:
            calls += pending
            incl += int(line.split()[1])
            pending, want = None, False
    return calls, incl


def main():
    binary = os.environ.get('BENCH_H1', 'build-rel/bench/bench_h1')
    with tempfile.TemporaryDirectory() as d:
        for b in sys.argv[1:]:
            r = []
            for t in ('0.02', '0.2'):
                out = os.path.join(d, f'{b}-{t}.cg')
                subprocess.run(['valgrind', '--tool=callgrind', f'--callgrind-out-file={out}',
                                '--toggle-collect=h1_rig_feed', binary,
                                f'--benchmark_filter=^{b}$', f'--benchmark_min_time={t}'],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
                r.append(per_call(out, 'h1_rig_feed'))
            (c1, i1), (c2, i2) = r
            print(f'{b:40s} {(i2 - i1) / (c2 - c1):8.1f} Ir/request ({c2 - c1} requests)')


if __name__ == '__main__':
    main()
