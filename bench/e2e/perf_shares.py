#!/usr/bin/env python3
"""Where a server's samples went in a `perf record -g` file (tls_bench.py / h2_bench.py
--profile): the share of each library (the kernel included) and of the top symbols, over the
samples of the server's processes (DATA's .pids file beside it, written by --profile) or,
without one, of the threads whose name starts with one of the given prefixes (other
sessions' servers of the same name may run on the CPU too), by the leaf frame.
`perf report --comms ... --sort dso` drops some rows on this perf version; this reads
`perf script` instead.

  python3 bench/e2e/perf_shares.py DIR/spate-1m.data spate [nginx ...] [--top N]
"""
import argparse
import collections
import subprocess


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("comm", nargs="+", help="thread name prefixes (spate-w, nginx, h2o)")
    ap.add_argument("--top", type=int, default=15)
    a = ap.parse_args()
    pids = None
    try:
        with open(a.data.rsplit(".", 1)[0] + ".pids") as f:
            pids = set(f.read().split())
    except OSError:
        pass
    out = subprocess.run(["perf", "script", "-i", a.data, "-F", "comm,pid,ip,sym,dso"],
                         capture_output=True, text=True).stdout
    dso = collections.Counter()
    sym = collections.Counter()
    mine = every = 0
    state = None  # "leaf": the next frame is this sample's leaf; None: skip
    for line in out.splitlines():
        if not line.strip():
            state = None
            continue
        if not line.startswith((" ", "\t")):
            every += 1
            head = line.split()
            ok = head[-1] in pids if pids else head[0].startswith(tuple(a.comm))
            state = "leaf" if ok else None
            mine += state == "leaf"
            continue
        if state == "leaf":
            parts = line.split()
            lib = parts[-1].strip("()").rsplit("/", 1)[-1]
            name = " ".join(parts[1:-1]).split("+")[0]
            dso[lib] += 1
            sym[(lib, name)] += 1
            state = None
    print("samples: %d of %d on the CPU (%.0f%%)" % (mine, every, 100.0 * mine / max(every, 1)))
    for lib, n in dso.most_common(8):
        print("  %5.1f%%  %s" % (100.0 * n / max(mine, 1), lib))
    for (lib, name), n in sym.most_common(a.top):
        print("  %5.1f%%  %-20s %s" % (100.0 * n / max(mine, 1), lib[:20], name[:60]))


if __name__ == "__main__":
    main()
