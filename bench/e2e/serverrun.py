"""One measured run of a server under wrk, as the dynamic-content benchmarks (cgi_bench,
fastcgi_bench, ssi_bench) make it: the server pinned to CPU 0 in its own process group, a
correctness check of one response, a 1 s warm-up and the measured run with `wrk -t1` on CPU
1; the server's CPU per request is the group's utime+stime (with its reaped children's when
asked: CGI scripts) over the measured run, divided by the requests wrk completed."""
import os
import re
import signal
import socket
import subprocess
import time
import urllib.request


def group_cpu(pgid, children=False):
    """utime+stime (seconds) of every process in the group, threads included; with children,
    also what the processes it reaped used (cutime+cstime)."""
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
            total += sum(int(x) for x in fields[11:15 if children else 13])
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


def run_one(name, cmd, port, path, want, seconds, conns, children=False, settle=0.0):
    """Starts cmd, checks that path answers want, measures; returns name, rps, us, ok."""
    p = subprocess.Popen(["taskset", "-c", "0"] + cmd, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_port(port)
        url = "http://127.0.0.1:%d%s" % (port, path)
        ok = urllib.request.urlopen(url).read() == want
        wrk = ["taskset", "-c", "1", "wrk", "-t1", "-c%d" % conns]
        subprocess.run(wrk + ["-d1s", url], capture_output=True)  # warm-up
        time.sleep(settle)
        c0 = group_cpu(p.pid, children)
        out = subprocess.run(wrk + ["-d%ds" % seconds, url], capture_output=True,
                             text=True).stdout
        time.sleep(settle)  # what the run started is over (CGI scripts reaped)
        c1 = group_cpu(p.pid, children)
        n = int(re.search(r"(\d+) requests in", out).group(1))
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        errs = re.search(r"Socket errors: (.*)", out)
        return dict(name=name, rps=rps, us=(c1 - c0) * 1e6 / n, ok=ok and not bad and not errs)
    finally:
        os.killpg(p.pid, signal.SIGTERM)
        p.wait(timeout=20)
