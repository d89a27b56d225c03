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
import shutil
import statistics
import sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import serverrun  # noqa: E402  (beside this file)


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
            r = serverrun.run_one(name, cmd, port, "/page.html", expected(), a.seconds, a.conns)
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
