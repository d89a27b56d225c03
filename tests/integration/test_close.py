"""Closing connections (RFC 9112 9.6): a client that said it is done is closed at once; a
client that may still be sending is lingered on, so the close never meets unread input and
answers it with an RST over the response; nothing of the close costs a system call outside
the ring. lingering_timeout is 5 s here, so "at once" and "lingered" are far apart."""
import shutil
import socket
import subprocess
import threading
import time

import pytest

from conftest import spate_conf, split_responses

LINGER = "lingering_timeout 5s;\nclient_max_body_size 8m;"


@pytest.fixture
def srv(tmp_path, docroot):
    s = spate_conf(tmp_path, docroot, main=LINGER)
    yield s
    rc, err = s.stop()
    assert rc == 0, err
    assert "ERROR: AddressSanitizer" not in err and "runtime error" not in err, err


def read_all(sock, limit_s=10):
    """(bytes, seconds until the end, how it ended: 'eof', 'reset' or 'timeout')."""
    sock.settimeout(limit_s)
    t0 = time.monotonic()
    data = b""
    try:
        while True:
            d = sock.recv(65536)
            if not d:
                return data, time.monotonic() - t0, "eof"
            data += d
    except ConnectionResetError:
        return data, time.monotonic() - t0, "reset"
    except socket.timeout:
        return data, time.monotonic() - t0, "timeout"


def server_socket_gone(s):
    """After the server's FIN: True if its socket is closed (bytes sent now get an RST),
    False if it still reads (lingering: bytes are dropped quietly)."""
    try:
        for _ in range(3):
            s.sendall(b"x")
            time.sleep(0.15)
    except (BrokenPipeError, ConnectionResetError):
        return True
    return False


def test_client_close_is_closed_at_once(srv):
    # the client said it is done: the server closes right after the response, no linger
    s = srv.connect()
    s.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data, secs, end = read_all(s)
    assert end == "eof" and secs < 2, (end, secs)
    (status, headers, body), = split_responses(data)
    assert status == 200 and body == b"hello, world\n"
    assert headers["connection"] == ["close"]
    assert server_socket_gone(s)  # lingering would keep it reading for 5 s
    s.close()


def test_keepalive_client_closed_by_server_is_lingered_on(tmp_path, docroot):
    # the reverse: the server ends a keep-alive connection (keepalive_requests 1), so the
    # client may already be sending its next request; the server keeps reading
    s = spate_conf(tmp_path, docroot, main=LINGER + "\nkeepalive_requests 1;")
    try:
        c = s.connect()
        c.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        data, _, end = read_all(c)
        assert end == "eof" and data.endswith(b"hello, world\n"), end
        assert not server_socket_gone(c)
        c.close()
    finally:
        rc, err = s.stop()
    assert rc == 0, err


def test_http10_without_keepalive_is_closed_at_once(srv):
    s = srv.connect()
    s.sendall(b"GET /hello.txt HTTP/1.0\r\n\r\n")
    data, secs, end = read_all(s)
    assert end == "eof" and secs < 2, (end, secs)
    assert data.startswith(b"HTTP/1.1 200") and data.endswith(b"hello, world\n")
    assert server_socket_gone(s)
    s.close()


def test_large_response_then_close_arrives_whole(srv, docroot):
    # a file body (sendfile) followed by the FIN: every byte arrives before the EOF
    s = srv.connect()
    s.sendall(b"GET /medium.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data, secs, end = read_all(s)
    assert end == "eof" and secs < 2, (end, secs)
    (status, _, body), = split_responses(data)
    assert status == 200 and body == (docroot / "medium.bin").read_bytes()
    s.close()


def send_body_and_read(srv, head, body_len):
    """Sends head, then body_len bytes from a second thread while reading the response.
    Returns (response bytes, how the read ended, the sender's error or None)."""
    s = srv.connect()
    s.sendall(head)
    err = []

    def sender():
        try:
            chunk = b"b" * 65536
            left = body_len
            while left:
                n = min(left, len(chunk))
                s.sendall(chunk[:n])
                left -= n
            s.shutdown(socket.SHUT_WR)
        except OSError as e:
            err.append(e)

    t = threading.Thread(target=sender)
    t.start()
    data, _, end = read_all(s, limit_s=15)
    t.join(20)
    s.close()
    return data, end, (err[0] if err else None)


def test_unread_body_is_lingered_on(srv):
    # Connection: close with a 4 MiB body the static handler never reads: the server must
    # drop it until the client's FIN; closing over it would reset the client mid-send
    head = (b"POST /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            b"Content-Length: 4194304\r\n\r\n")
    data, end, err = send_body_and_read(srv, head, 4 << 20)
    assert err is None, err
    assert end == "eof", end
    (status, headers, _), = split_responses(data)
    assert status == 405 and headers["allow"]


def test_body_too_large_is_lingered_on(srv):
    # 413 at once for a 16 MiB Content-Length (client_max_body_size 8m), the client sending
    # 4 MiB of it before it gives up
    head = b"PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 16777216\r\n\r\n"
    data, end, err = send_body_and_read(srv, head, 4 << 20)
    assert err is None, err
    assert end == "eof", end
    assert data.startswith(b"HTTP/1.1 413"), data[:40]


def test_pipelined_after_close_gets_one_response_and_no_reset(srv):
    s = srv.connect()
    s.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
              b"GET /style.css HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(0.2)  # the second request is in the server's hands before the client's FIN
    s.shutdown(socket.SHUT_WR)
    data, _, end = read_all(s)
    assert end == "eof", end
    (status, _, body), = split_responses(data)  # one response only
    assert status == 200 and body == b"hello, world\n"
    s.close()


def test_server_closing_a_keepalive_client_lingers(tmp_path, docroot):
    # keepalive_requests 1: the server closes, but the client asked for keep-alive and sends
    # its next request before it sees the FIN. Lingering drops that request; without it the
    # kernel would answer it with an RST.
    s = spate_conf(tmp_path, docroot, main=LINGER + "\nkeepalive_requests 1;")
    try:
        c = s.connect()
        c.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.2)  # the response and the FIN are here, unread
        c.sendall(b"GET /style.css HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.2)
        c.shutdown(socket.SHUT_WR)
        data, _, end = read_all(c)
        assert end == "eof", end
        (status, headers, body), = split_responses(data)
        assert status == 200 and body == b"hello, world\n"
        assert headers["connection"] == ["close"]
        c.close()
    finally:
        rc, err = s.stop()
    assert rc == 0, err


def test_bad_request_with_more_input_no_reset(srv):
    s = srv.connect()
    s.sendall(b"GET / HTTP/1.1\r\nBad Header\r\n\r\n")
    time.sleep(0.2)
    try:
        s.sendall(b"x" * 200000)  # lingering: dropped, not reset
    except OSError as e:
        pytest.fail("send after the 400 failed: %s" % e)
    s.shutdown(socket.SHUT_WR)
    data, _, end = read_all(s)
    assert end == "eof", end
    assert data.startswith(b"HTTP/1.1 400 Bad Request")
    s.close()


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace not installed")
def test_close_path_makes_no_syscalls_outside_the_ring(srv):
    # accept, shutdown and close go through io_uring: 300 closed connections must not show
    # up as shutdown(2), close(2) or getpeername(2) calls (no log format asks for the peer)
    out = srv.proc.pid
    trace = subprocess.Popen(["strace", "-f", "-qq", "-c", "-e",
                              "trace=shutdown,close,getpeername,accept,accept4",
                              "-p", str(out)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
    try:
        time.sleep(1.0)  # attached to every thread
        for _ in range(300):
            c = srv.connect()
            c.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data, _, end = read_all(c)
            assert end == "eof" and data.endswith(b"hello, world\n")
            c.close()
        time.sleep(0.3)
    finally:
        trace.send_signal(2)
        _, err = trace.communicate(timeout=20)
    report = err.decode()
    calls = 0
    for line in report.splitlines():
        parts = line.split()
        if len(parts) >= 5 and parts[-1] in ("shutdown", "close", "getpeername", "accept",
                                             "accept4"):
            calls += int(parts[3])
    assert calls < 30, report  # 300 connections: well under one call each
