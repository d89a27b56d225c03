"""Startup and shutdown: clear one-line errors, config test, graceful drain on SIGTERM."""
import os
import signal
import socket
import subprocess
import time

import pytest

from conftest import BIN, Spate, read_until_close


def run(args, **kw):
    return subprocess.run([BIN] + args, capture_output=True, timeout=30, **kw)


def test_help_and_version():
    r = run(["--help"])
    assert r.returncode == 0 and b"--root" in r.stdout and b"--listen" in r.stdout
    r = run(["--version"])
    assert r.returncode == 0 and r.stdout.startswith(b"spate ")
    r = run(["--bogus"])
    assert r.returncode != 0
    r = run([])
    assert r.returncode != 0 and b"--root" in r.stderr


def test_missing_docroot():
    r = run(["--root", "/nonexistent/docroot", "--listen", "127.0.0.1:0"])
    assert r.returncode != 0
    lines = r.stderr.decode().strip().splitlines()
    assert len(lines) == 1
    assert "document root" in lines[0] and "/nonexistent/docroot" in lines[0]


def test_port_taken(docroot):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    port = s.getsockname()[1]
    try:
        r = run(["--root", str(docroot), "--listen", "127.0.0.1:%d" % port])
        assert r.returncode != 0
        lines = r.stderr.decode().strip().splitlines()
        assert len(lines) == 1 and "Address already in use" in lines[0], lines
    finally:
        s.close()


def test_port_taken_by_another_spate(spate, docroot):
    r = run(["--root", str(docroot), "--listen", "127.0.0.1:%d" % spate.port])
    assert r.returncode != 0 and b"Address already in use" in r.stderr


def test_io_uring_unavailable(docroot):
    helper = os.environ.get("SPATE_NO_URING")
    if not helper or not os.path.exists(helper):
        pytest.skip("no_uring helper not built")
    r = subprocess.run([helper, BIN, "--root", str(docroot), "--listen", "127.0.0.1:0"],
                       capture_output=True, timeout=30)
    assert r.returncode != 0
    lines = r.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and "io_uring is unavailable" in lines[0], lines


def test_config_test_mode(tmp_path, docroot):
    good = tmp_path / "good.conf"
    good.write_text("server {\n  listen 127.0.0.1:0;\n  root %s;\n}\n" % docroot)
    r = run(["-t", "-c", str(good)])
    assert r.returncode == 0 and b"valid" in r.stdout
    bad = tmp_path / "bad.conf"
    bad.write_text("server {\n  listen 127.0.0.1:0;\n  rooot %s;\n}\n" % docroot)
    r = run(["-t", "-c", str(bad)])
    assert r.returncode != 0
    assert ("%s:3: unknown directive \"rooot\"" % bad).encode() in r.stderr
    r = run(["-t", "-c", str(tmp_path / "missing.conf")])
    assert r.returncode != 0 and b"cannot open configuration file" in r.stderr


def test_serves_from_config_file(tmp_path, docroot):
    conf = tmp_path / "spate.conf"
    conf.write_text("workers 1;\nserver {\n  listen 127.0.0.1:0;\n  root %s;\n"
                    "  index hello.txt;\n}\n" % docroot)
    s = Spate(["-c", str(conf)]).start()
    try:
        import http.client
        c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
        c.request("GET", "/")
        r = c.getresponse()
        assert r.status == 200 and r.read() == b"hello, world\n"
        assert b"(1 worker)" in s.out
    finally:
        rc, err = s.stop()
    assert rc == 0, err


def test_workers_share_one_port(docroot):
    s = Spate(["--root", str(docroot), "--listen", "127.0.0.1:0", "--workers", "4"]).start()
    try:
        assert b"(4 workers)" in s.out
        for _ in range(50):
            c = socket.create_connection(("127.0.0.1", s.port), timeout=5)
            c.sendall(b"GET /hello.txt HTTP/1.0\r\n\r\n")
            data = read_until_close(c)
            c.close()
            assert data.startswith(b"HTTP/1.1 200")
    finally:
        rc, err = s.stop()
    assert rc == 0, err


def test_graceful_shutdown_finishes_inflight(tmp_path):
    root = tmp_path / "r"
    root.mkdir()
    payload = os.urandom(64 << 20)
    (root / "big.bin").write_bytes(payload)
    conf = tmp_path / "spate.conf"
    conf.write_text("workers 1;\ndrain_timeout 60s;\nserver {\n listen 127.0.0.1:0;\n root %s;\n}\n"
                    % root)
    s = Spate(["-c", str(conf)]).start()
    c = socket.create_connection(("127.0.0.1", s.port), timeout=30)
    c.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
    first = c.recv(65536)  # the response has started; the client stops reading for a moment
    assert first.startswith(b"HTTP/1.1 200")
    time.sleep(0.3)
    s.proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    # new connections are refused while draining
    with pytest.raises(OSError):
        n = socket.create_connection(("127.0.0.1", s.port), timeout=2)
        n.sendall(b"GET / HTTP/1.0\r\n\r\n")
        if not n.recv(10):
            raise OSError("closed")
    data = first + read_until_close(c)
    c.close()
    head, _, body = data.partition(b"\r\n\r\n")
    assert body == payload  # the in-flight response completed, byte-exact
    s.proc.wait(timeout=30)
    assert s.proc.returncode == 0, s.proc.stderr.read()


def test_shutdown_closes_idle_keepalive(spate):
    c = spate.connect()
    c.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n")
    assert c.recv(65536).startswith(b"HTTP/1.1 200")
    t0 = time.monotonic()
    spate.proc.send_signal(signal.SIGINT)
    spate.proc.wait(timeout=20)
    assert spate.proc.returncode == 0
    assert time.monotonic() - t0 < 5  # idle connections do not hold up the exit
    assert c.recv(10) == b""
    c.close()


def test_ipv6_listener(docroot, tmp_path):
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        probe = socket.socket(socket.AF_INET6)
        probe.bind(("::1", 0))
        probe.close()
    except OSError:
        pytest.skip("no ::1 on this machine")
    log = tmp_path / "v6.log"
    s = Spate(["--root", str(docroot), "--listen", "[::1]:0", "--workers", "1",
               "--access-log", str(log)]).start()
    try:
        assert s.host == "::1"
        c = socket.create_connection(("::1", s.port), timeout=10)
        c.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: [::1]\r\nConnection: close\r\n\r\n")
        data = read_until_close(c)
        c.close()
        assert data.startswith(b"HTTP/1.1 200") and data.endswith(b"hello, world\n")
    finally:
        rc, err = s.stop()
    assert rc == 0, err
    assert log.read_text().startswith("::1 - - [")
