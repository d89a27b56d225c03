#!/usr/bin/env python3
"""hotprobe.py - the latency of a few hot files while a load runs beside it, measured fairly.

    hotprobe.py PORT PATHS [--hot 100] [--rate 500] [--seconds 20] [--conns 4]

Requests the --hot most popular paths of PATHS (one URL path per line, most popular first)
uniformly, at a fixed --rate over --conns keep-alive connections, and prints one JSON line:
{"requests": N, "errors": E, "p50": .., "p90": .., "p99": .., "p99.9": .., "max": ..} in
microseconds. A request that finds all connections busy when it is due is timed from when it
was due, so a stall delays the requests scheduled behind it and is charged to them in full
(no coordinated omission); one sent on time is timed from its send.

Why not a second wrk: two closed-loop clients sharing one CPU take turns by the scheduler's
time slice, and the probe's p99 then shows the slice (milliseconds) rather than the server.
This probe sends on whichever of its connections is free when a request is due (a request
finding all of them busy waits, and that wait counts), sleeps in between, and runs with a real-time priority when it may
(`chrt -f` by the caller), so it wakes the moment its response arrives. Python's own cost
(tens of microseconds) is the same for every server measured.
"""
import argparse
import json
import random
import selectors
import socket
import time


class Conn:
    """A keep-alive connection with at most one request in flight."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        self.buf = b""
        self.due = None  # intended send time of the request in flight

    def response_done(self):
        """Parses buf: the status of a complete response (consumed), or None."""
        head, sep, rest = self.buf.partition(b"\r\n\r\n")
        if not sep:
            return None
        n = 0
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                n = int(v)
        if len(rest) < n:
            return None
        self.buf = rest[n:]
        return int(head.split(b" ", 2)[1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("paths")
    ap.add_argument("--hot", type=int, default=100)
    ap.add_argument("--rate", type=float, default=500)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--conns", type=int, default=4)
    a = ap.parse_args()
    paths = []
    with open(a.paths) as f:
        for line in f:
            if line.strip():
                paths.append(line.strip())
            if len(paths) >= a.hot:
                break
    reqs = [b"GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n" % p.encode() for p in paths]
    conns = [Conn(a.port) for _ in range(a.conns)]
    sel = selectors.DefaultSelector()
    for c in conns:
        sel.register(c.sock, selectors.EVENT_READ, c)
    rng = random.Random(20261201)
    lat, errors, backlog = [], 0, []
    t0 = time.monotonic()
    n = int(a.rate * a.seconds)
    sent = 0
    end = t0 + a.seconds + 10  # then give up on what is still in flight
    while (sent < n or backlog or any(c.due is not None for c in conns)) and \
            time.monotonic() < end:
        now = time.monotonic()
        fresh = len(backlog)
        while sent < n and t0 + sent / a.rate <= now:
            backlog.append(t0 + sent / a.rate)  # due; waits for a free connection if none
            sent += 1
        for c in conns:
            if backlog and c.due is None:
                # a request that found every connection busy is timed from when it was due
                # (the server's slowness); one sent on time, from now (the probe's own timer
                # wakes up to a millisecond late, and that is not the server's)
                due = backlog.pop(0)
                c.due = due if fresh > 0 else now
                fresh -= 1
                c.sock.send(reqs[rng.randrange(len(reqs))])
        nxt = t0 + sent / a.rate if sent < n else now + 0.05
        for key, _ in sel.select(max(0.0, nxt - time.monotonic())):
            c = key.data
            try:
                d = c.sock.recv(1 << 20)
            except BlockingIOError:
                continue
            if not d:
                raise SystemExit("server closed a probe connection")
            c.buf += d
            st = c.response_done()
            if st is not None:
                lat.append((time.monotonic() - c.due) * 1e6)
                errors += st != 200
                c.due = None
    lat.sort()

    def pct(q):
        return round(lat[min(len(lat) - 1, int(q * len(lat)))], 1) if lat else None

    print(json.dumps({"requests": len(lat), "errors": errors, "p50": pct(0.5), "p90": pct(0.9),
                      "p99": pct(0.99), "p99.9": pct(0.999), "max": pct(1.0)}))


if __name__ == "__main__":
    main()
