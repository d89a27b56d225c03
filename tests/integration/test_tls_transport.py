"""The TLS transport (core/net/tls.c) with real clients: curl, Python's ssl, openssl s_client.

Small and large files (20 MiB, checked by sha256), ranges, keep-alive and pipelined requests,
garbage before the ClientHello (closed, no byte back), a handshake stalled half-way (closed at
client_header_timeout), key updates from s_client, close_notify both ways, clients that reset
mid-transfer (no descriptor leaks), and the counters and the kernel-TLS line of the error log.
The kernel-TLS test runs only where the kernel has TLS (CONFIG_TLS) and skips elsewhere.
"""
import errno
import hashlib
import os
import re
import select
import socket
import ssl
import struct
import subprocess
import time

import pytest

from conftest import Spate, split_responses
from tls_util import make_cert

BIG = 20 << 20


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    return make_cert(tmp_path_factory.mktemp("certs"), ["localhost", "127.0.0.1"], key="ec")


def start(tmp_path, docroot, cert, extra="", workers=1, args=()):
    conf = tmp_path / "spate.conf"
    conf.write_text(
        "workers %d;\nerror_log %s info;\nclient_header_timeout 4s;\n%s\n"
        "server {\n  listen 127.0.0.1:0 ssl;\n  root %s;\n"
        "  ssl_certificate %s;\n  ssl_certificate_key %s;\n}\n"
        % (workers, tmp_path / "error.log", extra, docroot, cert.cert, cert.key))
    return Spate(["-c", str(conf)] + list(args)).start()


@pytest.fixture
def site(docroot):
    data = bytes(((i * 131) >> 3) & 0xFF for i in range(1 << 16)) * (BIG >> 16)
    (docroot / "big.bin").write_bytes(data)
    return docroot, hashlib.sha256(data).hexdigest()


@pytest.fixture
def server(tmp_path, site, cert):
    s = start(tmp_path, site[0], cert, args=["--stats-on-exit"])
    s.log = tmp_path / "error.log"
    yield s
    rc, err = s.stop()
    assert rc == 0, err
    assert "ERROR: AddressSanitizer" not in err and "runtime error" not in err, err
    s.stats = err


def client_ctx():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def tls_connect(server, ctx=None, timeout=20):
    raw = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)
    return (ctx or client_ctx()).wrap_socket(raw, server_hostname="localhost")


def read_all(s):
    """Reads until the server's close_notify (Python raises on a FIN without one)."""
    parts = []
    while True:
        d = s.recv(1 << 20)
        if not d:
            return b"".join(parts)
        parts.append(d)


def curl(server, *args):
    r = subprocess.run(["curl", "-sk", "--max-time", "30"] + list(args), capture_output=True,
                       check=False)
    assert r.returncode == 0, r.stderr
    return r


def stats_field(text, name):
    m = re.search(r"stats worker=total .*\b%s=(\d+)" % name, text)
    assert m, text
    return int(m.group(1))


def open_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def test_curl_small_and_keepalive(server):
    url = "https://localhost:%d" % server.port
    r = curl(server, "--resolve", "localhost:%d:127.0.0.1" % server.port, "-v",
             url + "/hello.txt", url + "/style.css", url + "/hello.txt")
    assert r.stdout == b"hello, world\nbody { color: red }\nhello, world\n"
    assert r.stderr.count(b"Re-using existing connection") + \
        r.stderr.count(b"Reusing existing connection") >= 2, r.stderr


def test_python_large_file_sha256(server, site):
    s = tls_connect(server)
    s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = read_all(s)
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    assert len(body) == BIG
    assert hashlib.sha256(body).hexdigest() == site[1]


def test_curl_large_file_and_range(server, site):
    url = "https://127.0.0.1:%d/big.bin" % server.port
    r = curl(server, url)
    assert hashlib.sha256(r.stdout).hexdigest() == site[1]
    data = (site[0] / "big.bin").read_bytes()
    r = curl(server, "-r", "1000-1999999", url)
    assert r.stdout == data[1000:2000000]
    r = curl(server, "-r", "-5", url)
    assert r.stdout == data[-5:]


def test_pipelined(server):
    s = tls_connect(server)
    s.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n" * 3 +
              b"GET /style.css HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    resps = split_responses(read_all(s))
    s.close()
    assert [r[0] for r in resps] == [200] * 4
    assert [r[2] for r in resps] == [b"hello, world\n"] * 3 + [b"body { color: red }\n"]


def test_keepalive_many_requests_python(server):
    s = tls_connect(server)
    f = s.makefile("rb")
    for i in range(50):
        s.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        line = f.readline()
        assert line.startswith(b"HTTP/1.1 200"), line
        n = 0
        while True:
            h = f.readline()
            if h == b"\r\n":
                break
            if h.lower().startswith(b"content-length:"):
                n = int(h.split(b":")[1])
        assert f.read(n) == b"hello, world\n"
    s.close()


def test_garbage_before_hello_gets_nothing(server):
    for junk in (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", os.urandom(600), b"\x16\x03\x01\x00\x05hello"):
        c = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        c.sendall(junk)
        try:
            got = c.recv(100)
        except ConnectionResetError:
            got = b""
        c.close()
        assert got == b"", (junk[:20], got)
    # and the listener still serves
    assert curl(server, "https://127.0.0.1:%d/hello.txt" % server.port).stdout == \
        b"hello, world\n"


def test_stalled_handshake_closed_at_header_timeout(server):
    # a real ClientHello cut after its first bytes: the server waits for the rest, then gives up
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = client_ctx().wrap_bio(incoming, outgoing, server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    hello = outgoing.read()
    c = socket.create_connection(("127.0.0.1", server.port), timeout=15)
    c.sendall(hello[:40])
    t0 = time.monotonic()
    try:
        got = c.recv(100)
    except ConnectionResetError:
        got = b""
    took = time.monotonic() - t0
    c.close()
    assert got == b""
    assert 3.0 <= took <= 10.0, took  # client_header_timeout 4s


def test_s_client_key_update(server):
    """s_client's k / K commands: a key update, and one that asks for ours (answered)."""
    p = subprocess.Popen(["openssl", "s_client", "-connect", "127.0.0.1:%d" % server.port,
                          "-servername", "localhost", "-tls1_3", "-crlf", "-msg"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    out = b""
    try:
        def read_for(secs, until=None):
            nonlocal out
            end = time.monotonic() + secs
            while time.monotonic() < end and not (until and until in out):
                r, _, _ = select.select([p.stdout], [], [], 0.1)
                if r:
                    d = os.read(p.stdout.fileno(), 65536)
                    if not d:
                        break
                    out += d
        read_for(10, b"Max Early Data")  # the handshake is done
        read_for(0.3)
        for cmd in (b"K\n", b"k\n", b"K\n"):  # within the header timeout (4s)
            p.stdin.write(cmd)
            p.stdin.flush()
            read_for(0.3)
        p.stdin.write(b"GET /hello.txt HTTP/1.1\nHost: x\n\n")
        p.stdin.flush()
        read_for(10, b"hello, world")
        p.stdin.close()
        p.wait(timeout=10)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert out.count(b"KEYUPDATE") >= 2, out[-3000:]
    # the server's own key update, asked for by K
    assert re.search(rb"<<< TLS 1.3, Handshake \[length 0005\], KeyUpdate", out), out[-3000:]
    assert b"HTTP/1.1 200" in out and b"hello, world" in out, out[-3000:]


def test_close_notify_both_ways(server):
    # ours: a Connection: close response ends with close_notify (read_all raises otherwise)
    s = tls_connect(server)
    s.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert read_all(s).endswith(b"hello, world\n")
    s.close()
    # theirs: the client's close_notify ends a keep-alive connection; ours answers it
    s = tls_connect(server)
    s.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n")
    f = s.recv(4096)
    assert f.startswith(b"HTTP/1.1 200")
    raw = s.unwrap()  # sends close_notify, waits for the server's
    raw.settimeout(10)
    assert raw.recv(10) == b""
    raw.close()


def test_reset_mid_transfer_leaks_nothing(server):
    pid = server.proc.pid
    s = tls_connect(server)  # a warm-up, so pools and caches exist before counting
    s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    read_all(s)
    s.close()
    time.sleep(0.3)
    base = open_fds(pid)
    for i in range(10):
        s = tls_connect(server)
        s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        got = 0
        while got < 300000 + i * 10000:
            got += len(s.recv(65536))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()  # RST: the server's sends fail mid-file
    deadline = time.monotonic() + 10
    while open_fds(pid) > base and time.monotonic() < deadline:
        time.sleep(0.1)
    assert open_fds(pid) <= base
    assert curl(server, "https://127.0.0.1:%d/hello.txt" % server.port).stdout == \
        b"hello, world\n"


def test_counters_and_ktls_line(tmp_path, site, cert):
    s = start(tmp_path, site[0], cert, args=["--stats-on-exit"])
    for _ in range(3):
        assert curl(s, "https://127.0.0.1:%d/hello.txt" % s.port).stdout == b"hello, world\n"
    c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
    c.sendall(b"not tls at all\r\n\r\n")
    c.recv(10)
    c.close()
    rc, err = s.stop()
    assert rc == 0, err
    assert stats_field(err, "tls_handshakes") == 3
    assert stats_field(err, "tls_failed") == 1
    assert stats_field(err, "tls_ktls") + stats_field(err, "tls_user") == 3
    log = (tmp_path / "error.log").read_text()
    assert re.search(r"kernel TLS: (available|not available \(.+\))", log), log
    if not ktls_available():
        assert stats_field(err, "tls_user") == 3
        # curl speaks TLS 1.3 with AES-GCM: its records are sealed in place (tls_seal.c)
        assert stats_field(err, "tls_sealed") == 3
        assert "kernel TLS: not available" in log


def ktls_available():
    s = socket.socket()
    try:
        s.setsockopt(socket.SOL_TCP, 31, b"tls")  # TCP_ULP on an unconnected socket
    except OSError as e:
        return e.errno == errno.ENOTCONN
    finally:
        s.close()
    return True


@pytest.mark.skipif(not ktls_available(),
                    reason="kernel TLS not available here: setsockopt(TCP_ULP, \"tls\") fails "
                           "(the kernel is built without CONFIG_TLS)")
@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_ktls_handover(tmp_path, site, cert, version):
    s = start(tmp_path, site[0], cert, args=["--stats-on-exit"])
    r = curl(s, "--tlsv" + version, "--tls-max", version, "--ciphers",
             "ECDHE-ECDSA-AES128-GCM-SHA256", "https://127.0.0.1:%d/big.bin" % s.port,
             "https://127.0.0.1:%d/hello.txt" % s.port)
    assert hashlib.sha256(r.stdout[:BIG]).hexdigest() == site[1]
    assert r.stdout[BIG:] == b"hello, world\n"
    rc, err = s.stop()
    assert rc == 0, err
    assert stats_field(err, "tls_ktls") == 1
