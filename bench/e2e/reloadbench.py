#!/usr/bin/env python3
"""reloadbench.py - requests/s while the configuration is reloaded over and over, against steady.

spate (one worker, pinned to CPU 0 with taskset) serves a 520-byte file; wrk -t1 on CPU 1 loads
it over 127.0.0.1 with keep-alive connections. Each round runs wrk twice: once steady, once while
this script rewrites the configuration (two roots, alternating) and sends SIGHUP every
--interval seconds. Prints req/s of each run, the medians, the reloads done, and how long a
reload took to show (SIGHUP to the first response from the new root, measured apart).

  bench/e2e/reloadbench.py [--bin build/spate] [--rounds 3] [--seconds 8] [--interval 0.05]

Needs wrk (tools/deps bench). Python 3 standard library only.
"""
import argparse
import http.client
import os
import re
import signal
import socket
import statistics
import subprocess
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def conf_text(tmp, port, gen):
    return ("workers 1;\nerror_log %s/error.log notice;\nserver {\n  listen 127.0.0.1:%d;\n"
            "  root %s/root%s;\n  add_header X-Gen %s;\n}\n" % (tmp, port, tmp, gen, gen))


def write_conf(tmp, port, gen):
    path = os.path.join(tmp, "spate.conf")
    with open(path + ".tmp", "w") as f:
        f.write(conf_text(tmp, port, gen))
    os.replace(path + ".tmp", path)
    return path


CLK = os.sysconf("SC_CLK_TCK")


def cpu(pid, tid=None):
    """utime + stime in seconds: the whole process, or one of its threads."""
    path = "/proc/%d/stat" % pid if tid is None else "/proc/%d/task/%d/stat" % (pid, tid)
    with open(path) as f:
        st = f.read()
    fields = st[st.rfind(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK


def wrk(port, seconds, conns):
    out = subprocess.run(["taskset", "-c", "1", "wrk", "-t1", "-c%d" % conns, "-d%ds" % seconds,
                          "http://127.0.0.1:%d/small.txt" % port],
                         capture_output=True, text=True, timeout=seconds + 30).stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    errors = re.search(r"Socket errors: (.*)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return (float(m.group(1)), int(total.group(1)), (errors.group(1) if errors else ""),
            (non2xx.group(1) if non2xx else "0"))


def measured(proc, port, seconds, conns):
    """wrk's req/s, and the server's CPU microseconds per request (all threads, main's alone)."""
    c0, m0 = cpu(proc.pid), cpu(proc.pid, proc.pid)
    rps, n, err, bad = wrk(port, seconds, conns)
    c1, m1 = cpu(proc.pid), cpu(proc.pid, proc.pid)
    return rps, (c1 - c0) * 1e6 / max(n, 1), (m1 - m0), err, bad


def storm(proc, tmp, port, interval, stop, count):
    gen = "B"
    while not stop.is_set():
        write_conf(tmp, port, gen)
        proc.send_signal(signal.SIGHUP)
        count[0] += 1
        gen = "A" if gen == "B" else "B"
        time.sleep(interval)


def gen_of(port):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    c.request("GET", "/small.txt")
    r = c.getresponse()
    r.read()
    c.close()
    return r.getheader("X-Gen")


def reload_latency(proc, tmp, port, n=20):
    """SIGHUP to the first response from the new root, in ms (median over n)."""
    out = []
    for i in range(n):
        want = "B" if gen_of(port) == "A" else "A"
        write_conf(tmp, port, want)
        t = time.monotonic()
        proc.send_signal(signal.SIGHUP)
        while gen_of(port) != want:
            pass
        out.append((time.monotonic() - t) * 1000)
        time.sleep(0.05)
    return statistics.median(out), max(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "spate"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--conns", type=int, default=64)
    ap.add_argument("--interval", type=float, default=0.05)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="reloadbench-")
    os.chmod(tmp, 0o755)  # started as root, spate reloads as nobody: it must read the files
    for g in "AB":
        os.mkdir(os.path.join(tmp, "root" + g))
        with open(os.path.join(tmp, "root" + g, "small.txt"), "wb") as f:
            f.write((g * 64 + "\n").encode() * 8)
    port = free_port()
    conf = write_conf(tmp, port, "A")
    proc = subprocess.Popen(["taskset", "-c", "0", a.bin, "-c", conf], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    proc.stdout.readline()  # "listening on ..."
    steady, stormy, reloads, us, us_storm, main_ms = [], [], [], [], [], []
    try:
        for r in range(a.rounds):
            rps, per, _, err, bad = measured(proc, port, a.seconds, a.conns)
            steady.append(rps)
            us.append(per)
            print("round %d steady: %.0f req/s, %.2f us CPU/req %s non2xx=%s"
                  % (r + 1, rps, per, err, bad))
            stop, count = threading.Event(), [0]
            t = threading.Thread(target=storm, args=(proc, tmp, port, a.interval, stop, count))
            t.start()
            rps, per, main_s, err, bad = measured(proc, port, a.seconds, a.conns)
            stop.set()
            t.join()
            stormy.append(rps)
            us_storm.append(per)
            reloads.append(count[0])
            main_ms.append(main_s * 1000 / max(count[0], 1))
            print("round %d storm:  %.0f req/s, %.2f us CPU/req, %d reloads (%.1f/s), main "
                  "thread %.2f ms CPU per reload %s non2xx=%s"
                  % (r + 1, rps, per, count[0], count[0] / a.seconds, main_ms[-1], err, bad))
            time.sleep(0.5)
        med, worst = reload_latency(proc, tmp, port)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    s, st = statistics.median(steady), statistics.median(stormy)
    print("median: steady %.0f req/s (%.2f us CPU/req), storm %.0f req/s (%.1f%%, %.2f us "
          "CPU/req), %d reloads per run, %.2f ms of main-thread CPU per reload; a reload shows "
          "after %.1f ms (median, worst %.1f ms)"
          % (s, statistics.median(us), st, (st / s - 1) * 100, statistics.median(us_storm),
             statistics.median(reloads), statistics.median(main_ms), med, worst))
    with open(os.path.join(tmp, "error.log")) as f:
        failed = sum("reload failed" in l for l in f)
    print("reload failures in the error log: %d" % failed)


if __name__ == "__main__":
    main()
