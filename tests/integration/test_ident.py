"""ident (RFC 1413): the user id of the client's ident server in CLF field 2, against a
responder the test runs on 127.0.0.1:113. The response never waits for the lookup; its log
line does, and comes out with "-" for anything but a USERID reply in time."""
import os
import re
import socket
import threading
import time

import pytest

from conftest import spate_conf

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the ident port 113 needs root")


class Responder:
    """An ident server on 127.0.0.1:113; `mode` says how it answers the next queries."""

    def __init__(self, host="127.0.0.1"):
        self.mode = "userid"
        self.user = "alice"
        self.queries = []
        self.release = threading.Event()  # what "hold" replies wait for
        self.sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET,
                                  socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 113))
        self.sock.listen(64)
        self.stopping = False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.answer, args=(c,), daemon=True).start()

    def answer(self, c):
        with c:
            c.settimeout(10)
            q = b""
            try:
                while not q.endswith(b"\r\n") and len(q) < 100:
                    d = c.recv(100)
                    if not d:
                        return
                    q += d
            except OSError:
                return
            self.queries.append(q)
            m = re.match(rb"^(\d+) , (\d+)\r\n$", q)
            pair = b"%s , %s" % (m.group(1), m.group(2)) if m else b"0 , 0"
            mode = self.mode
            try:
                if mode in ("userid", "hold"):
                    if mode == "hold":
                        self.release.wait(10)
                    c.sendall(pair + b" : USERID : UNIX : " + self.user.encode() + b"\r\n")
                elif mode == "split":  # the reply in pieces
                    c.sendall(pair + b" : USER")
                    time.sleep(0.05)
                    c.sendall(b"ID : UNIX , UTF-8 : " + self.user.encode() + b"\r\n")
                elif mode == "error":
                    c.sendall(pair + b" : ERROR : NO-USER\r\n")
                elif mode == "malformed":
                    c.sendall(b"this is not ident\r\n")
                elif mode == "wrongpair":
                    c.sendall(b"1 , 2 : USERID : UNIX : mallory\r\n")
                elif mode == "long":
                    c.sendall(pair + b" : USERID : UNIX : " + b"x" * 2000)
                    self.release.wait(10)
                elif mode == "slow":
                    self.release.wait(10)
                    c.sendall(pair + b" : USERID : UNIX : late\r\n")
                elif mode == "close":
                    pass
            except OSError:
                pass

    def close(self):
        self.stopping = True
        self.release.set()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accept, so the port is free again
        except OSError:
            pass
        self.sock.close()
        self.thread.join(5)


@pytest.fixture
def responder():
    r = Responder()
    yield r
    r.close()


def start(tmp_path, docroot, extra=""):
    log = tmp_path / "access.log"
    s = spate_conf(tmp_path, docroot, main="access_log %s common;\nident on;\n%s" % (log, extra))
    return s, log


def stop(s):
    rc, err = s.stop()
    assert rc == 0, err
    assert "AddressSanitizer" not in err and "runtime error" not in err, err


def get(s, path="/hello.txt", n=1, close=True):
    """n requests on one connection; returns (client port, the raw responses)."""
    c = s.connect()
    port = c.getsockname()[1]
    data = b""
    for i in range(n):
        last = close and i == n - 1
        c.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n%s\r\n"
                  % (path.encode(), b"Connection: close\r\n" if last else b""))
        want = data.count(b"HTTP/1.1 200") + 1
        while data.count(b"HTTP/1.1 200") < want or not data.endswith(b"hello, world\n"):
            d = c.recv(65536)
            assert d, data
            data += d
    c.close()
    return port, data


def wait_lines(log, n, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = log.read_text().splitlines() if log.exists() else []
        if len(lines) >= n:
            return lines
        time.sleep(0.05)
    raise AssertionError("fewer than %d log lines: %r" % (n, log.read_text()))


def ident_field(line):
    return line.split(" ")[1]


def test_userid_and_query(tmp_path, docroot, responder):
    s, log = start(tmp_path, docroot)
    try:
        port, data = get(s, n=2)
        lines = wait_lines(log, 2)
    finally:
        stop(s)
    assert [ident_field(x) for x in lines] == ["alice", "alice"], lines
    assert lines[0].startswith("127.0.0.1 alice - ["), lines
    # one lookup per connection, naming the client's port first, then the server's
    assert responder.queries == [b"%d , %d\r\n" % (port, s.port)], responder.queries


@pytest.mark.parametrize("mode", ["error", "malformed", "wrongpair", "long", "close"])
def test_no_user(tmp_path, docroot, responder, mode):
    responder.mode = mode
    s, log = start(tmp_path, docroot)
    try:
        get(s)
        lines = wait_lines(log, 1)
    finally:
        stop(s)
    assert ident_field(lines[0]) == "-", lines


def test_split_reply_and_charset(tmp_path, docroot, responder):
    responder.mode = "split"
    responder.user = "b\u00e9a"  # UTF-8 bytes: escaped in the line
    s, log = start(tmp_path, docroot)
    try:
        get(s)
        lines = wait_lines(log, 1)
    finally:
        stop(s)
    assert ident_field(lines[0]) == "b\\xC3\\xA9a", lines


def test_refused(tmp_path, docroot, responder):
    responder.close()  # nothing listens on 113: the connect is refused
    s, log = start(tmp_path, docroot)
    try:
        get(s)
        lines = wait_lines(log, 1)
    finally:
        stop(s)
    assert ident_field(lines[0]) == "-", lines


def test_slow_times_out(tmp_path, docroot, responder):
    responder.mode = "slow"
    s, log = start(tmp_path, docroot, "ident_timeout 300ms;")
    try:
        get(s)
        lines = wait_lines(log, 1)  # the responder still holds its answer: the timeout wrote it
        assert not responder.release.is_set()
    finally:
        stop(s)
    assert ident_field(lines[0]) == "-", lines


def test_response_does_not_wait(tmp_path, docroot, responder):
    """The client gets its responses while the ident server holds its answer; the lines wait
    for it (they cannot be in the log before it), then come out with the user, in order."""
    responder.mode = "hold"
    s, log = start(tmp_path, docroot, "ident_timeout 20s;")
    try:
        get(s, n=3, close=False)  # answered in full, and the client closed before the answer
        while not responder.queries:
            time.sleep(0.01)
        assert not log.exists() or log.read_text() == ""
        responder.release.set()
        lines = wait_lines(log, 3)
    finally:
        stop(s)
    assert [ident_field(x) for x in lines] == ["alice"] * 3, lines


def test_off_by_default_and_per_server(tmp_path, docroot, responder):
    log = tmp_path / "access.log"
    s = spate_conf(tmp_path, docroot, main="access_log %s common;" % log)
    try:
        get(s)
        lines = wait_lines(log, 1)
    finally:
        stop(s)
    assert ident_field(lines[0]) == "-" and responder.queries == []


def test_bad_config(tmp_path, docroot):
    conf = tmp_path / "bad.conf"
    conf.write_text("server {\n  listen 127.0.0.1:0;\n  ident maybe;\n}\n")
    import subprocess
    from conftest import BIN
    r = subprocess.run([BIN, "-t", "-c", str(conf)], capture_output=True, timeout=30)
    assert r.returncode != 0
    assert b"bad.conf:3" in r.stderr + r.stdout, r.stderr


def test_shutdown_with_lookup_out(tmp_path, docroot, responder):
    """spate stops while the ident server still holds its answer: the line is written, "-"."""
    responder.mode = "hold"
    s, log = start(tmp_path, docroot, "ident_timeout 20s;")
    try:
        get(s)
        while not responder.queries:
            time.sleep(0.01)
    finally:
        stop(s)
    lines = log.read_text().splitlines()
    assert len(lines) == 1 and ident_field(lines[0]) == "-", lines


def test_ipv6(tmp_path, docroot):
    """An IPv6 client: the lookup goes from [::1] to [::1]:113."""
    try:
        r = Responder("::1")
    except OSError:
        pytest.skip("no IPv6 loopback")
    log = tmp_path / "access.log"
    conf = tmp_path / "spate.conf"
    conf.write_text("workers 1;\naccess_log %s common;\nident on;\n"
                    "server {\n  listen [::1]:0;\n  root %s;\n}\n" % (log, docroot))
    from conftest import Spate
    s = Spate(["-c", str(conf)]).start()
    try:
        c = socket.create_connection(("::1", s.port), timeout=10)
        port = c.getsockname()[1]
        c.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        while c.recv(65536):
            pass
        c.close()
        lines = wait_lines(log, 1)
    finally:
        stop(s)
        r.close()
    assert lines[0].startswith("::1 alice - ["), lines
    assert r.queries == [b"%d , %d\r\n" % (port, s.port)], r.queries
