#!/usr/bin/env python3
"""CGI benchmark: spate vs lighttpd (mod_cgi), the same /bin/sh script answering 6 bytes.

nginx has no CGI; lighttpd forks its scripts from its own event loop, the usual lightweight
choice. Each server (one worker) is pinned to CPU 0 with its scripts, wrk -t1 to CPU 1, over
127.0.0.1. Rounds are interleaved; every server starts fresh each round. CPU per request is
utime+stime of the server's processes plus that of the children they reaped (the scripts:
spate's spawner reaps them, lighttpd itself does), from /proc before and after the measured
run, divided by the requests wrk completed. Prints each run and the medians.

  flock /tmp/spate-bench.lock python3 bench/e2e/cgi_bench.py --spate build-rel/spate
"""
import argparse
import os
import shutil
import statistics
import sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import serverrun  # noqa: E402  (beside this file)


ROOT = "/tmp/cgibench"
SCRIPT = "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nhello\\n'\n"

LIGHTTPD_CONF = """server.document-root = "{root}/www"
server.bind = "127.0.0.1"
server.port = {port}
server.modules = ("mod_alias", "mod_cgi")
server.errorlog = "{root}/lighttpd.log"
server.max-keep-alive-requests = 100000
alias.url = ("/cgi-bin/" => "{root}/cgi/")
$HTTP["url"] =~ "^/cgi-bin/" {{ cgi.assign = ("" => "") }}
"""


def setup(port_spate, port_lighttpd):
    shutil.rmtree(ROOT, ignore_errors=True)
    os.makedirs(ROOT + "/www")
    os.makedirs(ROOT + "/cgi")
    with open(ROOT + "/cgi/hello.sh", "w") as f:
        f.write(SCRIPT)
    os.chmod(ROOT + "/cgi/hello.sh", 0o755)
    with open(ROOT + "/spate.conf", "w") as f:
        f.write("workers 1;\naccess_log off;\nuser root;\nerror_log %s/spate.log;\n"
                "server {\n  listen 127.0.0.1:%d;\n  root %s/www;\n"
                "  location /cgi-bin/ { alias %s/cgi/; cgi on; }\n}\n"
                % (ROOT, port_spate, ROOT, ROOT))
    with open(ROOT + "/lighttpd.conf", "w") as f:
        f.write(LIGHTTPD_CONF.format(root=ROOT, port=port_lighttpd))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spate", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--conns", type=int, default=8)
    a = ap.parse_args()
    setup(18190, 18191)
    servers = [("spate", [os.path.abspath(a.spate), "-c", ROOT + "/spate.conf"], 18190),
               ("lighttpd", ["lighttpd", "-D", "-f", ROOT + "/lighttpd.conf"], 18191)]
    res = {"spate": [], "lighttpd": []}
    for rnd in range(a.rounds):
        order = servers if rnd % 2 == 0 else servers[::-1]
        for name, cmd, port in order:
            r = serverrun.run_one(name, cmd, port, "/cgi-bin/hello.sh", b"hello\n", a.seconds,
                                 a.conns, children=True, settle=0.2)
            res[name].append(r)
            print("round %d %-8s %8.0f req/s %8.1f us/req%s" %
                  (rnd + 1, name, r["rps"], r["us"], "" if r["ok"] else "  BAD BODY/STATUS"))
            sys.stdout.flush()
    med = {k: (statistics.median(x["rps"] for x in v), statistics.median(x["us"] for x in v))
           for k, v in res.items()}
    for k, (rps, us) in med.items():
        print("median %-8s %8.0f req/s %8.1f us/req" % (k, rps, us))
    print("spate/lighttpd CPU per request: %.2fx" % (med["spate"][1] / med["lighttpd"][1]))


if __name__ == "__main__":
    main()
