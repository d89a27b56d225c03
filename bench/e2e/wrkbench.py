#!/usr/bin/env python3
"""wrkbench.py - a self-contained wrk run of spate against nginx (if installed), same pinning.

Both servers get one worker pinned to CPU 0 (taskset), wrk -t1 runs on CPU 1, over 127.0.0.1.
Reports req/s and server CPU microseconds per request (utime+stime of the server's process
group from /proc) for each server, alternating runs, medians over rounds.

  bench/e2e/wrkbench.py [--rounds 3] [--seconds 5] [--conns 64] [--path /small.bin]

For the full comparison with h2o, lighttpd and the speed-of-light servers use compare.sh with
the shared harness. Python 3 standard library only; needs wrk (tools/deps bench).
"""
import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLK = os.sysconf("SC_CLK_TCK")


def group_cpu(pgid):
    total = 0
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            s = open("/proc/%s/stat" % d).read()
        except OSError:
            continue
        f = s[s.rfind(")") + 2:].split()
        if int(f[2]) == pgid:
            total += int(f[11]) + int(f[12])
    return total / CLK


def wait_port(port, proc, timeout=10):
    t = time.monotonic()
    while time.monotonic() - t < timeout:
        if proc.poll() is not None:
            raise SystemExit("server exited: %s" % proc.returncode)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("server did not listen on %d" % port)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def nginx_conf(tmp, port, docroot):
    conf = os.path.join(tmp, "nginx.conf")
    with open(conf, "w") as f:
        f.write("""worker_processes 1; daemon off; master_process off; pid %(t)s/nginx.pid;
error_log %(t)s/error.log warn;
events { worker_connections 16384; use epoll; }
http { include /etc/nginx/mime.types; sendfile on; tcp_nopush on; tcp_nodelay on;
  keepalive_requests 1000000; access_log off; open_file_cache max=10000 inactive=60s;
  client_body_temp_path %(t)s/b; proxy_temp_path %(t)s/p; fastcgi_temp_path %(t)s/f;
  uwsgi_temp_path %(t)s/u; scgi_temp_path %(t)s/s;
  server { listen 127.0.0.1:%(p)d backlog=4096; root %(r)s; location / { } } }
""" % {"t": tmp, "p": port, "r": docroot})
    return ["nginx", "-c", conf]


def run_one(name, argv, port, args):
    proc = subprocess.Popen(["taskset", "-c", "0"] + argv, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_port(port, proc)
        url = "http://127.0.0.1:%d%s" % (port, args.path)
        subprocess.run(["taskset", "-c", "1", "wrk", "-t1", "-c%d" % args.conns, "-d1s", url],
                       capture_output=True)
        c0 = group_cpu(proc.pid)
        out = subprocess.run(["taskset", "-c", "1", "wrk", "-t1", "-c%d" % args.conns,
                              "-d%ds" % args.seconds, url], capture_output=True, text=True).stdout
        c1 = group_cpu(proc.pid)
        m = re.search(r"(\d+) requests in", out)
        n = int(m.group(1)) if m else 0
        rps = n / args.seconds
        return rps, (c1 - c0) * 1e6 / max(n, 1)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)


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
            argv = ([args.spate, "--root", docroot, "--listen", "127.0.0.1:%d" % port,
                     "--workers", "1"] if name == "spate" else nginx_conf(tmp, port, docroot))
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
