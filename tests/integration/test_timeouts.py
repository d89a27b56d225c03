"""Timeouts (RFC 9110 15.5.9 408, RFC 9112 9.5): slowloris, slow bodies, idle keep-alive,
clients that stop reading. Timeouts are set to 1 s; every wait is bounded."""
import os
import socket
import time

import pytest

from conftest import spate_conf

TIMEOUTS = ("client_header_timeout 1s;\nclient_body_timeout 1s;\nkeepalive_timeout 1s;\n"
            "send_timeout 1s;\nlingering_timeout 1s;")


@pytest.fixture
def fast(tmp_path, docroot):
    (docroot / "huge.bin").write_bytes(os.urandom(64 << 20))
    s = spate_conf(tmp_path, docroot, main=TIMEOUTS)
    yield s
    rc, err = s.stop()
    assert rc == 0, err


def drain(sock, limit_s=10):
    """Reads until EOF/reset; returns (bytes, seconds)."""
    sock.settimeout(limit_s)
    t0 = time.monotonic()
    data = b""
    try:
        while True:
            d = sock.recv(65536)
            if not d:
                break
            data += d
    except ConnectionResetError:
        pass
    return data, time.monotonic() - t0


def test_header_timeout_slowloris_gets_408(fast):
    s = fast.connect()
    s.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n")
    t0 = time.monotonic()
    got = b""
    s.settimeout(0.3)
    # keep trickling bytes: progress must not extend the deadline
    while time.monotonic() - t0 < 5:
        try:
            s.sendall(b"X")
        except OSError:
            break
        try:
            d = s.recv(4096)
            if not d:
                break
            got += d
        except socket.timeout:
            pass
        except ConnectionResetError:
            break
    elapsed = time.monotonic() - t0
    assert got.startswith(b"HTTP/1.1 408 Request Timeout"), got[:60]
    assert b"Connection: close" in got
    assert elapsed < 4
    s.close()


def test_idle_new_connection_closed(fast):
    s = fast.connect()
    data, secs = drain(s)
    assert data == b"" and 0.5 < secs < 4
    s.close()


def test_slow_but_timely_client_is_served(fast):
    s = fast.connect()
    for b in b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n":
        s.sendall(bytes([b]))
        time.sleep(0.005)
    data, _ = drain(s)
    assert data.startswith(b"HTTP/1.1 200 OK") and data.endswith(b"hello, world\n")


def test_body_timeout_closes(fast):
    s = fast.connect()
    s.sendall(b"POST /hello.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
    data, secs = drain(s)
    assert data.startswith(b"HTTP/1.1 405")  # answered at once; then the body stalls
    assert secs < 4
    s.close()


def test_keepalive_idle_timeout(fast):
    s = fast.connect()
    s.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(0.1)
    first = s.recv(65536)
    assert first.startswith(b"HTTP/1.1 200")
    data, secs = drain(s)
    assert data == b"" and 0.5 < secs < 4
    s.close()


def test_send_timeout_for_client_that_stops_reading(fast):
    s = fast.connect()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32768)
    s.sendall(b"GET /huge.bin HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(3.5)  # never read: the server gives up after send_timeout
    data, _ = drain(s)
    assert data.startswith(b"HTTP/1.1 200")
    assert len(data) < (64 << 20)  # cut off, not completed
    s.close()
    # the server is still serving others
    t = fast.connect()
    t.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data, _ = drain(t)
    assert data.endswith(b"hello, world\n")
