"""Request bodies streamed to a handler that answers later (the seams under CGI, FastCGI and
the proxy), through the test-only test_echo handler: Content-Length and chunked bodies taken
in small pieces with backpressure, Expect: 100-continue, answers of known length and chunked,
pipelined requests after a deferred one, broken and oversized bodies, a client that stops
sending mid-body, and a client that leaves before the answer."""
import http.client
import os
import socket
import time

import pytest

from conftest import read_until_close, spate_conf, split_responses

TEST_HANDLERS = os.environ.get("SPATE_TEST_HANDLERS", "0").lower() in ("1", "on", "true")
pytestmark = pytest.mark.skipif(not TEST_HANDLERS,
                                reason="spate built without SPATE_TEST_HANDLERS")

SERVER = ("location /echo { test_echo 64k 0 length; }\n"
          "location /slow { test_echo 4k 1ms chunked; }\n"
          "location /tiny { test_echo 7 0 length; }\n")


def fnv(data):
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def digest(data):
    return b"%d %016x\n" % (len(data), fnv(data))


def body_of(n, seed=7):
    return bytes(((i * 131 + seed) >> 3) & 0xFF for i in range(n))


@pytest.fixture
def srv(tmp_path, docroot):
    s = spate_conf(tmp_path, docroot, main="http { client_max_body_size 64m; }", server=SERVER)
    yield s
    rc, err = s.stop()
    assert rc == 0, err
    assert "AddressSanitizer" not in err and "runtime error" not in err, err


def chunked(data, sizes):
    out, i, k = b"", 0, 0
    while i < len(data):
        n = sizes[k % len(sizes)]
        k += 1
        piece = data[i:i + n]
        out += b"%x\r\n" % len(piece) + piece + b"\r\n"
        i += n
    return out + b"0\r\n\r\n"


def test_length_body_known_length_answer(srv):
    data = body_of(3 << 20)
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=60)
    c.request("POST", "/echo", body=data)
    r = c.getresponse()
    assert r.status == 200
    assert r.getheader("Content-Length") == str(len(digest(data)))
    assert r.getheader("Transfer-Encoding") is None
    assert r.read() == digest(data)
    # the connection is reused after a deferred answer
    c.request("GET", "/hello.txt")
    r = c.getresponse()
    assert r.status == 200 and r.read() == b"hello, world\n"
    c.close()


def test_slow_consumer_chunked_body(srv):
    # 7-byte takes of a 1 MiB body: every data() call leaves most of what it was given
    data = body_of(1 << 20, seed=3)
    for path in ("/tiny", "/slow"):
        c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=120)
        c.putrequest("POST", path)
        c.putheader("Transfer-Encoding", "chunked")
        c.endheaders()
        c.send(chunked(data if path == "/slow" else data[:50000], [1, 4093, 17, 65536, 3]))
        r = c.getresponse()
        assert r.status == 200
        want = digest(data if path == "/slow" else data[:50000])
        if path == "/slow":
            assert r.getheader("Transfer-Encoding") == "chunked"
        assert r.read() == want
        c.close()


def test_expect_continue(srv):
    data = body_of(100000)
    s = srv.connect(timeout=10)
    s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n"
              b"Expect: 100-continue\r\n\r\n" % len(data))
    first = s.recv(4096)
    assert first.startswith(b"HTTP/1.1 100 Continue\r\n\r\n"), first
    s.sendall(data)
    rest = first[len(b"HTTP/1.1 100 Continue\r\n\r\n"):]
    s.settimeout(10)
    while b"\r\n\r\n" not in rest or not rest.endswith(b"\n"):
        d = s.recv(65536)
        if not d:
            break
        rest += d
    (status, headers, body), = split_responses(rest)
    assert status == 200 and body == digest(data)
    assert "close" not in headers.get("connection", [""])[0]  # kept alive: the body was read
    s.close()


def test_pipelined_after_deferred(srv):
    data = body_of(70000)
    s = srv.connect(timeout=10)
    s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(data) +
              data + b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n"
              b"POST /tiny HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
              chunked(data[:999], [100]) +
              b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    out = read_until_close(s)
    s.close()
    rs = split_responses(out)
    assert [r[0] for r in rs] == [200, 200, 200, 200]
    assert rs[0][2] == digest(data)
    assert rs[1][2] == b"hello, world\n"
    assert rs[2][2] == digest(data[:999])
    assert rs[3][2] == b"hello, world\n"


def test_broken_and_oversized_bodies(srv):
    s = srv.connect(timeout=10)
    s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
              b"5\r\nhello\r\nZZ\r\n")
    out = read_until_close(s)
    assert out.startswith(b"HTTP/1.1 400 "), out[:100]
    assert b"Connection: close" in out
    s.close()


def test_chunked_past_max_body(tmp_path, docroot):
    # chunked past client_max_body_size: 413 once it is known (it cannot be known up front)
    srv = spate_conf(tmp_path, docroot, main="http { client_max_body_size 1k; }",
                     server="location /echo { test_echo 300 1ms; }")
    try:
        s = srv.connect(timeout=10)
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        time.sleep(0.05)  # the head alone: the limit is found in the body, not up front
        s.sendall(chunked(b"a" * 5000, [300]))
        out = read_until_close(s)
        assert out.startswith(b"HTTP/1.1 413 "), out[:100]
        s.close()
    finally:
        rc, err = srv.stop()
    assert rc == 0, err


def test_client_stops_mid_body(srv):
    s = srv.connect(timeout=10)
    s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + b"x" * 5000)
    s.shutdown(socket.SHUT_WR)
    out = read_until_close(s)
    s.close()
    assert out == b""  # nothing to answer an unfinished body with; the connection closes
    # and the worker goes on serving
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    c.request("POST", "/echo", body=b"abc")
    r = c.getresponse()
    assert r.status == 200 and r.read() == digest(b"abc")
    c.close()


def test_client_leaves_before_answer(srv):
    for _ in range(20):
        s = srv.connect(timeout=10)
        s.sendall(b"POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\n" +
                  b"y" * 100000)
        time.sleep(0.01)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.close()  # an RST while the handler sleeps between takes
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    c.request("GET", "/echo")
    r = c.getresponse()
    assert r.status == 200 and r.read() == digest(b"")
    c.close()


def test_http10_and_head(srv):
    s = srv.connect(timeout=10)
    s.sendall(b"POST /echo HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc")
    out = read_until_close(s)
    head, _, body = out.partition(b"\r\n\r\n")
    assert b"Content-Length: %d" % len(digest(b"abc")) in head and body == digest(b"abc")
    s.close()
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    c.request("HEAD", "/echo")
    r = c.getresponse()
    assert r.status == 200 and r.getheader("Content-Length") == str(len(digest(b"")))
    assert r.read() == b""
    c.close()


def test_body_timeout_gets_408(tmp_path, docroot):
    srv = spate_conf(tmp_path, docroot, main="http { client_body_timeout 1s; }",
                     server="location /echo { test_echo; }")
    try:
        s = srv.connect(timeout=10)
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + b"z" * 10)
        out = read_until_close(s)  # nothing more is sent: client_body_timeout runs out
        assert out.startswith(b"HTTP/1.1 408 "), out[:100]
        assert b"Connection: close" in out
        s.close()
    finally:
        rc, err = srv.stop()
    assert rc == 0, err
