#!/usr/bin/env python3
"""latency_bench.py - spate, nginx, lighttpd and h2o side by side under spate-load: each
server's maximum (closed loop), then its latency at fixed rates of 50% and 90% of that maximum
(open loop, so queueing shows in full), p50/p99/p99.9 per server and a plot of every curve.
A maximum set by the client (the server short of its core, the client at 90% of its own or
more) is marked client-bound: its 90% rate is then near what the client itself can send.

Every server gets one worker pinned to CPU 0 (servers.py), spate-load -t1 runs pinned to CPU 1,
over 127.0.0.1, against /small.bin (1 KiB); every response body is checked (--check) in the
correctness precheck. Servers missing from this machine are skipped (tools/deps bench installs
them: nginx-light, lighttpd, h2o). Self-contained: no ../shared/bench needed.

  bench/e2e/latency_bench.py [--seconds 5] [--conns 64] [--servers spate,nginx,lighttpd,h2o]
                             [--out DIR]   (JSON of every run and latency.svg there)

Needs a Release build: build-rel/spate and build-rel/tools/load/spate-load (or --spate and
--load). Python 3 standard library only.
"""
import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import servers  # noqa: E402
from servers import CLIENT_CPU, ROOT, Server, free_port, pin, server_cmd  # noqa: E402


def load(args, extra, url, json_path, label):
    cmd = [args.load, "-t1", "--cpus", str(CLIENT_CPU), "-c%d" % args.conns,
           "-d%ds" % args.seconds, "--json", json_path, "--label", label] + extra + [url]
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.run(cmd, capture_output=True, text=True, preexec_fn=pin(CLIENT_CPU))
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(cmd), p.stderr))
    with open(json_path) as f:
        r = json.load(f)
    # the client's own CPU: near 100% its core is part of the latency measured
    r["client_cpu_pct"] = 100 * (r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime) / \
        args.seconds
    return r, p.stderr


def bench(name, argv, port, args, small):
    rows = {}
    with Server(argv, port) as srv:
        url = "http://127.0.0.1:%d/small.bin" % port
        # precheck (1 s, also the warm-up): every answer a 200 with the file's bytes
        pc = os.path.join(args.out, "%s-precheck.json" % name)
        p = subprocess.run([args.load, "-c4", "-d1s", "--check", small, "--json", pc, url],
                           capture_output=True, text=True, preexec_fn=pin(CLIENT_CPU))
        ok = p.returncode == 0
        if ok:
            with open(pc) as f:
                r = json.load(f)
            ok = r["requests"] > 0 and r["status"]["2xx"] == r["requests"] and \
                not any(r["errors"].values())
        if not ok:
            raise RuntimeError("%s fails the precheck: %s %s" % (name, p.stdout, p.stderr))
        c0 = srv.cpu()
        mx, _ = load(args, [], url, os.path.join(args.out, "%s-max.json" % name), name + " max")
        c1 = srv.cpu()
        rows["max"] = mx
        rows["cpu_us"] = (c1 - c0) * 1e6 / max(mx["requests"], 1)
        # who set the maximum: a server short of its core was waiting on the client, and then
        # 90% of "its" maximum is 90% of the client's, near where the client itself falls short
        rows["server_cpu_pct"] = 100 * (c1 - c0) / args.seconds
        for pct in (50, 90):
            rate = int(mx["rate"] * pct / 100)
            r, err = load(args, ["-R", str(rate)], url,
                          os.path.join(args.out, "%s-%d.json" % (name, pct)),
                          "%s at %d%% (%d/s)" % (name, pct, rate))
            rows[pct] = r
            if err.strip():
                print(err.strip(), file=sys.stderr)
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--conns", type=int, default=64)
    ap.add_argument("--servers", default="spate,nginx,lighttpd,h2o")
    ap.add_argument("--spate", default=os.path.join(ROOT, "build-rel", "spate"))
    ap.add_argument("--load", default=os.path.join(ROOT, "build-rel", "tools", "load",
                                                   "spate-load"))
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="latbench-")
    os.chmod(tmp, 0o755)  # servers that drop to nobody must enter it
    args.out = args.out or tmp
    os.makedirs(args.out, exist_ok=True)
    docroot = os.path.join(tmp, "www")
    os.makedirs(docroot)
    os.chmod(docroot, 0o755)
    small = os.path.join(docroot, "small.bin")
    with open(small, "wb") as f:
        f.write(os.urandom(1024))
    os.chmod(small, 0o644)
    results = {}
    for name in args.servers.split(","):
        exe = args.spate if name == "spate" else servers.BINARY.get(name, name)
        if not shutil.which(exe):
            print("%s not found: skipped" % name, file=sys.stderr)
            continue
        port = free_port()
        argv = server_cmd(name, tmp, port, docroot, spate_bin=args.spate)
        results[name] = bench(name, argv, port, args, small)
        m = results[name]
        print("%-8s max %8.0f req/s (%.2f us/req server CPU); 50%%: p50 %.0f p99 %.0f "
              "p99.9 %.0f us; 90%%: p50 %.0f p99 %.0f p99.9 %.0f us" % (
                  name, m["max"]["rate"], m["cpu_us"],
                  *(m[50]["latency_us"][k] for k in ("p50", "p99", "p99.9")),
                  *(m[90]["latency_us"][k] for k in ("p50", "p99", "p99.9"))), file=sys.stderr)
    print("| server | max req/s | server CPU us/req | at max: server / client CPU | load "
          "| achieved req/s | p50 us | p99 us | p99.9 us | max us | client CPU |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, m in results.items():
        for pct in (50, 90):
            r = m[pct]
            lat = r["latency_us"]
            bound = "%.0f%% / %.0f%%" % (m["server_cpu_pct"], m["max"]["client_cpu_pct"])
            if m["server_cpu_pct"] < 90 and m["max"]["client_cpu_pct"] >= 90:
                bound += " (client-bound)"
            print("| %s | %.0f | %.2f | %s | %d%% (%.0f/s) | %.0f%s | %.0f | %.0f | %.0f | %.0f "
                  "| %.0f%% |"
                  % (name, m["max"]["rate"], m["cpu_us"], bound, pct, r["target_rate"], r["rate"],
                     " (short)" if r["rate_short"] else "", lat["p50"], lat["p99"], lat["p99.9"],
                     lat["max"], r["client_cpu_pct"]))
    jsons = [os.path.join(args.out, "%s-%d.json" % (n, p)) for n in results for p in (50, 90)]
    if jsons:
        svg = os.path.join(args.out, "latency.svg")
        subprocess.run([args.load, "--plot-merge", svg] + jsons, check=True)
        print("\nplot: %s" % svg)
    if args.out != tmp:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
