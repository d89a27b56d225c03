#!/usr/bin/env python3
"""tls_idle.py - memory per idle keep-alive TLS connection: the server's resident memory with N
TLS 1.3 connections open, each after one request, against the same with none.

  bench/e2e/tls_idle.py [--conns 500] [--servers spate,nginx] [--spate build-rel/spate]

Each server is started as tlsservers.py starts it for tls_bench.py (one worker pinned to CPU 0,
the bench's certificate and TLS 1.3 configuration, HTTP/1.1 over TLS), given a warm-up of
20 connections that are closed again (first-use allocations: pools, caches, the session
ticket keys; not more, or the memory they free is what the measured connections reuse), then --conns connections are opened, each sends one GET /small.bin and reads its
answer, and all stay open. Reported: the RSS of the server's whole process group (VmRSS, every
process: nginx's master and worker) before and after, and the difference per connection.
Python 3 standard library and openssl (the certificate) only.
"""
import argparse
import os
import ssl
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import servers  # noqa: E402
import tlsservers as ts  # noqa: E402


WARM = 20


def group_rss_kib(pgid):
    total = 0
    for pid in servers.group_pids(pgid):
        try:
            with open("/proc/%s/status" % pid) as f:
                total += next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
        except (OSError, StopIteration):
            pass
    return total


def open_conns(port, n, ctx):
    """n TLS connections, each after one keep-alive request whose answer was read whole."""
    out = []
    want = ts.FILES["small.bin"]
    req = b"GET /small.bin HTTP/1.1\r\nHost: localhost\r\n\r\n"
    for _ in range(n):
        s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10),
                            server_hostname="localhost")
        s.sendall(req)
        data = b""
        while not data.endswith(want):
            b = s.recv(65536)
            if not b:
                raise RuntimeError("connection closed before the answer was whole")
            data += b
        if b" 200 " not in data.split(b"\r\n", 1)[0] + b" ":
            raise RuntimeError("not a 200: %r" % data[:60])
        out.append(s)
    return out


def measure(name, args):
    cmd = ts.server_cmd(name, ["tls"], spate_bin=args.spate)
    port = ts.PORTS[name]["tls"]
    with ts.Server(name, cmd, [port]) as srv:
        ctx = ts.tls_context()
        for s in open_conns(port, WARM, ctx):  # warm-up, then closed
            s.close()
        time.sleep(1)
        base = group_rss_kib(srv.pid)
        conns = open_conns(port, args.conns, ctx)
        time.sleep(1)
        held = group_rss_kib(srv.pid)
        for s in conns:
            s.close()
    return base, held


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--conns", type=int, default=500)
    ap.add_argument("--servers", default="spate,nginx")
    ap.add_argument("--spate", default=os.path.join(servers.ROOT, "build-rel", "spate"))
    args = ap.parse_args()
    ts.setup()
    os.environ.update(ts.env())  # this process is a client of the same TLS configuration
    print("| server | RSS before, KiB | RSS with %d idle TLS connections, KiB | per connection |"
          % args.conns)
    print("|---|---|---|---|")
    try:
        for name in args.servers.split(","):
            base, held = measure(name, args)
            print("| %s | %d | %d | %.1f KiB |" % (name, base, held,
                                                 (held - base) / args.conns))
    finally:
        ts.cleanup()


if __name__ == "__main__":
    main()
