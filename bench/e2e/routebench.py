#!/usr/bin/env python3
"""routebench.py - what routing costs per request: many virtual hosts, many locations, regexes,
and `return 200` against nginx's (issue 10, "Profiles and measurement").

Each case is a generated configuration and one request that wrk -t1 (pinned to CPU 1) repeats
over keep-alive connections to one worker pinned to CPU 0 (taskset), 127.0.0.1, as in every
benchmark here. Every run starts its server fresh. Cases compared with each
other run next to each other in every round (groups and the order within them rotate round by
round), because this machine has slow phases lasting tens of seconds. For each run: req/s,
server CPU microseconds per request (utime+stime of the server's process group from /proc, as
wrkbench.py counts it), client CPU, the CPU of the two cores not explained by server and client
(other load), and steal. Medians over rounds; the ratios the issue asks for, both as the ratio
of medians and as the median of the per-round ratios.

  bench/e2e/routebench.py [--bin build/spate] [--rounds 5] [--seconds 5] [--conns 64]
                          [--cases vhost1,vhost1000-mid,...] [--json out.json]

Cases (every file served is 1 KiB; the request is the same bytes in the cases compared):
  vhost1, vhost1000-mid, vhost1000-last   1 or 1,000 servers with distinct server_name on one
                                          address; GET /small.bin with the Host of h0 (the
                                          only one), h500 or h999
  loc10, loc500                           `location /pN/ { }` x 10 or 500 (and `location /`):
                                          GET /p7/small.bin
  loc10-root, loc500-root                 the same configurations, GET /zz/small.bin (only /)
  regex0, regex50                         10 prefixes and `location /`, then none or 50
                                          `location ~ ^/rN/ { }`: GET /r49/small.bin (the last)
  ping-spate, ping-nginx                  `location = /ping { return 200 "ok"; }`, one worker,
                                          no access log in either
  ping-sol                                the shared harness's sol-uring (one fixed response,
                                          no parsing) answering "ok": the ceiling of this
                                          client and loopback
  ping-spate-pipe, -nginx-pipe, -sol-pipe the three above with 16 requests per write

nginx is configured as in every benchmark here (bench/e2e/servers.py: one worker, a master,
access log off). Needs wrk and nginx (tools/deps bench); ping-sol also needs ../shared/bench
and liburing-dev, and is left out without them. Python 3 standard library only.
"""
import argparse
import json
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import servers  # noqa: E402  (the same launchers and CPU accounting as every bench here)
from servers import free_port, group_cpu, wait_port  # noqa: E402

SHARED = os.path.join(ROOT, "..", "shared", "bench")  # only for ping-sol's sol-uring

# wrk's script for every run: `depth` requests in one write when depth > 1 (built once in
# init, so wrk keeps no per-request Lua beyond returning it), and one BENCHJSON line at the
# end with the counts and percentiles this script reads (times in microseconds)
WRK_LUA = """local depth = %d
local req
if depth > 1 then
  function init(args)
    local r = {}
    for i = 1, depth do r[i] = wrk.format(nil) end
    req = table.concat(r)
  end
  function request() return req end
end
function done(s, lat, _)
  local e = s.errors
  io.write(string.format('BENCHJSON {"requests": %%d, "err_status": %%d, "err_connect": %%d, ' ..
    '"err_read": %%d, "err_write": %%d, "err_timeout": %%d, "p99_us": %%d, "bytes": %%d}\\n',
    s.requests, e.status, e.connect, e.read, e.write, e.timeout, lat:percentile(99), s.bytes))
end
"""
NVHOST = 1000


# ---------------------------------------------------------------- configurations

def spate_main(port):
    return "workers 1;\nerror_log stderr warn;\n", "  listen 127.0.0.1:%d;\n" % port


def conf_vhosts(port, doc, n):
    main, listen = spate_main(port)
    out = [main]
    for i in range(n):
        # /who names the server, for the check before the run; /small.bin is what is measured
        out.append("server {\n%s  server_name h%d.example.com;\n  root %s;\n"
                   "  location = /who { return 200 \"h%d\"; }\n}\n" % (listen, i, doc, i))
    return "".join(out)


def conf_locations(port, doc, nprefix, nregex=0):
    main, listen = spate_main(port)
    out = [main, "server {\n", listen, "  root %s;\n  location / { }\n" % doc]
    out += ["  location /p%d/ { }\n" % i for i in range(nprefix)]
    out += ["  location ~ ^/r%d/ { }\n" % i for i in range(nregex)]
    out.append("}\n")
    return "".join(out)


def conf_ping(port, doc):
    main, listen = spate_main(port)
    return "%sserver {\n%s  root %s;\n  location = /ping { return 200 \"ok\"; }\n}\n" % (
        main, listen, doc)


# name: (server, configuration(port, doc) or None for nginx, path, Host, check (path, body))
def cases(tmp):
    kib = b"k" * 1024
    return {
        "vhost1": ("spate", lambda p, d: conf_vhosts(p, d, 1), "/small.bin", "h0.example.com",
                   ("/who", b"h0")),
        "vhost1000-mid": ("spate", lambda p, d: conf_vhosts(p, d, NVHOST), "/small.bin",
                          "h%d.example.com" % (NVHOST // 2), ("/who", b"h%d" % (NVHOST // 2))),
        "vhost1000-last": ("spate", lambda p, d: conf_vhosts(p, d, NVHOST), "/small.bin",
                           "h%d.example.com" % (NVHOST - 1), ("/who", b"h%d" % (NVHOST - 1))),
        "loc10": ("spate", lambda p, d: conf_locations(p, d, 10), "/p7/small.bin", None, None),
        "loc500": ("spate", lambda p, d: conf_locations(p, d, 500), "/p7/small.bin", None, None),
        "loc10-root": ("spate", lambda p, d: conf_locations(p, d, 10), "/zz/small.bin", None,
                       None),
        "loc500-root": ("spate", lambda p, d: conf_locations(p, d, 500), "/zz/small.bin", None,
                        None),
        "regex0": ("spate", lambda p, d: conf_locations(p, d, 10, 0), "/r49/small.bin", None,
                   None),
        "regex50": ("spate", lambda p, d: conf_locations(p, d, 10, 50), "/r49/small.bin", None,
                    None),
        "ping-spate": ("spate", conf_ping, "/ping", None, ("/ping", b"ok")),
        "ping-nginx": ("nginx", None, "/ping", None, ("/ping", b"ok")),
        # the shared harness's speed-of-light server answering "ok" to everything: the ceiling
        "ping-sol": ("sol", None, "/ping", None, ("/ping", b"ok")),
        # the same, 16 requests pipelined per write: the kernel's share per request shrinks
        "ping-spate-pipe": ("spate", conf_ping, "/ping", None, ("/ping", b"ok"), 16),
        "ping-nginx-pipe": ("nginx", None, "/ping", None, ("/ping", b"ok"), 16),
        "ping-sol-pipe": ("sol", None, "/ping", None, ("/ping", b"ok"), 16),
    }, kib


def build_sol(tmp):
    """sol-uring from the shared harness, built here; None when it cannot be."""
    src = os.path.join(SHARED, "src", "sol_uring.c")
    out = os.path.join(tmp, "sol-uring")
    if not os.path.exists(src) or not shutil.which("cc"):
        return None
    r = subprocess.run(["cc", "-O2", "-o", out, src, "-luring"], capture_output=True)
    return out if r.returncode == 0 else None


# ---------------------------------------------------------------- one run

def get(port, path, host):
    """One HTTP/1.1 request: (status, body). Enough for the checks (Content-Length bodies)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" %
                  (path.encode(), (host or "127.0.0.1").encode()))
        data = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def cpu_stat():
    """{cpu: (busy, steal, total)} jiffies from /proc/stat (busy counts steal too)"""
    out = {}
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("cpu") and line[3].isdigit():
                p = line.split()
                v = [int(x) for x in p[1:9]]
                out[int(p[0][3:])] = (sum(v) - v[3] - v[4], v[7], sum(v))
    return out


def pct(a, b, cpu, k):
    return 100.0 * (b[cpu][k] - a[cpu][k]) / max(b[cpu][2] - a[cpu][2], 1)


def wrk_script(tmp, depth):
    """WRK_LUA at depth, written to tmp (precompbench.py uses it too)."""
    path = os.path.join(tmp, "wrk-depth%d.lua" % depth)
    with open(path, "w") as f:
        f.write(WRK_LUA % depth)
    return path


def wrk(args, port, path, host, seconds, script):
    cmd = ["taskset", "-c", "1", "wrk", "-t1", "-c%d" % args.conns, "-d%ds" % seconds]
    if host:
        cmd += ["-H", "Host: " + host]
    if script:
        cmd += ["-s", script]
    cmd.append("http://127.0.0.1:%d%s" % (port, path))
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30).stdout
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cli = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    m = re.search(r"^BENCHJSON (\{.*\})$", out, re.M)
    if not m:
        raise RuntimeError("wrk printed no summary: %s" % out.strip()[-300:])
    j = json.loads(m.group(1))
    return j["requests"], j["err_status"], sum(j[k] for k in (
        "err_connect", "err_read", "err_write", "err_timeout")), j["p99_us"], cli


def run_one(args, tmp, doc, name, case, kib):
    server, conf, path, host, check = case[:5]
    script = wrk_script(tmp, case[5] if len(case) > 5 else 1)
    port = free_port()
    text = None
    if server == "nginx":
        # configured as every benchmark here configures it, with the same /ping location
        argv = servers.nginx_conf(tmp, port, doc, 'location = /ping { return 200 "ok"; }')
    elif server == "sol":
        cpath = os.path.join(tmp, "ok.txt")
        argv = [args.sol, str(port), cpath]
        text = "ok"
    else:
        cpath = os.path.join(tmp, "spate-%d.conf" % port)
        argv = [args.bin, "-c", cpath]
        text = conf(port, doc)
    if text is not None:
        with open(cpath, "w") as f:
            f.write(text)
    proc = subprocess.Popen(["taskset", "-c", "0"] + argv, stdout=subprocess.DEVNULL,
                            stderr=open(os.path.join(tmp, "%s-%d.err" % (name, port)), "w"),
                            start_new_session=True)
    flags = []
    try:
        wait_port(port, proc, timeout=30)
        st, body = get(port, path, host)
        if st != 200 or body != (kib if path.endswith(".bin") else b"ok"):
            flags.append("check:%s=%d,%dB" % (path, st, len(body)))
        if check:
            st, body = get(port, check[0], host)
            if st != 200 or body != check[1]:
                flags.append("check:%s=%d,%r" % (check[0], st, body[:20]))
        wrk(args, port, path, host, args.warmup, script)
        time.sleep(0.1)
        s0, c0 = cpu_stat(), group_cpu(proc.pid)
        t0 = time.monotonic()
        n, bad, errs, p99, cli = wrk(args, port, path, host, args.seconds, script)
        wall = time.monotonic() - t0
        time.sleep(0.1)  # the server closes the client's connections
        s1, c1 = cpu_stat(), group_cpu(proc.pid)
        if proc.poll() is not None:
            flags.append("server-died")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
    if bad:
        flags.append("non2xx=%d" % bad)
    if errs:
        flags.append("sockerr=%d" % errs)
    srv = c1 - c0
    other0 = max(0.0, pct(s0, s1, 0, 0) - 100.0 * srv / wall)
    other1 = max(0.0, pct(s0, s1, 1, 0) - 100.0 * cli / wall)
    return {"case": name, "rps": n / args.seconds, "requests": n,
            "cpu_us_per_req": srv * 1e6 / max(n, 1), "srv_cpu_pct": 100.0 * srv / wall,
            "cli_cpu_pct": 100.0 * cli / wall, "other_pct": max(other0, other1),
            "steal_pct": max(pct(s0, s1, 0, 1), pct(s0, s1, 1, 1)),
            "p99_ms": p99 / 1000.0 if p99 is not None else None, "flags": flags}


# ---------------------------------------------------------------- report

# cases compared with each other run next to each other in every round
GROUPS = [["vhost1", "vhost1000-mid", "vhost1000-last"], ["loc10", "loc500"],
          ["loc10-root", "loc500-root"], ["regex0", "regex50"],
          ["ping-spate", "ping-nginx", "ping-sol"],
          ["ping-spate-pipe", "ping-nginx-pipe", "ping-sol-pipe"]]

RATIOS = [
    ("1,000 vs 1 virtual hosts (Host in the middle)", "vhost1000-mid", "vhost1"),
    ("1,000 vs 1 virtual hosts (Host the last)", "vhost1000-last", "vhost1"),
    ("500 vs 10 prefix locations (under /p7/)", "loc500", "loc10"),
    ("500 vs 10 prefix locations (only / matches)", "loc500-root", "loc10-root"),
    ("50 regexes, the last matching, vs none", "regex50", "regex0"),
    ("return 200: spate vs nginx", "ping-spate", "ping-nginx"),
    ("return 200: spate vs the speed-of-light server", "ping-spate", "ping-sol"),
    ("return 200: nginx vs the speed-of-light server", "ping-nginx", "ping-sol"),
    ("return 200 pipelined x16: spate vs nginx", "ping-spate-pipe", "ping-nginx-pipe"),
    ("return 200 pipelined x16: spate vs the speed-of-light server", "ping-spate-pipe",
     "ping-sol-pipe"),
]


def summarize(runs, names):
    med = {}
    for c in names:
        rs = [r for r in runs if r["case"] == c]
        if not rs:
            continue
        rps = [r["rps"] for r in rs]
        med[c] = {"rps": statistics.median(rps),
                  "rps_spread_pct": 50.0 * (max(rps) - min(rps)) / max(statistics.median(rps), 1),
                  "cpu_us_per_req": statistics.median(r["cpu_us_per_req"] for r in rs),
                  "cpu_min": min(r["cpu_us_per_req"] for r in rs),
                  "cpu_max": max(r["cpu_us_per_req"] for r in rs),
                  "srv_cpu_pct": statistics.median(r["srv_cpu_pct"] for r in rs),
                  "cli_cpu_pct": statistics.median(r["cli_cpu_pct"] for r in rs),
                  "other_pct": statistics.median(r["other_pct"] for r in rs),
                  "steal_pct": statistics.median(r["steal_pct"] for r in rs),
                  "p99_ms": statistics.median(r["p99_ms"] for r in rs if r["p99_ms"] is not None)
                  if any(r["p99_ms"] is not None for r in rs) else None,
                  "rounds": len(rs),
                  "flags": sorted({f for r in rs for f in r["flags"]})}
    ratios = []
    for label, a, b in RATIOS:
        if a not in med or b not in med:
            continue
        # the pair ran next to each other in every round: the ratio of each round, then the
        # median, is less exposed to slow phases of the machine than the ratio of medians
        per = []
        for rnd in sorted({r["round"] for r in runs}):
            ra = [r for r in runs if r["case"] == a and r["round"] == rnd]
            rb = [r for r in runs if r["case"] == b and r["round"] == rnd]
            if ra and rb:
                per.append(ra[0]["cpu_us_per_req"] / rb[0]["cpu_us_per_req"])
        ratios.append({"what": label, "a": a, "b": b,
                       "rps": med[a]["rps"] / med[b]["rps"],
                       "cpu_per_req": med[a]["cpu_us_per_req"] / med[b]["cpu_us_per_req"],
                       "cpu_per_req_paired": statistics.median(per) if per else None,
                       "cpu_per_req_paired_min": min(per) if per else None,
                       "cpu_per_req_paired_max": max(per) if per else None})
    return med, ratios


def print_report(med, ratios, args):
    print("| case | req/s | ± | srv CPU µs/req (min-max) | srv CPU | client CPU | other | steal "
          "| p99 ms | flags |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for c, m in med.items():
        print("| %s | %s | %.1f%% | %.2f (%.2f-%.2f) | %.0f%% | %.0f%% | %.0f%% | %.1f%% | %s "
              "| %s |" % (c, format(round(m["rps"]), ","), m["rps_spread_pct"], m["cpu_us_per_req"],
                 m["cpu_min"], m["cpu_max"], m["srv_cpu_pct"], m["cli_cpu_pct"], m["other_pct"],
                 m["steal_pct"],
            "%.2f" % m["p99_ms"] if m["p99_ms"] is not None else "-",
            ";".join(m["flags"]) or "-"))
    print()
    print("| ratio | req/s (of medians) | CPU µs/req (of medians) | CPU µs/req (median of "
          "per-round ratios, min-max) |")
    print("|---|---|---|---|")
    for r in ratios:
        print("| %s (%s / %s) | %.3f | %.3f | %.3f (%.3f-%.3f) |" % (
            r["what"], r["a"], r["b"], r["rps"], r["cpu_per_req"], r["cpu_per_req_paired"],
            r["cpu_per_req_paired_min"], r["cpu_per_req_paired_max"]))
    print()
    print("%d rounds x (%d s warm-up + %d s), %d connections, medians; ± is half the req/s "
          "range over rounds; other = busy CPU on the two cores not explained by server and "
          "client; steal = the larger of the two cores' steal time." % (
              args.rounds, args.warmup, args.seconds, args.conns))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "spate"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--conns", type=int, default=64)
    ap.add_argument("--cases", default="", help="comma-separated subset of the cases")
    ap.add_argument("--json", help="write every run, the medians and the ratios here")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("routebench: wrk not installed (tools/deps bench)")
    tmp = tempfile.mkdtemp(prefix="routebench-")
    os.chmod(tmp, 0o755)  # started as root, spate serves as nobody: it must enter
    all_cases, kib = cases(tmp)
    names = [c for c in (args.cases.split(",") if args.cases else all_cases)]
    for c in names:
        if c not in all_cases:
            raise SystemExit("routebench: no case %r (have: %s)" % (c, ", ".join(all_cases)))
    if not shutil.which("nginx"):
        print("routebench: nginx not installed: its cases left out", file=sys.stderr)
        names = [c for c in names if all_cases[c][0] != "nginx"]
    if any(all_cases[c][0] == "sol" for c in names):
        args.sol = build_sol(tmp)
        if not args.sol:
            print("routebench: sol-uring not built (needs ../shared/bench and liburing-dev): "
                  "its cases left out", file=sys.stderr)
            names = [c for c in names if all_cases[c][0] != "sol"]
    doc = os.path.join(tmp, "www")
    for d in ("", "p7", "zz", "r49"):
        os.makedirs(os.path.join(doc, d), exist_ok=True)
        with open(os.path.join(doc, d, "small.bin"), "wb") as f:
            f.write(kib)
    groups = [[c for c in g if c in names] for g in GROUPS]
    groups = [g for g in groups if g] + [[c] for c in names if not any(c in g for g in GROUPS)]
    runs = []
    try:
        for r in range(args.rounds):
            # rotate the groups, and the cases within each group, round by round
            k = r % len(groups)
            order = []
            for g in groups[k:] + groups[:k]:
                j = r % len(g)
                order += g[j:] + g[:j]
            for name in order:
                res = run_one(args, tmp, doc, name, all_cases[name], kib)
                res["round"] = r + 1
                runs.append(res)
                print("round %d %-15s %9.0f req/s %6.2f us/req  srv %3.0f%% cli %3.0f%% "
                      "other %3.0f%% steal %4.1f%% %s" % (
                          r + 1, name, res["rps"], res["cpu_us_per_req"], res["srv_cpu_pct"],
                          res["cli_cpu_pct"], res["other_pct"], res["steal_pct"],
                          ";".join(res["flags"])),
                      file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    med, ratios = summarize(runs, names)
    print_report(med, ratios, args)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"bin": args.bin, "rounds": args.rounds, "seconds": args.seconds,
                       "conns": args.conns, "loadavg_end": open("/proc/loadavg").read().split()[:3],
                       "runs": runs, "medians": med, "ratios": ratios}, f, indent=1)


if __name__ == "__main__":
    main()
