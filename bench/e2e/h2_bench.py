#!/usr/bin/env python3
"""HTTP/2 benchmark: spate vs h2o vs nginx with h2load (`-c 64 -m 16`, a 1 KiB file), over
TLS (ALPN h2; TLS 1.3 TLS_AES_128_GCM_SHA256, RSA 2048, no kTLS: see tlsservers.py) and in
clear text with prior knowledge (h2c).

Each server one worker on CPU 0, `h2load -t1` on CPU 1, 127.0.0.1. Per run: a 1 s h2load
warm-up, then `h2load -D SECONDS`; the server's CPU per request is utime+stime of its process
group (from /proc, before and after the measured run) divided by the requests h2load
completed with a 2xx status (the measured run includes its 64 connections' setup and
handshakes). Every server starts fresh each round (all at once, each on its own ports);
within a round each mode runs on every server in turn, in an order rotated per mode and
round, so that the runs compared are seconds apart; the report gives the ratio of the
medians and the median of the per-round ratios. `other` is the CPU the rest of the machine
used during the run (% of one core). Prints each run, then medians and ratios to nginx and
h2o.

nginx 1.22 (Debian) has no `http2 on;` (1.25): it gets `listen ... ssl http2` and, for h2c,
`listen ... http2`. spate gets `http2 on;` in both servers.

  flock /tmp/spate-bench.lock python3 bench/e2e/h2_bench.py --spate build-rel/spate
"""
import argparse
import contextlib
import re
import statistics
import subprocess
import sys
import time

import tlsservers as ts

MODES = ("h2tls", "h2c")


def h2load(port, mode, seconds, conns, streams):
    url = "%s://127.0.0.1:%d/small.bin" % ("https" if mode == "h2tls" else "http", port)
    cmd = ["taskset", "-c", "1", "h2load", "-t1", "-c%d" % conns, "-m%d" % streams,
           "--tls13-ciphers=" + ts.CIPHER, "-D", str(seconds), url]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, env=ts.env(),
                             timeout=seconds + 20).stdout
    except subprocess.TimeoutExpired:
        return 0, ["h2load did not end"]
    flags = []
    m = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out)
    req = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
                    r"(\d+) failed, (\d+) errored, (\d+) timeout", out)
    if not m or not req:
        return 0, ["h2load: " + out.strip()[-300:]]
    ok = int(m.group(1))
    if int(req.group(5)) or int(req.group(6)) or int(req.group(7)):
        flags.append("failed %s errored %s timeout %s" % req.group(5, 6, 7))
    if sum(int(x) for x in m.groups()[1:]):
        flags.append("non-2xx %d" % sum(int(x) for x in m.groups()[1:]))
    proto = re.search(r"Application protocol: (\S+)", out)
    if not proto or proto.group(1) not in ("h2", "h2c"):
        flags.append("protocol %s" % (proto.group(1) if proto else "?"))
    if mode == "h2tls":
        c = re.search(r"Cipher: (\S+)", out)
        if not c or c.group(1) != ts.CIPHER:
            flags.append("cipher %s" % (c.group(1) if c else "?"))
    return ok, flags


def precheck(port, mode):
    """One request must be answered over h2 with the file's exact length."""
    url = "%s://127.0.0.1:%d/small.bin" % ("https" if mode == "h2tls" else "http", port)
    cmd = ["curl", "-s", "-k", "--max-time", "5", "-o", "/dev/null", "-w",
           "%{http_version} %{http_code} %{size_download}", url]
    cmd.insert(1, "--http2" if mode == "h2tls" else "--http2-prior-knowledge")
    out = subprocess.run(cmd, capture_output=True, text=True, env=ts.env()).stdout
    want = "2 200 %d" % len(ts.FILES["small.bin"])
    return [] if out == want else ["precheck: got '%s', want '%s'" % (out, want)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spate", help="spate binary (Release); without it: nginx and h2o only")
    ap.add_argument("--spate-ref", metavar="BIN", help="a second spate binary (another "
                    "build, to compare two trees), measured as the server spate-ref")
    ap.add_argument("--servers", help="comma list of spate,nginx,h2o (default: all three, "
                    "spate when --spate is given; spate-ref with --spate-ref)")
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=4)
    ap.add_argument("--conns", type=int, default=64)
    ap.add_argument("--streams", type=int, default=16)
    ap.add_argument("--profile", metavar="DIR", help="perf record and perf stat (system calls) "
                    "on CPU 0 over every measured run, into DIR/SERVER-SCENARIO.{data,stat} "
                    "(those runs pay for perf: use --rounds 1, not for the table)")
    ap.add_argument("--no-spate-conf-command", action="store_true",
                    help="leave ssl_conf_command out of spate's configuration")
    a = ap.parse_args()
    servers = a.servers.split(",") if a.servers else (
        ["nginx", "h2o", "spate"] if a.spate else ["nginx", "h2o"]) + (
        ["spate-ref"] if a.spate_ref and not a.servers else [])
    modes = a.modes.split(",")
    ts.setup()
    print("kTLS:", ts.ktls_state())
    print("TLS 1.3 %s, RSA 2048, X25519; h2load -c%d -m%d; %s" % (
        ts.CIPHER, a.conns, a.streams, time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())))
    res = {(s, m): [] for s in servers for m in modes}
    try:
        for rnd in range(a.rounds):
            with contextlib.ExitStack() as stack:
                srvs = {}
                for name in servers:
                    cmd = ts.server_cmd(name, modes,
                                        a.spate_ref if name == "spate-ref" else a.spate,
                                        not a.no_spate_conf_command)
                    srvs[name] = stack.enter_context(
                        ts.Server(name, cmd, [ts.PORTS[name][m] for m in modes]))
                for i, m in enumerate(modes):
                    k = (rnd + i) % len(servers)
                    for name in servers[k:] + servers[:k]:
                        r = run_one(srvs[name], ts.PORTS[name][m], m, a, name)
                        res[(name, m)].append(r)
                        print("round %d %-9s %-5s %9.0f req/s %7.2f us/req  srv %3.0f%% "
                              "client %3.0f%% other %3.0f%%%s" % (
                                  rnd + 1, name, m, r["rate"], r["us"], r["srv"], r["client"],
                                  r["other"],
                                  ("  FLAGS: " + "; ".join(r["flags"])) if r["flags"] else ""))
                        sys.stdout.flush()
    finally:
        ts.cleanup()
    report(res, servers, modes)


def run_one(srv, port, m, a, name):
    flags = precheck(port, m)
    h2load(port, m, 1, a.conns, a.streams)  # warm-up
    prof = ts.Profile(a.profile, "%s-%s" % (name, m), srv.p.pid) if a.profile else None
    c0 = srv.cpu()
    load = ts.Load()
    n, f2 = h2load(port, m, a.seconds, a.conns, a.streams)
    c1 = srv.cpu()
    if prof:
        prof.stop()
        f2.append("profiled")
    wall, client, other = load.end(c1 - c0)
    flags += f2
    if not srv.alive():
        flags.append("server died")
    return dict(rate=n / wall, us=(c1 - c0) * 1e6 / max(n, 1), srv=(c1 - c0) * 100 / wall,
                client=client * 100 / wall, other=other, flags=flags)


def report(res, servers, modes):
    """Medians, ratios of medians to nginx's and h2o's, and medians of the per-round ratios
    (against the same mode's run of nginx or h2o in the same round, seconds apart)."""
    def ratios(s, ref, m):
        if (ref, m) not in res:
            return ""
        a, b = res[(s, m)], res[(ref, m)]
        pairs = [x["us"] / y["us"] for x, y in zip(a, b)]
        return "%.2fx; rounds %.2fx (%s)" % (
            statistics.median(x["us"] for x in a) / statistics.median(y["us"] for y in b),
            statistics.median(pairs), ", ".join("%.2f" % v for v in pairs))
    print()
    print("| mode | server | req/s (median) | srv CPU us/req (median) | rounds us/req | "
          "vs nginx | vs h2o | other load |")
    print("|---|---|---|---|---|---|---|---|")
    for m in modes:
        for s in servers:
            rs = res[(s, m)]
            print("| %s | %s | %.0f | %.2f | %s | %s | %s | %s |%s" % (
                m, s, statistics.median(x["rate"] for x in rs),
                statistics.median(x["us"] for x in rs),
                ", ".join("%.2f" % x["us"] for x in rs),
                ratios(s, "nginx", m), ratios(s, "h2o", m),
                ", ".join("%.0f%%" % x["other"] for x in rs),
                " FLAGS" if any(x["flags"] for x in rs) else ""))


if __name__ == "__main__":
    main()
