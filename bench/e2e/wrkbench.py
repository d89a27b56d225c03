#!/usr/bin/env python3
"""wrkbench.py - a self-contained wrk run of spate against nginx (if installed), same pinning.

Both servers get one worker pinned to CPU 0, wrk -t1 runs on CPU 1, over 127.0.0.1 (each
started as servers.py starts every server here).
Reports req/s and server CPU microseconds per request (utime+stime of the server's process
group from /proc) for each server, alternating runs, medians over rounds.

  bench/e2e/wrkbench.py [--rounds 3] [--seconds 5] [--conns 64] [--path /small.bin]

For every scenario against nginx, lighttpd and h2o use compare.py. Python 3 standard library
only; needs wrk (tools/deps bench).
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from servers import (CLIENT_CPU, ROOT, Server, free_port, nginx_conf, pin,  # noqa: E402
                     spate_cmd)


def wrk(args, seconds, url):
    return subprocess.run(["wrk", "-t1", "-c%d" % args.conns, "-d%ds" % seconds, url],
                          capture_output=True, text=True, preexec_fn=pin(CLIENT_CPU)).stdout


def run_one(name, argv, port, args):
    with Server(argv, port) as srv:
        url = "http://127.0.0.1:%d%s" % (port, args.path)
        wrk(args, 1, url)  # warm-up
        c0 = srv.cpu()
        out = wrk(args, args.seconds, url)
        c1 = srv.cpu()
    m = re.search(r"(\d+) requests in", out)
    n = int(m.group(1)) if m else 0
    rps = n / args.seconds
    return rps, (c1 - c0) * 1e6 / max(n, 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--conns", type=int, default=64)
    ap.add_argument("--path", default="/small.bin")
    ap.add_argument("--spate", default=os.path.join(ROOT, "build", "spate"))
    args = ap.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk not installed (tools/deps bench)")
    tmp = tempfile.mkdtemp(prefix="wrkbench-")
    os.chmod(tmp, 0o755)  # started as root, spate serves as nobody: it must enter
    docroot = os.path.join(tmp, "www")
    os.makedirs(docroot)
    with open(os.path.join(docroot, "small.bin"), "wb") as f:
        f.write(os.urandom(1024))
    with open(os.path.join(docroot, "index.html"), "wb") as f:
        f.write(b"<!DOCTYPE html><p>wrkbench</p>\n" * 20)
    servers = []
    for name in ["spate", "nginx"]:
        if name == "nginx" and not shutil.which("nginx"):
            print("nginx not installed: spate only", file=sys.stderr)
            continue
        servers.append(name)
    res = {s: [] for s in servers}
    for r in range(args.rounds):
        for name in servers[r % len(servers):] + servers[:r % len(servers)]:
            port = free_port()
            argv = (spate_cmd(args.spate, port, docroot) if name == "spate"
                    else nginx_conf(tmp, port, docroot))
            res[name].append(run_one(name, argv, port, args))
            print("round %d %-6s %9.0f req/s %6.2f us/req" % (r + 1, name, *res[name][-1]),
                  file=sys.stderr)
    print("| server | req/s (median) | server CPU us/req (median) |")
    print("|---|---|---|")
    for s in servers:
        print("| %s | %.0f | %.2f |" % (s, statistics.median(x[0] for x in res[s]),
                                         statistics.median(x[1] for x in res[s])))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
