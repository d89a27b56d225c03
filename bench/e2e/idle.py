#!/usr/bin/env python3
"""idle.py - memory per connection: RSS of one spate worker, and the kernel's TCP memory,
with N idle connections (connected, nothing sent) and N slow ones (half a request head sent).

  bench/e2e/idle.py [--conns 10000] [--spate build/spate]

Python 3 standard library only. The server is pinned to CPU 0; connections come from this
process over 127.0.0.1.
"""
import argparse
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def rss_kib(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def tcp_mem_kib():
    for line in open("/proc/net/sockstat"):
        if line.startswith("TCP:"):
            f = line.split()
            return int(f[f.index("mem") + 1]) * os.sysconf("SC_PAGE_SIZE") // 1024
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--conns", type=int, default=10000)
    ap.add_argument("--spate", default=os.path.join(ROOT, "build", "spate"))
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    tmp = tempfile.mkdtemp()
    os.chmod(tmp, 0o755)  # started as root, spate serves as nobody: it must enter
    conf = os.path.join(tmp, "idle.conf")
    with open(conf, "w") as f:
        f.write("workers 1;\nmax_connections 100000;\nclient_header_timeout 600s;\n"
                "server { listen 127.0.0.1:0; root %s; }\n" % tmp)
    p = subprocess.Popen(["taskset", "-c", "0", args.spate, "-c", conf], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    port = int(p.stdout.readline().split(b":")[-1].split()[0])
    time.sleep(0.3)
    rows = []

    def measure(label, payload):
        r0, k0 = rss_kib(p.pid), tcp_mem_kib()
        socks = []
        for _ in range(args.conns):
            s = socket.create_connection(("127.0.0.1", port))
            if payload:
                s.sendall(payload)
            socks.append(s)
        time.sleep(1.5)
        r1, k1 = rss_kib(p.pid), tcp_mem_kib()
        rows.append((label, r1 - r0, (r1 - r0) * 1024 / args.conns, k1 - k0,
                     (k1 - k0) * 1024 / args.conns))
        for s in socks:
            s.close()
        time.sleep(1.5)

    measure("idle (connected, nothing sent)", b"")
    measure("slow (half a request head sent)", b"GET /index.html HTTP/1.1\r\nHost: exam")
    p.terminate()
    p.wait()
    print("spate %s, 1 worker, %d connections each" % (args.spate, args.conns))
    print("| connections | server RSS growth | per connection | kernel TCP memory growth "
          "(both ends) | per connection |")
    print("|---|---|---|---|---|")
    for label, r, rp, k, kp in rows:
        print("| %s | %d KiB | %.0f B | %d KiB | %.0f B |" % (label, r, rp, k, kp))


if __name__ == "__main__":
    main()
