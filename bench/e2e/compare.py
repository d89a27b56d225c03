#!/usr/bin/env python3
"""compare.py - spate side by side with nginx, lighttpd and h2o: static-file throughput, the
tables of bench/RESULTS.md, with nothing from outside this repository.

  bench/e2e/compare.py [--servers spate,nginx,nginx-nosendfile,lighttpd,h2o] [--server NAME='CMD {PORT} {ROOT}']
                       [--scenarios small,index,16k,1m,tree,close,pipe] [--rounds 3]
                       [--seconds 5] [--warmup 1] [--client spate-load|wrk] [--json FILE]
                       [--md FILE]

How a run goes (servers.py starts them all the same way):
- Every server gets one worker (or thread), pinned to CPU 0, in its own process group, on a
  free ephemeral port of 127.0.0.1; the client (spate-load -t1, or wrk -t1) runs pinned to
  CPU 1. Each run starts its server fresh and stops it by its pid afterwards.
- Rounds are interleaved: round r runs every scenario, and in each scenario every server, the
  server order rotated by r, so slow drifts of the machine hit each server alike.
- Each run: the scenario's files are read (page cache warm), the precheck (below), a warm-up
  of --warmup seconds, then the measured run of --seconds. A server that fails the precheck
  is reported with the reason and not measured.
- Measured per run: requests/s and MB/s (10^6 bytes/s, headers included) from the client;
  the server's CPU per request (utime+stime of its whole process group, from /proc, over the
  run, divided by the requests completed); the client's CPU (its rusage); the CPU of every
  other process on the machine (servers.OtherCpu).
- Reported: medians over rounds, the ratio to nginx's medians, the spread (half the max-min
  range of req/s, in % of the median), and flags: `client` when the client used >= 90% of its
  core in a round (req/s then understates the server: compare its CPU per request), `server`
  when the server did, `other-load` when other processes used more than --other-max % of a
  core, `errors` for non-2xx answers or socket errors, `fds-at-limit` when a process of the
  server ended the run with 99% or more of its RLIMIT_NOFILE open (lighttpd's stat cache keeps
  one descriptor per file it served: on `tree` it reaches its 16,384 and answers 403), `died`
  when the server exited.

Precheck (Python sockets, no client needed): the scenario's requests on one connection, each
answer a 200 whose body is the file's exact bytes: two keep-alive requests (small, index,
16k, 1m), 34 tree paths, 16 requests pipelined in one write (pipe), and for close one request
with `Connection: close` that the server must answer and then close.

Scenarios (each with --conns connections, 64 by default):
  small  /small.bin (1 KiB), keep-alive        index  / (index.html, 600 B)
  16k    /16k.bin                              1m     /1m.bin (read MB/s)
  tree   a random path of the docroot's tree (20,000 files of about 2 KiB; spate-load
         --paths, or a wrk script with a fixed seed)
  close  /small.bin with Connection: close: a new connection per request (accept cost)
  pipe   /small.bin, 16 requests pipelined per connection (the client's cost per request
         falls, so the server is more often the limit)

Servers: spate (--spate BIN, default build-rel/spate; --spate-args), nginx, nginx-nosendfile,
lighttpd, h2o (Debian's nginx-light, lighttpd, h2o: tools/deps bench); one not installed is
reported and skipped. nginx runs with sendfile and tcp_nopush on, as Debian's nginx.conf has
them; nginx-nosendfile with both off, which costs it less CPU on small files and does not stall
pipelined answers: a claim against nginx holds against the better of the two. --server NAME='CMD' adds any other (a variant of spate, say): CMD runs under sh with
{PORT} and {ROOT} replaced, must stay in the foreground and listen on 127.0.0.1:{PORT}.

The docroot (docroot.py) is built in --docroot (default /tmp/spate-bench-docroot) when it is
missing. Needs a Release build (build-rel: spate and tools/load/spate-load) and wrk for
--client wrk. Python 3 standard library only.
"""
import argparse
import datetime
import json
import os
import platform
import random
import resource
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import docroot as dr  # noqa: E402
from servers import OtherCpu, ROOT, Server, free_port, pin, server_cmd  # noqa: E402
import servers  # noqa: E402

NAMED = ["spate", "nginx", "nginx-nosendfile", "lighttpd", "h2o"]
# name: (path, or None for the tree's paths; pipeline depth; Connection: close)
SCENARIOS = {
    "small": ("/small.bin", 1, False),
    "index": ("/", 1, False),
    "16k": ("/16k.bin", 1, False),
    "1m": ("/1m.bin", 1, False),
    "tree": (None, 1, False),
    "close": ("/small.bin", 1, True),
    "pipe": ("/small.bin", 16, False),
}
CLIENT_BUSY = 90  # % of a core: at or above it, that side was the limit


# ---------------------------------------------------------------- precheck

def read_response(f):
    """(status, body) of one HTTP/1.1 response read from the file f (Content-Length framed:
    every answer of a static file is)."""
    line = f.readline()
    if not line:
        raise ValueError("connection closed before a response")
    parts = line.split(None, 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
        raise ValueError("not an HTTP/1.x status line: %r" % line[:80])
    length = None
    while True:
        h = f.readline()
        if h in (b"\r\n", b"\n", b""):
            break
        name, _, value = h.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    if length is None:
        raise ValueError("response %s without Content-Length" % parts[1].decode())
    body = f.read(length)
    return int(parts[1]), body


def precheck(port, scen, root):
    """None when the server answers the scenario right, else why not (a sentence)."""
    path, depth, close = SCENARIOS[scen]
    if path is None:
        all_paths = dr.tree_paths(root)
        rng = random.Random(7)
        paths = [all_paths[0], all_paths[-1]] + rng.sample(all_paths, min(32, len(all_paths)))
    else:
        paths = [path] * (depth if depth > 1 else 1 if close else 2)
    i = 0
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            f = s.makefile("rb")
            req = "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n"
            hdr = "Connection: close\r\n" if close else ""
            if depth > 1:  # all in one write: the server must answer each, in order
                s.sendall("".join(req % (p, hdr) for p in paths).encode())
            for i, p in enumerate(paths):
                if depth == 1:
                    s.sendall((req % (p, hdr)).encode())
                status, body = read_response(f)
                if status != 200:
                    return "GET %s: status %d" % (p, status)
                want = dr.file_bytes(root, p)
                if body != want:
                    return "GET %s: %d body bytes differ from the file's %d" % (
                        p, len(body), len(want))
            if close and f.read(1) != b"":
                return "answered Connection: close without closing"
    except (OSError, ValueError) as e:
        return "%s (request %d of %d)" % (e, i + 1, len(paths))
    return None


# ---------------------------------------------------------------- clients

WRK_LUA = """-- written by compare.py for one run
local paths_file, depth, out = %(paths)s, %(depth)d, %(out)s
local reqs, n = {}, 0
function init(args)
  if paths_file then
    for line in io.lines(paths_file) do
      if #line > 0 then n = n + 1; reqs[n] = wrk.format(nil, line) end
    end
    math.randomseed(16)
  elseif depth > 1 then
    local r = {}
    for i = 1, depth do r[i] = wrk.format(nil) end
    reqs[1], n = table.concat(r), 1
  end
end
if depth > 1 or paths_file then
  function request()
    if n == 1 then return reqs[1] end
    return reqs[math.random(n)]
  end
end
function done(summary, latency, requests)
  local e = summary.errors
  local f = io.open(out, "w")
  f:write(string.format('{"requests": %%d, "bytes": %%d, "duration_us": %%d, "non2xx": %%d, ' ..
    '"errors": %%d}', summary.requests, summary.bytes, summary.duration, e.status,
    e.connect + e.read + e.write + e.timeout))
  f:close()
end
"""


def lua_str(s):
    return "nil" if s is None else '"%s"' % s.replace("\\", "\\\\").replace('"', '\\"')


def run_client(a, port, scen, seconds, tmp):
    """One client run; returns dict(requests, bytes, seconds, non2xx, errors, client_cpu)."""
    path, depth, close = SCENARIOS[scen]
    paths = os.path.join(a.docroot, "tree-paths.txt") if path is None else None
    url = "http://127.0.0.1:%d%s" % (port, path or "/")
    out = os.path.join(tmp, "client.json")
    if os.path.exists(out):
        os.unlink(out)
    if a.client == "wrk":
        script = os.path.join(tmp, "run.lua")
        with open(script, "w") as f:
            f.write(WRK_LUA % {"paths": lua_str(paths), "depth": depth, "out": lua_str(out)})
        cmd = ["wrk", "-t1", "-c%d" % a.conns, "-d%ds" % seconds, "--timeout", "2s",
               "-s", script]
        if close:
            cmd += ["-H", "Connection: close"]
        cmd.append(url)
    else:
        cmd = [a.load, "-t1", "--cpus", str(servers.CLIENT_CPU), "-c%d" % a.conns,
               "-d%ds" % seconds, "--json", out]
        if depth > 1:
            cmd += ["--pipeline", str(depth)]
        if close:
            cmd.append("--close")
        if paths:
            cmd += ["--paths", paths]
        cmd.append(url)
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.run(cmd, capture_output=True, text=True, preexec_fn=pin(servers.CLIENT_CPU),
                       timeout=seconds + 60)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime
    if not os.path.exists(out):
        raise RuntimeError("%s exited %d: %s" % (cmd[0], p.returncode,
                                                 (p.stderr or p.stdout).strip()[-300:]))
    with open(out) as f:
        j = json.load(f)
    if a.client == "wrk":
        return dict(requests=j["requests"], bytes=j["bytes"], seconds=j["duration_us"] / 1e6,
                    non2xx=j["non2xx"], errors=j["errors"], client_cpu=cpu)
    st = j["status"]
    return dict(requests=j["requests"], bytes=j["bytes"], seconds=j["duration_s"],
                non2xx=j["requests"] - st["2xx"] - st["3xx"], errors=sum(j["errors"].values()),
                client_cpu=cpu, status=st, error_kinds=j["errors"])


# ---------------------------------------------------------------- one run

def server_argv(a, name, tmp, port):
    if name in a.custom:
        cmd = a.custom[name].replace("{PORT}", str(port)).replace("{ROOT}",
                                                                   shlex.quote(a.docroot))
        return ["sh", "-c", "exec " + cmd]
    return server_cmd(name, tmp, port, a.docroot, spate_bin=a.spate,
                      spate_args=shlex.split(a.spate_args))


def one_run(a, name, scen, rnd, tmp):
    """Starts name fresh, prechecks, warms up, measures; returns the run's record."""
    rec = dict(server=name, scenario=scen, round=rnd)
    port = free_port()
    log = os.path.join(tmp, "%s-%s-%d.log" % (name, scen, rnd))
    try:
        srv = Server(server_argv(a, name, tmp, port), port, log=log)
    except Exception as e:  # noqa: BLE001  (any failure to start is reported, not raised)
        rec["failed"] = "did not start: %s %s" % (e, tail_of(log))
        return rec
    with srv:
        why = precheck(port, scen, a.docroot)
        if why:
            rec["failed"] = "precheck failed: " + why
            return rec
        try:
            if a.warmup > 0:
                run_client(a, port, scen, a.warmup, tmp)
            other = OtherCpu(srv.pid)
            c0 = srv.cpu()
            r = run_client(a, port, scen, a.seconds, tmp)
            c1 = srv.cpu()
            _, other_pct = other.end()
            fds = servers.group_fds(srv.pid)
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            rec["failed"] = "client failed: %s" % e
            return rec
        secs = r["seconds"] or a.seconds
        rec.update(rps=r["requests"] / secs, mbps=r["bytes"] / secs / 1e6,
                   cpu_us=(c1 - c0) * 1e6 / max(r["requests"], 1),
                   server_cpu_pct=100 * (c1 - c0) / secs,
                   client_cpu_pct=100 * r["client_cpu"] / secs, other_pct=other_pct,
                   requests=r["requests"], non2xx=r["non2xx"], errors=r["errors"],
                   died=not srv.alive(),
                   # descriptors of its fullest process at the end, against its limit
                   fds=max(((n, lim) for _, n, lim in fds), default=(0, 0),
                           key=lambda x: x[0] / max(x[1], 1)))
        for k in ("status", "error_kinds"):  # spate-load's breakdown, for the JSON
            if k in r:
                rec[k] = r[k]
    return rec


def tail_of(path):
    try:
        with open(path, "rb") as f:
            t = f.read()[-300:].decode(errors="replace").strip()
        return "(%s)" % t if t else ""
    except OSError:
        return ""


# ---------------------------------------------------------------- report

def fds_full(r):
    """The server ended the run with (almost) every descriptor its limit allows open."""
    n, lim = r.get("fds", (0, 0))
    return lim > 0 and n >= lim * 0.99


def summarize(a, runs):
    rows = []
    for scen in a.scenarios:
        for name in a.servers:
            rs = [r for r in runs if r["server"] == name and r["scenario"] == scen]
            ok = [r for r in rs if "failed" not in r]
            row = dict(scenario=scen, server=name, rounds=len(rs), measured=len(ok))
            fails = sorted({r["failed"] for r in rs if "failed" in r})
            flags = []
            if fails:
                flags.append("%s (%d/%d)" % ("; ".join(fails), len(rs) - len(ok), len(rs)))
            if ok:
                rps = [r["rps"] for r in ok]
                row.update(rps=statistics.median(rps),
                           mbps=statistics.median(r["mbps"] for r in ok),
                           cpu_us=statistics.median(r["cpu_us"] for r in ok),
                           server_cpu_pct=statistics.median(r["server_cpu_pct"] for r in ok),
                           client_cpu_pct=statistics.median(r["client_cpu_pct"] for r in ok),
                           other_pct=max(r["other_pct"] for r in ok))
                row["spread_pct"] = 100 * (max(rps) - min(rps)) / 2 / max(row["rps"], 1e-9)
                n = len(ok)
                for flag, hit in (("client", lambda r: r["client_cpu_pct"] >= CLIENT_BUSY),
                                  ("server", lambda r: r["server_cpu_pct"] >= CLIENT_BUSY),
                                  ("other-load", lambda r: r["other_pct"] > a.other_max),
                                  ("errors", lambda r: r["non2xx"] or r["errors"]),
                                  ("fds-at-limit", fds_full),
                                  ("died", lambda r: r["died"])):
                    k = sum(1 for r in ok if hit(r))
                    if k:
                        flags.append("%s %d/%d" % (flag, k, n))
                        if flag == "other-load":
                            flags[-1] += " (up to %.0f%% of a core)" % row["other_pct"]
            row["flags"] = flags
            rows.append(row)
    for row in rows:
        base = next((r for r in rows if r["server"] == "nginx" and
                     r["scenario"] == row["scenario"] and "rps" in r), None)
        if base and "rps" in row:
            row["rps_vs_nginx"] = row["rps"] / base["rps"]
            row["cpu_vs_nginx"] = row["cpu_us"] / base["cpu_us"] if base["cpu_us"] else None
    return rows


def markdown(rows):
    out = ["| scenario | server | req/s | MB/s | server CPU µs/req | req/s vs nginx "
           "| µs/req vs nginx | spread | server CPU | client CPU | flags |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "rps" not in r:
            out.append("| %s | %s | - | - | - | - | - | - | - | - | %s |" % (
                r["scenario"], r["server"], ", ".join(r["flags"]) or "not measured"))
            continue
        vs = ("%.2fx" % r["rps_vs_nginx"]) if "rps_vs_nginx" in r else "-"
        cvs = ("%.2fx" % r["cpu_vs_nginx"]) if r.get("cpu_vs_nginx") else "-"
        out.append("| %s | %s | %.0f | %.1f | %.2f | %s | %s | ±%.1f%% | %.0f%% | %.0f%% | %s |"
                   % (r["scenario"], r["server"], r["rps"], r["mbps"], r["cpu_us"], vs, cvs,
                      r["spread_pct"], r["server_cpu_pct"], r["client_cpu_pct"],
                      ", ".join(r["flags"])))
    return "\n".join(out) + "\n"


def version(name, a):
    cmds = {"spate": [a.spate, "--version"], "nginx": ["nginx", "-v"],
            "nginx-nosendfile": ["nginx", "-v"],
            "lighttpd": ["lighttpd", "-v"], "h2o": ["h2o", "--version"]}
    if name not in cmds:
        return a.custom.get(name, "")
    try:
        p = subprocess.run(cmds[name], capture_output=True, text=True, timeout=10)
    except OSError:
        return "?"
    return ((p.stdout or p.stderr).strip().splitlines() or ["?"])[0]


# ---------------------------------------------------------------- main

def find_load():
    for p in (os.path.join(ROOT, "build-rel", "tools", "load", "spate-load"),
              os.path.join(ROOT, "build", "tools", "load", "spate-load")):
        if os.access(p, os.X_OK):
            return p
    return shutil.which("spate-load")


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--servers", default=",".join(NAMED),
                    help="comma list of %s (default all)" % ",".join(NAMED))
    ap.add_argument("--server", action="append", default=[], metavar="NAME=CMD",
                    help="another server: CMD with {PORT} and {ROOT}, run by sh (repeatable)")
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1, help="seconds before each measured run")
    ap.add_argument("--conns", type=int, default=64)
    ap.add_argument("--client", choices=["spate-load", "wrk"])
    ap.add_argument("--load", help="spate-load binary (default build-rel/tools/load/spate-load)")
    ap.add_argument("--spate", default=os.path.join(ROOT, "build-rel", "spate"))
    ap.add_argument("--spate-args", default="", help="more arguments for spate")
    ap.add_argument("--docroot", default="/tmp/spate-bench-docroot")
    ap.add_argument("--tree-files", type=int,
                    help="files in the docroot's tree (default %d; none is built when no "
                    "scenario needs it)" % dr.TREE_FILES)
    ap.add_argument("--other-max", type=float, default=5.0,
                    help="%% of a core other processes may use before a run is flagged")
    ap.add_argument("--server-cpu", type=int, default=servers.SERVER_CPU)
    ap.add_argument("--client-cpu", type=int, default=servers.CLIENT_CPU)
    ap.add_argument("--json", help="every run and the summary as JSON")
    ap.add_argument("--md", help="the Markdown report to this file too")
    a = ap.parse_args(argv)
    a.custom = {}
    for s in a.server:
        name, eq, cmd = s.partition("=")
        if not eq or not name or not cmd:
            ap.error("--server wants NAME=CMD, got %r" % s)
        a.custom[name] = cmd
    a.servers = [s for s in a.servers.split(",") if s] + list(a.custom)
    for s in a.servers:
        if s not in NAMED and s not in a.custom:
            ap.error("unknown server %r (named: %s; others with --server NAME=CMD)" %
                     (s, ",".join(NAMED)))
    a.scenarios = [s for s in a.scenarios.split(",") if s]
    for s in a.scenarios:
        if s not in SCENARIOS:
            ap.error("unknown scenario %r (%s)" % (s, ",".join(SCENARIOS)))
    a.load = a.load or find_load()
    if not a.client:
        a.client = "spate-load" if a.load else "wrk"
    if a.client == "spate-load" and not (a.load and os.access(a.load, os.X_OK)):
        ap.error("no spate-load (build it: ninja -C build-rel spate-load, or give --load)")
    if a.client == "wrk" and not shutil.which("wrk"):
        ap.error("wrk is not installed (tools/deps bench)")
    if "tree" in a.scenarios and a.tree_files is None:
        a.tree_files = dr.TREE_FILES
    return a


def main(argv=None):
    a = parse_args(argv)
    servers.SERVER_CPU, servers.CLIENT_CPU = a.server_cpu, a.client_cpu
    allowed = os.sched_getaffinity(0)
    if not {a.server_cpu, a.client_cpu} <= allowed or a.server_cpu == a.client_cpu:
        raise SystemExit("compare.py: needs two distinct CPUs for server (%d) and client (%d); "
                         "this process may use %s" % (a.server_cpu, a.client_cpu, sorted(allowed)))
    missing = [s for s in a.servers if s not in a.custom and
               not shutil.which(a.spate if s == "spate" else servers.BINARY.get(s, s))]
    for s in missing:
        print("compare.py: %s is not installed: reported, not measured" % s, file=sys.stderr)
    dr.build(a.docroot, a.tree_files)
    tree = dr.tree_paths(a.docroot) if "tree" in a.scenarios else []
    if "tree" in a.scenarios and not tree:
        raise SystemExit("compare.py: the docroot %s has no tree (--tree-files 0)" % a.docroot)
    tmp = tempfile.mkdtemp(prefix="spate-compare-")
    os.chmod(tmp, 0o755)  # servers that drop to another user must enter their folders
    load0 = os.getloadavg()
    started = datetime.datetime.now(datetime.timezone.utc)
    runs = []
    try:
        for rnd in range(a.rounds):
            for scen in a.scenarios:
                path = SCENARIOS[scen][0]
                dr.warm(a.docroot, tree if path is None else [path])
                k = rnd % len(a.servers)
                for name in a.servers[k:] + a.servers[:k]:
                    if name in missing:
                        rec = dict(server=name, scenario=scen, round=rnd,
                                   failed="not installed")
                    else:
                        rec = one_run(a, name, scen, rnd, tmp)
                    runs.append(rec)
                    if "failed" in rec:
                        print("round %d %-6s %-9s %s" % (rnd + 1, scen, name, rec["failed"]),
                              file=sys.stderr)
                    else:
                        print("round %d %-6s %-9s %9.0f req/s %8.1f MB/s %7.2f us/req  srv %3.0f%% "
                              "client %3.0f%% other %3.0f%%" % (
                                  rnd + 1, scen, name, rec["rps"], rec["mbps"], rec["cpu_us"],
                                  rec["server_cpu_pct"], rec["client_cpu_pct"], rec["other_pct"]),
                              file=sys.stderr)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    load1 = os.getloadavg()
    rows = summarize(a, runs)
    meta = dict(date=started.strftime("%Y-%m-%d %H:%M UTC"), command=" ".join(
        shlex.quote(x) for x in [os.path.relpath(sys.argv[0], ROOT)] + (argv or sys.argv[1:])),
        client=a.client, rounds=a.rounds, seconds=a.seconds, warmup=a.warmup, conns=a.conns,
        loadavg_start=load0, loadavg_end=load1, cpus=os.cpu_count(),
        kernel=platform.release(),
        versions={s: version(s, a) for s in a.servers if s not in missing})
    text = ("%s; client %s -t1 on CPU %d, servers on CPU %d; %d round(s) of %d s (+%d s "
            "warm-up), %d connections; load average %.2f %.2f %.2f at the start, %.2f %.2f %.2f "
            "at the end\n\n" % (
                meta["date"], a.client, a.client_cpu, a.server_cpu, a.rounds, a.seconds,
                a.warmup, a.conns, *load0, *load1)
            + "".join("- %s: %s\n" % (s, v) for s, v in meta["versions"].items()) + "\n"
            + markdown(rows))
    sys.stdout.write(text)
    if a.md:
        with open(a.md, "w") as f:
            f.write(text)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(dict(meta=meta, runs=runs, summary=rows), f, indent=1)
    return rows


if __name__ == "__main__":
    main()
