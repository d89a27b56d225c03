"""One measured run of a server under wrk, as the dynamic-content benchmarks (cgi_bench,
fastcgi_bench, ssi_bench) make it: the server pinned to CPU 0 in its own process group
(servers.Server), a correctness check of one response, a 1 s warm-up and the measured run with
`wrk -t1` on CPU 1; the server's CPU per request is the group's utime+stime (with its reaped
children's when asked: CGI scripts) over the measured run, divided by the requests wrk
completed."""
import os
import re
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from servers import CLIENT_CPU, Server, pin  # noqa: E402


def run_one(name, cmd, port, path, want, seconds, conns, children=False, settle=0.0):
    """Starts cmd, checks that path answers want, measures; returns name, rps, us, ok."""
    with Server(cmd, port) as srv:
        url = "http://127.0.0.1:%d%s" % (port, path)
        ok = urllib.request.urlopen(url).read() == want
        wrk = ["wrk", "-t1", "-c%d" % conns]
        subprocess.run(wrk + ["-d1s", url], capture_output=True,
                       preexec_fn=pin(CLIENT_CPU))  # warm-up
        time.sleep(settle)
        c0 = srv.cpu(children)
        out = subprocess.run(wrk + ["-d%ds" % seconds, url], capture_output=True, text=True,
                             preexec_fn=pin(CLIENT_CPU)).stdout
        time.sleep(settle)  # what the run started is over (CGI scripts reaped)
        c1 = srv.cpu(children)
    n = int(re.search(r"(\d+) requests in", out).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errs = re.search(r"Socket errors: (.*)", out)
    return dict(name=name, rps=rps, us=(c1 - c0) * 1e6 / n, ok=ok and not bad and not errs)
