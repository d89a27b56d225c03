"""Upstream servers for the proxy tests: a well-behaved HTTP/1.1 echo server that counts its
connections, and raw socket servers that misbehave on purpose (reset, stall, garbage, two
framings, oversized heads, more than their Content-Length, early close, floods).

Each runs in threads of the test process on an ephemeral port of 127.0.0.1.
"""
import hashlib
import json
import socket
import struct
import threading
import time


def read_head(conn, buf=b""):
    """Reads until the end of a head; returns (head bytes, rest) or (None, buf) at EOF."""
    while b"\r\n\r\n" not in buf:
        d = conn.recv(65536)
        if not d:
            return None, buf
        buf += d
    head, _, rest = buf.partition(b"\r\n\r\n")
    return head, rest


def parse_head(head):
    lines = head.split(b"\r\n")
    method, target, version = lines[0].decode().split(" ")
    fields = []
    for line in lines[1:]:
        k, _, v = line.partition(b":")
        fields.append((k.decode(), v.strip().decode()))
    return method, target, version, fields


def field(fields, name):
    vals = [v for k, v in fields if k.lower() == name.lower()]
    return vals[0] if vals else None


def read_body(conn, fields, rest):
    """The request body (Content-Length or chunked) and what follows it."""
    cl, te = field(fields, "content-length"), field(fields, "transfer-encoding")
    if te:
        assert te.lower() == "chunked", te
        body = b""
        while True:
            while b"\r\n" not in rest:
                rest += conn.recv(65536)
            line, _, rest = rest.partition(b"\r\n")
            n = int(line.split(b";")[0], 16)
            while len(rest) < n + 2:
                d = conn.recv(1 << 20)
                assert d, "eof in chunk"
                rest += d
            body += rest[:n]
            assert rest[n:n + 2] == b"\r\n"
            rest = rest[n + 2:]
            if n == 0:
                return body, rest
    n = int(cl or 0)
    while len(rest) < n:
        d = conn.recv(1 << 20)
        assert d, "eof in body"
        rest += d
    return rest[:n], rest[n:]


class Server:
    """A TCP server on 127.0.0.1 that runs serve(conn, server) for each connection."""

    def __init__(self, serve, name="b", unix_path=None):
        self.serve = serve
        self.name = name
        if unix_path:
            self.sock = socket.socket(socket.AF_UNIX)
            self.sock.bind(unix_path)
            self.port = 0
            self.addr = "unix:" + unix_path
        else:
            self.sock = socket.socket()
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.bind(("127.0.0.1", 0))
            self.port = self.sock.getsockname()[1]
            self.addr = "127.0.0.1:%d" % self.port
        self.sock.listen(128)
        self.connections = 0
        self.requests = []
        self.sent = 0
        self.lock = threading.Lock()
        self.stopped = False
        self.threads = []
        t = threading.Thread(target=self._accept, daemon=True)
        t.start()

    def _accept(self):
        while not self.stopped:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
            t = threading.Thread(target=self._run, args=(conn,), daemon=True)
            t.start()

    def _run(self, conn):
        try:
            self.serve(conn, self)
        except (OSError, AssertionError, ValueError):
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def close(self):
        self.stopped = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


def reset(conn):
    """Closes with an RST."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def echo(conn, srv, extra_fields=b"", keep_alive=True, close_after_ms=None):
    """HTTP/1.1 keep-alive: answers each request with JSON describing it."""
    rest = b""
    while True:
        head, rest = read_head(conn, rest)
        if head is None:
            return
        method, target, version, fields = parse_head(head)
        body, rest = read_body(conn, fields, rest)
        info = {"method": method, "target": target, "version": version, "fields": fields,
                "body_len": len(body), "body_sha": hashlib.sha256(body).hexdigest(),
                "backend": srv.name}
        with srv.lock:
            srv.requests.append(info)
        out = json.dumps(info).encode()
        if target.startswith("/slow"):
            time.sleep(1.5)
        if "/redirect" in target:
            extra = b"Location: http://%s/base/next\r\n" % srv.addr.encode()
            status = b"302 Found"
        else:
            extra, status = b"", b"200 OK"
        conn.sendall(b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\n"
                     b"X-Backend: " + srv.name.encode() + b"\r\n" + extra + extra_fields +
                     b"Content-Length: %d\r\n\r\n" % len(out) + (b"" if method == "HEAD" else out))
        if not keep_alive or field(fields, "connection") == "close":
            return
        if close_after_ms is not None:
            time.sleep(close_after_ms / 1000)
            return


def canned(response, then="close"):
    """Reads a request, sends response bytes, then closes (or resets, or stalls)."""
    def serve(conn, srv):
        head, _ = read_head(conn)
        if head is None:
            return
        with srv.lock:
            srv.requests.append(head)
        if response:
            conn.sendall(response)
        if then == "reset":
            reset(conn)
        elif then == "stall":
            time.sleep(5)
    return serve


def reset_at_once(conn, srv):
    reset(conn)


def stall(conn, srv):
    read_head(conn)
    time.sleep(5)


def flood(total):
    """Answers with total bytes as fast as the socket takes them, counting what was sent."""
    def serve(conn, srv):
        head, _ = read_head(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % total)
        chunk = b"x" * 65536
        left = total
        while left:
            n = conn.send(chunk[:min(left, len(chunk))])
            left -= n
            with srv.lock:
                srv.sent += n
    return serve
