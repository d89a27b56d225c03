#!/usr/bin/env python3
"""HTTPS benchmark: spate vs nginx (and h2o), HTTP/1.1 over TLS 1.3 (TLS_AES_128_GCM_SHA256,
RSA 2048 certificate, no kTLS: see tlsservers.py for what every server and client share).

Scenarios (each server one worker on CPU 0, every client on CPU 1, 127.0.0.1):
  small    wrk -t1 -c64 keep-alive GETs of a 1 KiB file (the shared harness's `small`)
  1m       wrk -t1 -c64 keep-alive GETs of a 1 MiB file
  full     full handshakes: 8 `openssl s_time -new` processes at once, each one connection
           per request (GET /small.bin HTTP/1.0), never resuming
  resumed  resumed handshakes: the same with `openssl s_time -reuse` (every connection but
           each process's first resumes the first one's session; s_time prints 'r' for each
           resumed connection and '*' for a full one, and the script counts them)
  close    (not run unless named) wrk -c64 -H 'Connection: close': a new connection per
           request, and wrk resumes the session on each (checked against nginx's
           $ssl_session_reused: all but the first of each connection slot), so a second
           client for resumed handshakes
The server's CPU per request (or handshake) is utime+stime of its process group (from /proc,
before and after the measured run) divided by what the client completed. wrk scenarios get
a 1 s warm-up first. Every server starts fresh each round (all of them at once, each on its own
ports: an idle server costs nothing); within a round each scenario runs on every server in
turn, in an order rotated per scenario and round, so that the runs compared are seconds
apart on this shared machine, and the report gives the median of the per-round ratios as
well as the ratio of the medians. `other` is the CPU the rest of the machine used during the run
(% of one core). Prints each run, then medians and ratios to nginx.

  flock /tmp/spate-bench.lock python3 bench/e2e/tls_bench.py --spate build-rel/spate
"""
import argparse
import contextlib
import re
import statistics
import subprocess
import sys
import time

import tlsservers as ts

S_TIME_PROCS = 8


def wrk(port, path, seconds, conns, extra=(), scheme="https"):
    url = "%s://127.0.0.1:%d%s" % (scheme, port, path)
    cmd = ["taskset", "-c", "1", "wrk", "-t1", "-c%d" % conns] + list(extra)
    out = subprocess.run(cmd + ["-d%ds" % seconds, url], capture_output=True, text=True,
                         env=ts.env(), timeout=seconds + 30).stdout
    n = int(re.search(r"(\d+) requests in", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errs = re.search(r"Socket errors: (.*)", out)
    flags = []
    if bad:
        flags.append("non-2xx %s" % bad.group(1))
    if errs:
        flags.append("socket errors: " + errs.group(1).strip())
    return n, flags


def s_time(port, seconds, reuse):
    cmd = ["taskset", "-c", "1", "openssl", "s_time", "-connect", "127.0.0.1:%d" % port,
           "-reuse" if reuse else "-new", "-time", str(seconds), "-www", "/small.bin"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env=ts.env()) for _ in range(S_TIME_PROCS)]
    n = full = resumed = 0
    flags = []
    deadline = time.monotonic() + seconds + 30
    for p in procs:
        try:
            out, _ = p.communicate(timeout=max(1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            for q in procs:
                q.wait()
            return n, flags + ["s_time did not end"]
        m = re.search(r"(\d+) connections in [\d.]+ real seconds", out)
        if not m:
            flags.append("s_time failed: %s" % out.strip()[-200:])
            continue
        n += int(m.group(1))
        if reuse:
            marks = "".join(re.findall(r"^[r*]+$", out, re.M))
            resumed += marks.count("r")
            full += marks.count("*")
    if reuse and resumed < 0.95 * n:
        flags.append("only %d of %d resumed" % (resumed, n))
    return n, flags


SCENARIOS = {
    "small": dict(kind="wrk", path="/small.bin", conns=64),
    "1m": dict(kind="wrk", path="/1m.bin", conns=64),
    "full": dict(kind="s_time", reuse=False),
    "resumed": dict(kind="s_time", reuse=True),
    "close": dict(kind="wrk", path="/small.bin", conns=64, extra=["-H", "Connection: close"]),
    "plain": dict(kind="wrk", path="/small.bin", conns=64, scheme="http"),
}


def measure(srv, ports, sc, seconds, profile=None):
    port = ports["plain" if sc.get("scheme") == "http" else "tls"]
    if sc["kind"] == "wrk":
        wrk(port, sc["path"], 1, sc["conns"], sc.get("extra", ()), sc.get("scheme", "https"))
    prof = ts.Profile(*profile, srv.p.pid) if profile else None
    c0 = srv.cpu()
    load = ts.Load()
    if sc["kind"] == "wrk":
        n, flags = wrk(port, sc["path"], seconds, sc["conns"], sc.get("extra", ()),
                       sc.get("scheme", "https"))
    else:
        n, flags = s_time(port, seconds, sc["reuse"])
    c1 = srv.cpu()
    if prof:
        prof.stop()
        flags.append("profiled")
    wall, client, other = load.end(c1 - c0)
    if not srv.alive():
        flags.append("server died")
    return dict(n=n, rate=n / wall, us=(c1 - c0) * 1e6 / max(n, 1), srv=(c1 - c0) * 100 / wall,
                client=client * 100 / wall, other=other, flags=flags)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spate", help="spate binary (Release); without it: nginx and h2o only")
    ap.add_argument("--spate-ref", metavar="BIN", help="a second spate binary (another "
                    "build, to compare two trees), measured as the server spate-ref")
    ap.add_argument("--servers", help="comma list of spate,nginx,h2o (default: nginx and "
                    "spate when --spate is given, else nginx,h2o; spate-ref with --spate-ref)")
    ap.add_argument("--scenarios", default="small,1m,full,resumed")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=4)
    ap.add_argument("--profile", metavar="DIR", help="perf record and perf stat (system calls) "
                    "on CPU 0 over every measured run, into DIR/SERVER-SCENARIO.{data,stat} "
                    "(those runs pay for perf: use --rounds 1, not for the table)")
    ap.add_argument("--no-spate-conf-command", action="store_true",
                    help="leave ssl_conf_command out of spate's configuration")
    a = ap.parse_args()
    servers = a.servers.split(",") if a.servers else (
        ["nginx", "spate"] if a.spate else ["nginx", "h2o"]) + (
        ["spate-ref"] if a.spate_ref and not a.servers else [])
    scen = a.scenarios.split(",")
    ts.setup()
    print("kTLS:", ts.ktls_state())
    print("TLS 1.3 %s, RSA 2048, X25519; %s" % (ts.CIPHER, time.strftime("%Y-%m-%d %H:%M UTC",
                                                                       time.gmtime())))
    res = {(s, c): [] for s in servers for c in scen}
    kinds = ["tls"] + (["plain"] if "plain" in scen else [])
    try:
        for rnd in range(a.rounds):
            with contextlib.ExitStack() as stack:
                srvs = {}
                for name in servers:
                    ports = ts.PORTS[name]
                    cmd = ts.server_cmd(name, kinds,
                                        a.spate_ref if name == "spate-ref" else a.spate,
                                        not a.no_spate_conf_command)
                    srvs[name] = stack.enter_context(
                        ts.Server(name, cmd, [ports[k] for k in kinds]))
                problems = {name: ts.precheck_tls(ts.PORTS[name]["tls"])[0] for name in servers}
                for i, c in enumerate(scen):
                    k = (rnd + i) % len(servers)
                    for name in servers[k:] + servers[:k]:
                        r = measure(srvs[name], ts.PORTS[name], SCENARIOS[c], a.seconds,
                                    (a.profile, "%s-%s" % (name, c)) if a.profile else None)
                        r["flags"] += problems[name]
                        res[(name, c)].append(r)
                        print("round %d %-9s %-7s %9.0f /s %8.2f us  srv %3.0f%% client %3.0f%% "
                              "other %3.0f%%%s" % (rnd + 1, name, c, r["rate"], r["us"],
                                                   r["srv"], r["client"], r["other"],
                                                   ("  FLAGS: " + "; ".join(r["flags"]))
                                                   if r["flags"] else ""))
                        sys.stdout.flush()
    finally:
        ts.cleanup()
    report(res, servers, scen)


def report(res, servers, scen):
    """Medians, the ratio of medians to nginx's, and the median of the per-round ratios (each
    server against nginx's run of the same scenario in the same round, seconds apart)."""
    print()
    print("| scenario | server | per s (median) | MB/s | srv CPU us (median) | "
          "rounds us | vs nginx (medians) | vs nginx (median of rounds) | other load |")
    print("|---|---|---|---|---|---|---|---|---|")
    for c in scen:
        ref = res.get(("nginx", c))
        for s in servers:
            rs = res[(s, c)]
            rate = statistics.median(x["rate"] for x in rs)
            us = statistics.median(x["us"] for x in rs)
            mb = rate * (1 << 20) / 1e6 if c == "1m" else None
            ratio = pair = ""
            if ref:
                ratio = "%.2fx" % (us / statistics.median(x["us"] for x in ref))
                pairs = [x["us"] / y["us"] for x, y in zip(rs, ref)]
                pair = "%.2fx (%s)" % (statistics.median(pairs),
                                       ", ".join("%.2f" % v for v in pairs))
            print("| %s | %s | %.0f | %s | %.2f | %s | %s | %s | %s |%s" % (
                c, s, rate, "%.0f" % mb if mb else "", us,
                ", ".join("%.2f" % x["us"] for x in rs), ratio, pair,
                ", ".join("%.0f%%" % x["other"] for x in rs),
                " FLAGS" if any(x["flags"] for x in rs) else ""))


if __name__ == "__main__":
    main()
