#!/usr/bin/env python3
"""hugetree.py - the million-file tree benchmark: the tree (generated, never stored) and its runs.

    hugetree.py gen ROOT [--files N] [--per-dir K] [--seed S]
    hugetree.py run ROOT [--mode warm|cold] [--rounds 3] [--seconds 20] SERVER...
        SERVER: nginx, lighttpd, h2o (configured as every benchmark here configures them:
        bench/e2e/servers.py, one worker, access log off), or
        NAME='COMMAND {PORT} {ROOT}' (run in the foreground, pinned to CPU 0 like them).

Writes ROOT/t/DDD/FFFF.bin: N files (default 1,000,000), K per directory (default 1,000),
sizes uniform in 1..16 KiB, bytes derived from the seed and the file's number, and
ROOT/tree-paths.txt: every URL path once, in a fixed shuffled order. That order is the
popularity order of bench/e2e/zipf.lua (line 1 is the most requested file): shuffled so
that popular files are spread over the directories, as on a real site, not packed into the
first one. The same seed gives the same tree, byte for byte, on every machine.

Existing files of the right size are kept (a rerun after an interruption finishes the job).
About 8.7 GB for the default tree; about 5 minutes on an ext4 VM disk.

A run: each server in turn (rotated per round), pinned to CPU 0, gets two wrk clients on
CPU 1 at once for --seconds: the Zipf(0.9) client (64 connections, bench/e2e/zipf.lua
over tree-paths.txt) and the hot-set probe (bench/e2e/hotprobe.py: the 100 most popular
paths, uniformly, 500 requests/s over 4 connections, real-time priority, latency from each
request's intended send time): its p99 is the latency of files that are always cached while
the misses run. warm: the tree is read into the page cache right before each run (vmtouch, or
Python); cold: `sync; echo 3 > /proc/sys/vm/drop_caches` right after the server starts, then
only the hot set is read back. Reported per run: requests/s (both clients), server CPU
microseconds per request (utime+stime of the server's process group, io_uring's kernel
workers included), both clients' p50/p99, MB read from disk during the run, and for spate the
file cache's hit ratio (from --stats-on-exit, if the command passes it). Medians over rounds.
Loopback only; every process it starts, it stops by PID.
"""
import argparse
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

KIB = 1024


def layout(n, per_dir, seed):
    """(url path, size) of every file, in file-number order."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        d, f = divmod(i, per_dir)
        out.append(("/t/%03d/%04d.bin" % (d, f), rng.randint(1 * KIB, 16 * KIB)))
    return out


def content(block, i, path, size):
    """The file's bytes: its own path first (a server sending the wrong file is caught),
    then a window of the seeded block that depends on the file's number."""
    head = (path + "\n").encode()
    start = (i * 7919) % (len(block) // 2)
    body = block[start:start + size]
    return (head + body)[:size]


def gen(args):
    files = layout(args.files, args.per_dir, args.seed)
    block = random.Random(args.seed ^ 0x5A5A).randbytes(64 * KIB)
    made = kept = 0
    last_dir = None
    for i, (path, size) in enumerate(files):
        fn = os.path.join(args.root, path.lstrip("/"))
        d = os.path.dirname(fn)
        if d != last_dir:
            os.makedirs(d, exist_ok=True)
            last_dir = d
        try:
            if os.stat(fn).st_size == size:
                kept += 1
                continue
        except FileNotFoundError:
            pass
        fd = os.open(fn, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, content(block, i, path, size))
        finally:
            os.close(fd)
        made += 1
        if made % 100000 == 0:
            print("hugetree: %d files written" % made, file=sys.stderr, flush=True)
    order = [p for p, _ in files]
    random.Random(args.seed + 1).shuffle(order)
    tmp = os.path.join(args.root, "tree-paths.txt.tmp")
    with open(tmp, "w") as f:
        f.write("".join(p + "\n" for p in order))
    os.replace(tmp, os.path.join(args.root, "tree-paths.txt"))
    total = sum(s for _, s in files)
    print("hugetree: %d files (%d written, %d kept), %.2f GB, in %s" %
          (len(files), made, kept, total / 1e9, args.root))


HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
# the same launchers and CPU accounting as every benchmark here
from servers import LAUNCHERS, SERVER_CPU, free_port, group_cpu, pin  # noqa: E402

HOT = 100


def disk_read_mb():
    """Bytes read from block devices so far (MB), from /proc/diskstats (whole disks only)."""
    total = 0
    for line in open("/proc/diskstats"):
        f = line.split()
        if re.match(r"^(vd[a-z]+|sd[a-z]+|nvme\d+n\d+)$", f[2]):
            total += int(f[5]) * 512
    return total / 1e6


def port_answers(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


class Server:
    """A server under test: started pinned to CPU 0 in its own process group."""

    def __init__(self, spec, root):
        self.name, _, cmd = spec.partition("=")
        self.cmd, self.root = cmd, root
        self.proc = self.pid = None
        self.errfile = self.rundir = None

    def start(self, port):
        self.errfile = tempfile.NamedTemporaryFile(prefix="hugetree-err-", delete=False)
        if self.cmd:
            cmd = self.cmd.replace("{PORT}", str(port)).replace("{ROOT}", self.root)
            argv = ["sh", "-c", "exec " + cmd]
        else:
            if self.name not in LAUNCHERS:
                raise SystemExit("hugetree: unknown server %r (nginx, lighttpd, h2o or "
                                 "NAME='COMMAND {PORT} {ROOT}')" % self.name)
            # its configuration and pid file go to a scratch folder of its own, removed at stop
            self.rundir = tempfile.mkdtemp(prefix="hugetree-%s-" % self.name)
            os.chmod(self.rundir, 0o755)
            argv = LAUNCHERS[self.name](self.rundir, port, self.root)
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=self.errfile,
                                     stdin=subprocess.DEVNULL, start_new_session=True,
                                     preexec_fn=pin(SERVER_CPU))
        self.pid = self.proc.pid  # also its process group's id
        for _ in range(200):
            if port_answers(port):
                return
            if self.proc.poll() is not None:
                raise SystemExit("%s exited (status %s): %s" % (self.name, self.proc.returncode,
                                                                self.stop().strip()[-400:]))
            time.sleep(0.05)
        raise SystemExit("%s did not answer on %d: %s" % (self.name, port,
                                                          self.stop().strip()[-400:]))

    def stop(self):
        """Stops its process group (by the leader's PID); returns what it wrote to stderr."""
        if self.proc.poll() is None:
            os.killpg(self.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.pid, signal.SIGKILL)
                self.proc.wait()
        self.errfile.close()
        err = open(self.errfile.name, errors="replace").read()
        os.unlink(self.errfile.name)
        if self.rundir:
            err += "".join(open(os.path.join(dp, f), errors="replace").read()
                           for dp, _, fs in os.walk(self.rundir) for f in fs
                           if f == "error.log")
            shutil.rmtree(self.rundir, ignore_errors=True)
            self.rundir = None
        return err


def wrk_cmd(port, conns, seconds, paths, hot):
    return ["taskset", "-c", "1", "wrk", "-t1", "-c%d" % conns, "-d%ds" % seconds, "--latency",
            "-s", os.path.join(HERE, "zipf.lua"), "http://127.0.0.1:%d/" % port, "--",
            paths, "0.9", str(hot)]


def parse_wrk(text):
    out = {}
    m = re.search(r"(\d+) requests in ([\d.]+)s", text)
    out["requests"] = int(m.group(1)) if m else 0
    for pct in ("50", "90", "99"):
        m = re.search(r"^\s+%s(?:\.000)?%%\s+([\d.]+)(us|ms|s)\s*$" % pct, text, re.M)
        if m:
            v = float(m.group(1)) * {"us": 1, "ms": 1e3, "s": 1e6}[m.group(2)]
            out["p" + pct] = v
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    out["non2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: (.*)", text)
    out["errors"] = m.group(1).strip() if m else ""
    return out


def warm_tree(root):
    if shutil.which("vmtouch"):
        subprocess.run(["vmtouch", "-qt", os.path.join(root, "t")], check=False)
        return
    for d, _, files in os.walk(os.path.join(root, "t")):
        for fn in files:
            with open(os.path.join(d, fn), "rb") as f:
                f.read()


def read_hot(root, paths):
    for p in paths[:HOT]:
        with open(os.path.join(root, p.lstrip("/")), "rb") as f:
            f.read()


def run_one(srv, args, paths_file, hot_paths):
    port = free_port()
    if args.mode == "warm" and not args.no_touch:
        warm_tree(args.root)
    srv.start(port)
    if args.mode == "cold":
        subprocess.run(["sync"], check=True)
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        read_hot(args.root, hot_paths)
    disk0, cpu0, t0 = disk_read_mb(), group_cpu(srv.pid), time.monotonic()
    zipf = subprocess.Popen(wrk_cmd(port, 64, args.seconds, paths_file, 0),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    probe = ["taskset", "-c", "1", sys.executable, os.path.join(HERE, "hotprobe.py"), str(port),
             paths_file, "--hot", str(HOT), "--rate", "500", "--seconds", str(args.seconds)]
    if shutil.which("chrt") and os.geteuid() == 0:
        probe = ["chrt", "-f", "20"] + probe
    hot = subprocess.Popen(probe, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    zout, _ = zipf.communicate(timeout=args.seconds + 120)
    hout, _ = hot.communicate(timeout=args.seconds + 120)
    cpu = group_cpu(srv.pid) - cpu0
    wall = time.monotonic() - t0
    disk = disk_read_mb() - disk0
    err = srv.stop()
    z = parse_wrk(zout)
    try:
        h = json.loads(hout.strip().splitlines()[-1])
        h["non2xx"], h["errors"] = h["errors"], ""
    except (ValueError, IndexError):
        print(hout, file=sys.stderr)
        h = {"requests": 0, "non2xx": 0, "errors": "probe failed"}
    reqs = z["requests"] + h["requests"]
    r = {"rps": reqs / args.seconds, "cpu_us": cpu * 1e6 / reqs if reqs else float("nan"),
         "zipf_p50": z.get("p50"), "zipf_p99": z.get("p99"), "hot_p50": h.get("p50"),
         "hot_p99": h.get("p99"), "disk_mb": disk, "hit": None,
         "flags": ";".join(x for x in ("non2xx=%d" % (z["non2xx"] + h["non2xx"])
                                       if z["non2xx"] + h["non2xx"] else "",
                                       z["errors"], h["errors"]) if x)}
    m = re.search(r"spate: stats worker=total (.*)", err)
    if m:
        st = dict(kv.split("=") for kv in m.group(1).split())
        hits, misses = int(st["fcache_hits"]), int(st["fcache_misses"])
        r["hit"] = hits / (hits + misses) if hits + misses else None
    if not reqs:
        print(zout, hout, err, file=sys.stderr)
    return r


def fmt(v, spec):
    return "-" if v is None else spec % v


def run(args):
    paths_file = os.path.join(args.root, "tree-paths.txt")
    hot_paths = [l.strip() for _, l in zip(range(HOT), open(paths_file))]
    servers = [Server(s, args.root) for s in args.servers]
    results = {s.name: [] for s in servers}
    for rnd in range(args.rounds):
        order = servers[rnd % len(servers):] + servers[:rnd % len(servers)]
        for srv in order:
            r = run_one(srv, args, paths_file, hot_paths)
            results[srv.name].append(r)
            print("round %d %-10s %8.0f req/s %7.2f us/req  zipf p50/p99 %s/%s us  hot p50/p99 "
                  "%s/%s us  disk %.0f MB  hit %s %s" %
                  (rnd + 1, srv.name, r["rps"], r["cpu_us"], fmt(r["zipf_p50"], "%.0f"),
                   fmt(r["zipf_p99"], "%.0f"), fmt(r["hot_p50"], "%.0f"),
                   fmt(r["hot_p99"], "%.0f"), r["disk_mb"], fmt(r["hit"], "%.3f"), r["flags"]),
                  flush=True)
    base = args.servers[0].partition("=")[0] if not args.base else args.base
    med = {n: {k: (statistics.median([x[k] for x in rs if x[k] is not None])
                   if any(x[k] is not None for x in rs) else None)
               for k in ("rps", "cpu_us", "zipf_p99", "hot_p50", "hot_p99", "disk_mb", "hit")}
           for n, rs in results.items()}
    lines = ["", "huge tree, %s, %d rounds x %d s, medians (ratios to %s)" %
             (args.mode, args.rounds, args.seconds, base), "",
             "| server | req/s | CPU µs/req | ×%s | zipf p99 µs | hot p50 µs | hot p99 µs | ×%s "
             "| disk MB | hit ratio |" % (base, base), "|---|---|---|---|---|---|---|---|---|---|"]
    b = med.get(base)
    for n, m in med.items():
        lines.append("| %s | %.0f | %.2f | %s | %s | %s | %s | %s | %.0f | %s |" % (
            n, m["rps"], m["cpu_us"],
            fmt(m["cpu_us"] / b["cpu_us"] if b else None, "%.2f"), fmt(m["zipf_p99"], "%.0f"),
            fmt(m["hot_p50"], "%.0f"), fmt(m["hot_p99"], "%.0f"),
            fmt(m["hot_p99"] / b["hot_p99"] if b and b["hot_p99"] and m["hot_p99"] else None,
                "%.2f"), m["disk_mb"], fmt(m["hit"], "%.3f")))
    text = "\n".join(lines) + "\n"
    print(text)
    if args.md:
        with open(args.md, "a") as f:
            f.write(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gen", help="write the tree and its path list")
    g.add_argument("root")
    g.add_argument("--files", type=int, default=1000000)
    g.add_argument("--per-dir", type=int, default=1000)
    g.add_argument("--seed", type=int, default=20261201)
    r = sub.add_parser("run", help="benchmark servers on the tree")
    r.add_argument("root")
    r.add_argument("servers", nargs="+")
    r.add_argument("--mode", choices=("warm", "cold"), default="warm")
    r.add_argument("--rounds", type=int, default=3)
    r.add_argument("--seconds", type=int, default=20)
    r.add_argument("--base", help="the server ratios are given to (default: the first)")
    r.add_argument("--md", help="append the table to this file")
    r.add_argument("--no-touch", action="store_true",
                   help="warm: do not read the tree before each run (a quick look)")
    args = ap.parse_args()
    if args.cmd == "gen":
        gen(args)
    else:
        run(args)


if __name__ == "__main__":
    main()
