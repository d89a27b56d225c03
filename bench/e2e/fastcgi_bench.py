#!/usr/bin/env python3
"""FastCGI benchmark: spate vs nginx, both with fastcgi_pass to the same php-fpm pool serving a
trivial page (<?php echo "hi";), over a unix socket with kept-alive FastCGI connections
(an upstream with keepalive, fastcgi_keep_conn on, in both).

Each server (one worker) is pinned to CPU 0; wrk -t1 and php-fpm (pm static, CHILDREN
children) share CPU 1, over 127.0.0.1. wrk uses at most CHILDREN connections, so every
FastCGI connection a server keeps has a php-fpm child of its own (a kept connection holds its
child: with more connections than children, one would wait for a child that never comes).
Rounds are interleaved (spate, nginx, then nginx, spate, ...); every server starts fresh each
round, php-fpm runs throughout. The server's CPU per request is utime+stime of its process
group (from /proc, before and after the measured run) divided by the requests wrk completed.
Prints each run and the medians.

  flock /tmp/spate-bench.lock python3 bench/e2e/fastcgi_bench.py --spate build-rel/spate
"""
import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import serverrun  # noqa: E402  (beside this file)


ROOT = "/tmp/fcgibench"
SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

FPM_CONF = """[global]
error_log = {root}/fpm.log
daemonize = no
[bench]
listen = {root}/fpm.sock
pm = static
pm.max_children = {children}
pm.max_requests = 0
"""

NGINX_CONF = """worker_processes 1;
daemon off;
master_process off;
pid {root}/nginx/pid;
error_log {root}/nginx/error.log;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  keepalive_requests 100000;
  client_body_temp_path {root}/nginx;
  proxy_temp_path {root}/nginx;
  fastcgi_temp_path {root}/nginx;
  uwsgi_temp_path {root}/nginx;
  scgi_temp_path {root}/nginx;
  upstream php {{ server unix:{root}/fpm.sock; keepalive {children}; }}
  server {{
    listen 127.0.0.1:{port};
    root {root}/www;
    location ~ \\.php$ {{
      fastcgi_pass php;
      fastcgi_keep_conn on;
      include /etc/nginx/fastcgi.conf;
    }}
  }}
}}
"""

SPATE_CONF = """workers 1;
access_log off;
user root;
upstream php {{ server unix:{root}/fpm.sock; keepalive {children}; }}
server {{
  listen 127.0.0.1:{port};
  root {root}/www;
  location ~ \\.php$ {{
    fastcgi_pass php;
    fastcgi_keep_conn on;
    include {src}/examples/fastcgi.conf;
  }}
}}
"""


def setup(port_spate, port_nginx, children):
    shutil.rmtree(ROOT, ignore_errors=True)
    os.makedirs(ROOT + "/www")
    os.makedirs(ROOT + "/nginx")
    with open(ROOT + "/www/hi.php", "w") as f:
        f.write('<?php echo "hi";\n')
    with open(ROOT + "/fpm.conf", "w") as f:
        f.write(FPM_CONF.format(root=ROOT, children=children))
    with open(ROOT + "/spate.conf", "w") as f:
        f.write(SPATE_CONF.format(root=ROOT, port=port_spate, children=children, src=SRC))
    with open(ROOT + "/nginx.conf", "w") as f:
        f.write(NGINX_CONF.format(root=ROOT, port=port_nginx, children=children))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spate", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--children", type=int, default=16, help="php-fpm children = wrk conns")
    ap.add_argument("--php-fpm", default=shutil.which("php-fpm8.2") or "php-fpm")
    a = ap.parse_args()
    setup(18190, 18191, a.children)
    fpm_cmd = ["taskset", "-c", "1", a.php_fpm, "-n", "-F", "-y", ROOT + "/fpm.conf"]
    if os.geteuid() == 0:
        fpm_cmd.insert(4, "-R")
    fpm = subprocess.Popen(fpm_cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           start_new_session=True)
    try:
        for _ in range(200):
            if os.path.exists(ROOT + "/fpm.sock"):
                break
            time.sleep(0.05)
        servers = [("spate", [os.path.abspath(a.spate), "-c", ROOT + "/spate.conf"], 18190),
                   ("nginx", ["nginx", "-c", ROOT + "/nginx.conf"], 18191)]
        res = {"spate": [], "nginx": []}
        for rnd in range(a.rounds):
            order = servers if rnd % 2 == 0 else servers[::-1]
            for name, cmd, port in order:
                r = serverrun.run_one(name, cmd, port, "/hi.php", b"hi", a.seconds, a.children)
                res[name].append(r)
                print("round %d %-5s %9.0f req/s %7.2f us/req%s" %
                      (rnd + 1, name, r["rps"], r["us"], "" if r["ok"] else "  BAD"))
                sys.stdout.flush()
    finally:
        os.killpg(fpm.pid, signal.SIGTERM)
        fpm.wait(timeout=20)
    med = {k: (statistics.median(x["rps"] for x in v), statistics.median(x["us"] for x in v))
           for k, v in res.items()}
    for k, (rps, us) in med.items():
        print("median %-5s %9.0f req/s %7.2f us/req" % (k, rps, us))
    print("spate/nginx CPU per request: %.2fx" % (med["spate"][1] / med["nginx"][1]))


if __name__ == "__main__":
    main()
