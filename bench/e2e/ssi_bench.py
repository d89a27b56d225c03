#!/usr/bin/env python3
"""SSI page benchmark: spate vs nginx, one page with three includes of small static files.

Each server (one worker) is pinned to CPU 0, wrk -t1 to CPU 1, over 127.0.0.1. Rounds are
interleaved (spate, nginx, then nginx, spate, ...); every server starts fresh each round. The
server's CPU per request is utime+stime of its process group (from /proc, before and after
the measured run) divided by the requests wrk completed. Prints each run and the medians.

  flock /tmp/spate-bench.lock python3 bench/e2e/ssi_bench.py --spate build-rel/spate
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
import time
import urllib.request

ROOT = "/tmp/ssibench"
PAGE = ("<!DOCTYPE html>\n<html><head><title>ssi</title></head><body>\n"
        "<header><!--#include virtual=\"/inc/header.html\" --></header>\n"
        "<main><p>" + "The page's own text. " * 12 + "</p>\n"
        "<!--#include virtual=\"/inc/nav.html\" --></main>\n"
        "<footer><!--#include virtual=\"/inc/footer.html\" --></footer>\n</body></html>\n")
INCS = {"header.html": "<h1>Site name</h1><p>" + "header " * 20 + "</p>",
        "nav.html": "<ul>" + "".join("<li><a href=\"/p%d\">page %d</a></li>" % (i, i)
                                     for i in range(6)) + "</ul>",
        "footer.html": "<p>" + "footer text " * 15 + "</p>"}


NGINX_CONF = """worker_processes 1;
daemon off;
master_process off;
pid {root}/nginx/pid;
error_log {root}/nginx/error.log;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  include /etc/nginx/mime.types;
  keepalive_requests 100000;
{cache}
  client_body_temp_path {root}/nginx;
  proxy_temp_path {root}/nginx;
  fastcgi_temp_path {root}/nginx;
  uwsgi_temp_path {root}/nginx;
  scgi_temp_path {root}/nginx;
  server {{
    listen 127.0.0.1:{port};
    root {root}/www;
    ssi on;
  }}
}}
"""


def expected():
    out = PAGE
    for k, v in INCS.items():
        out = out.replace('<!--#include virtual="/inc/%s" -->' % k, v)
    return out.encode()


def setup(port_spate, port_nginx, nginx_cache=False):
    shutil.rmtree(ROOT, ignore_errors=True)
    os.makedirs(ROOT + "/www/inc")
    os.makedirs(ROOT + "/nginx")
    with open(ROOT + "/www/page.html", "w") as f:
        f.write(PAGE)
    for k, v in INCS.items():
        with open(ROOT + "/www/inc/" + k, "w") as f:
            f.write(v)
    with open(ROOT + "/spate.conf", "w") as f:
        f.write("workers 1;\naccess_log off;\nuser root;\nserver {\n  listen 127.0.0.1:%d;\n"
                "  root %s/www;\n  ssi on;\n}\n" % (port_spate, ROOT))
    with open(ROOT + "/nginx.conf", "w") as f:
        cache = "  open_file_cache max=1000;\n  open_file_cache_valid 1s;" if nginx_cache else ""
        f.write(NGINX_CONF.format(root=ROOT, port=port_nginx, cache=cache))


def group_cpu(pgid):
    """utime+stime (seconds) of every process in the group, threads included."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % pid) as f:
                st = f.read()
        except OSError:
            continue
        fields = st[st.rindex(")") + 2:].split()
        if int(fields[2]) == pgid:
            total += int(fields[11]) + int(fields[12])
    return total / tick


def wait_port(port, timeout=10):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nothing listens on %d" % port)


def run_one(name, cmd, port, seconds, conns):
    p = subprocess.Popen(["taskset", "-c", "0"] + cmd, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_port(port)
        url = "http://127.0.0.1:%d/page.html" % port
        body = urllib.request.urlopen(url).read()
        ok = body == expected()
        wrk = ["taskset", "-c", "1", "wrk", "-t1", "-c%d" % conns]
        subprocess.run(wrk + ["-d1s", url], capture_output=True)  # warm-up
        c0 = group_cpu(p.pid)
        out = subprocess.run(wrk + ["-d%ds" % seconds, url], capture_output=True,
                             text=True).stdout
        c1 = group_cpu(p.pid)
        n = int(re.search(r"(\d+) requests in", out).group(1))
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        return dict(name=name, rps=rps, us=(c1 - c0) * 1e6 / n, ok=ok and not bad)
    finally:
        os.killpg(p.pid, signal.SIGTERM)
        p.wait(timeout=20)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spate", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--conns", type=int, default=64)
    ap.add_argument("--nginx-open-file-cache", action="store_true",
                    help="give nginx an open_file_cache too (spate's file cache is on by default)")
    a = ap.parse_args()
    setup(18180, 18181, a.nginx_open_file_cache)
    servers = [("spate", [os.path.abspath(a.spate), "-c", ROOT + "/spate.conf"], 18180),
               ("nginx", ["nginx", "-c", ROOT + "/nginx.conf"], 18181)]
    res = {"spate": [], "nginx": []}
    for rnd in range(a.rounds):
        order = servers if rnd % 2 == 0 else servers[::-1]
        for name, cmd, port in order:
            r = run_one(name, cmd, port, a.seconds, a.conns)
            res[name].append(r)
            print("round %d %-5s %9.0f req/s %7.2f us/req%s" %
                  (rnd + 1, name, r["rps"], r["us"], "" if r["ok"] else "  BAD BODY/STATUS"))
            sys.stdout.flush()
    med = {k: (statistics.median(x["rps"] for x in v), statistics.median(x["us"] for x in v))
           for k, v in res.items()}
    for k, (rps, us) in med.items():
        print("median %-5s %9.0f req/s %7.2f us/req" % (k, rps, us))
    print("spate/nginx CPU per request: %.2fx" % (med["spate"][1] / med["nginx"][1]))


if __name__ == "__main__":
    main()
