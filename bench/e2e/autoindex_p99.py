#!/usr/bin/env python3
"""autoindex_p99.py - small-request latency on a worker that is making large directory listings.

Builds a directory of N empty files (default 100,000) under /tmp with one small file beside it,
starts spate with one worker (pinned to the first CPU) and `autoindex on`, and measures the
latency of GET /small.txt from one client (one keep-alive connection, one request at a time)
in three phases of the same length:

  idle       nothing else is going on
  cached     a second client requests the listing of the big directory in a loop: the same
             URL, so after the first request the worker's cached page (about 10 MB) is sent
  fresh      the second client cycles through six sort orders: more pages than the worker's
             listing cache holds (32 MiB), so every request reads the directory again (on the
             helper threads) and renders a new page

Each client is its own process (no GIL between them), on the CPUs the server's worker is not
pinned to. Prints one line per phase (requests, p50, p99, max in ms, listings done) and the
whole as JSON at the end; removes the directory afterwards.

  bench/e2e/autoindex_p99.py [--bin build/spate] [--entries 100000] [--seconds 10]
"""
import argparse
import json
import multiprocessing as mp
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def read_response(sock, buf):
    """Reads one Content-Length framed response, dropping the body as it comes; returns
    (status, body length, leftover bytes)."""
    while b"\r\n\r\n" not in buf:
        d = sock.recv(65536)
        if not d:
            raise ConnectionError("closed")
        buf += d
    head, _, rest = buf.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    m = re.search(rb"\r\ncontent-length: *(\d+)", head, re.I)
    n = int(m.group(1)) if m else 0
    have = len(rest)
    while have < n:
        d = sock.recv(1 << 20)
        if not d:
            raise ConnectionError("closed")
        have += len(d)
        rest = d  # only the tail can hold the next response's bytes
    return status, n, rest[len(rest) - (have - n):] if have > n else b""


def small_client(port, seconds, out):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    req = b"GET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n"
    lat, buf = [], b""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t = time.perf_counter()
        s.sendall(req)
        status, _, buf = read_response(s, buf)
        lat.append(time.perf_counter() - t)
        if status != 200:
            raise SystemExit("small request: %d" % status)
        time.sleep(0.001)
    s.close()
    out.put(lat)


def listing_client(port, targets, stop, out):
    s = socket.create_connection(("127.0.0.1", port))
    buf, n, i, times = b"", 0, 0, []
    while not stop.is_set():
        t = time.perf_counter()
        s.sendall(b"GET " + targets[i % len(targets)].encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        status, size, buf = read_response(s, buf)
        times.append(time.perf_counter() - t)
        if status != 200 or size < 1000:
            raise SystemExit("listing: %d (%d bytes)" % (status, size))
        i += 1
        n += 1
    s.close()
    out.put((n, times))


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p))]


def phase(name, port, seconds, targets, cpus):
    q = mp.Queue()
    stop = mp.Event()
    lister = None
    if targets:
        lister = mp.Process(target=listing_client, args=(port, targets, stop, q))
        lister.start()
        os.sched_setaffinity(lister.pid, cpus)
        time.sleep(1.0)  # the first listings are under way
    small = mp.Process(target=small_client, args=(port, seconds, q))
    small.start()
    os.sched_setaffinity(small.pid, cpus)
    results = [q.get()]
    small.join()
    listed, ltimes = 0, []
    if lister:
        stop.set()
        results.append(q.get())
        lister.join()
    lat = [r for r in results if isinstance(r, list)][0]
    for r in results:
        if isinstance(r, tuple):
            listed, ltimes = r
    row = {"phase": name, "requests": len(lat), "p50_ms": pct(lat, 0.5) * 1e3,
           "p99_ms": pct(lat, 0.99) * 1e3, "max_ms": max(lat) * 1e3, "listings": listed,
           "listing_p50_ms": pct(ltimes, 0.5) * 1e3 if ltimes else 0}
    print("%-7s %6d small requests  p50 %6.3f ms  p99 %6.3f ms  max %7.3f ms   %d listings "
          "(median %.0f ms each)" % (name, row["requests"], row["p50_ms"], row["p99_ms"],
                                     row["max_ms"], listed, row["listing_p50_ms"]), flush=True)
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "spate"))
    ap.add_argument("--entries", type=int, default=100000)
    ap.add_argument("--seconds", type=float, default=10)
    a = ap.parse_args()
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        raise SystemExit("needs two CPUs: the worker's, and the clients'")
    tmp = tempfile.mkdtemp(prefix="spate-autoindex-", dir="/tmp")
    os.chmod(tmp, 0o755)  # started as root, spate serves as nobody: it must enter
    proc = None
    try:
        www = os.path.join(tmp, "www")
        big = os.path.join(www, "big")
        os.makedirs(big)
        fd = os.open(big, os.O_RDONLY)
        for i in range(a.entries):
            os.close(os.open("file-%07d.txt" % i, os.O_CREAT | os.O_WRONLY, 0o644, dir_fd=fd))
        os.close(fd)
        with open(os.path.join(www, "small.txt"), "wb") as f:
            f.write(b"small\n")
        conf = os.path.join(tmp, "spate.conf")
        with open(conf, "w") as f:
            f.write("workers 1;\nserver {\n listen 127.0.0.1:0;\n root %s;\n autoindex on;\n}\n"
                    % www)
        proc = subprocess.Popen([a.bin, "-c", conf], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, start_new_session=True)
        line = proc.stdout.readline().decode()
        m = re.search(r"127\.0\.0\.1:(\d+)", line)
        if not m:
            raise SystemExit("spate did not start: %s %s" % (line, proc.stderr.read()))
        port = int(m.group(1))
        client_cpus = set(cpus[1:])  # the worker is pinned to the first one
        rows = [phase("idle", port, a.seconds, None, client_cpus),
                phase("cached", port, a.seconds, ["/big/"], client_cpus),
                phase("fresh", port, a.seconds,
                      ["/big/?C=%s;O=%s" % (k, o) for k in "NMS" for o in "AD"], client_cpus)]
        print(json.dumps({"entries": a.entries, "seconds": a.seconds, "phases": rows}))
    finally:
        if proc:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
