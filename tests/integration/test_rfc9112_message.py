"""RFC 9112 sections 2-5 (message format, request line, fields) and 9 (connections)."""
import socket
import time

import pytest

from conftest import raw, read_until_close, split_responses, spate_conf, status_line


def test_2_2_bare_lf_accepted(spate):
    data = raw(spate, b"GET /hello.txt HTTP/1.1\nHost: x\nConnection: close\n\n", shut=False)
    assert status_line(data) == b"HTTP/1.1 200 OK" and data.endswith(b"hello, world\n")


def test_2_2_leading_empty_lines_ignored(spate):
    data = raw(spate, b"\r\n\r\n\nGET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
               shut=False)
    assert status_line(data) == b"HTTP/1.1 200 OK"


@pytest.mark.parametrize("req", [
    b"GET /hello.txt HTTP/1.1\r\nHost: x\rX: y\r\n\r\n",          # 2.2 bare CR
    b"GET /hello.txt HTTP/1.1\r\nHost : x\r\n\r\n",              # 5.1 whitespace before colon
    b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nX: a\r\n  b\r\n\r\n", # 5.2 obs-fold
    b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nX: a\x00b\r\n\r\n",  # NUL in a value
    b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nX: a\x1bb\r\n\r\n",  # control byte in a value
    b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nX\x01Y: 1\r\n\r\n",  # control byte in a name
    b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n\x00: 1\r\n\r\n",
    b"GET /hello.txt  HTTP/1.1\r\nHost: x\r\n\r\n",              # 3 two spaces
    b"GET\t/hello.txt HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /hel lo.txt HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /hello.txt HTTP/1.1\r\n\r\n",                          # 3.2 no Host
    b"GET /hello.txt HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",    # 3.2 two Hosts
    b"GET /hello.txt HTTP/1.1\r\nHost: a b\r\n\r\n",             # invalid Host
    b"GET hello.txt HTTP/1.1\r\nHost: x\r\n\r\n",                # 3.2 not origin-form
])
def test_malformed_is_400_and_closes(spate, req):
    data = raw(spate, req + b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n", shut=False)
    assert status_line(data) == b"HTTP/1.1 400 Bad Request", req
    assert data.count(b"HTTP/1.1 ") == 1


@pytest.mark.parametrize("version,status", [(b"HTTP/2.0", 505), (b"HTTP/3.0", 505),
                                            (b"HTTP/0.9", 505), (b"HTTP/1.2", 200),
                                            (b"HTTP/1.10", 400), (b"http/1.1", 400)])
def test_2_3_versions(spate, version, status):
    data = raw(spate, b"GET /hello.txt " + version + b"\r\nHost: x\r\nConnection: close\r\n\r\n",
               shut=False)
    assert status_line(data).startswith(b"HTTP/1.1 %d" % status)


def test_3_2_http10_without_host(spate):
    data = raw(spate, b"GET /hello.txt HTTP/1.0\r\n\r\n", shut=False)
    assert status_line(data) == b"HTTP/1.1 200 OK"


def test_3_2_2_absolute_form_picks_the_virtual_host(tmp_path):
    a = tmp_path / "a"
    b = tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "who.txt").write_bytes(b"site a\n")
    (b / "who.txt").write_bytes(b"site b\n")
    conf = tmp_path / "v.conf"
    conf.write_text("workers 1;\n"
                    "server { listen 127.0.0.1:0; server_name a.test; root %s; }\n" % a)
    from conftest import Spate
    s = Spate(["-c", str(conf)]).start()
    port = s.port
    rc, _ = s.stop()
    conf.write_text("workers 1;\n"
                    "server { listen 127.0.0.1:%d default_server; server_name a.test; root %s; }\n"
                    "server { listen 127.0.0.1:%d; server_name b.test *.b.test; root %s; }\n"
                    % (port, a, port, b))
    s = Spate(["-c", str(conf)]).start()
    try:
        def who(req):
            return split_responses(raw(s, req, shut=False))[0][2]
        assert who(b"GET /who.txt HTTP/1.1\r\nHost: b.test\r\nConnection: close\r\n\r\n") == \
            b"site b\n"
        assert who(b"GET /who.txt HTTP/1.1\r\nHost: B.TEST:80\r\nConnection: close\r\n\r\n") == \
            b"site b\n"
        assert who(b"GET /who.txt HTTP/1.1\r\nHost: x.b.test.\r\nConnection: close\r\n\r\n") == \
            b"site b\n"
        assert who(b"GET /who.txt HTTP/1.1\r\nHost: other\r\nConnection: close\r\n\r\n") == \
            b"site a\n"
        # the absolute-form authority wins over Host
        assert who(b"GET http://b.test/who.txt HTTP/1.1\r\nHost: a.test\r\n"
                   b"Connection: close\r\n\r\n") == b"site b\n"
        assert who(b"GET /who.txt HTTP/1.0\r\nConnection: close\r\n\r\n") == b"site a\n"
    finally:
        rc, err = s.stop()
    assert rc == 0, err


def test_limits_configurable(tmp_path, docroot):
    s = spate_conf(tmp_path, docroot,
                   main="request_line_max 100;\nheader_max 400;\nheaders_count_max 5;")
    try:
        ok = b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        assert status_line(raw(s, ok, shut=False)) == b"HTTP/1.1 200 OK"
        long_line = b"GET /" + b"a" * 100 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
        assert status_line(raw(s, long_line)).startswith(b"HTTP/1.1 414")
        big = b"GET / HTTP/1.1\r\nHost: x\r\nX: " + b"b" * 400 + b"\r\n\r\n"
        assert status_line(raw(s, big)).startswith(b"HTTP/1.1 431")
        many = b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X%d: 1\r\n" % i for i in range(5)) + \
            b"\r\n"
        assert status_line(raw(s, many)).startswith(b"HTTP/1.1 431")
        # an incomplete head already over the limit is refused without waiting for the rest
        sock = s.connect()
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX: " + b"c" * 500)
        sock.settimeout(5)
        assert sock.recv(100).startswith(b"HTTP/1.1 431")
        sock.close()
    finally:
        rc, err = s.stop()
    assert rc == 0, err


def test_9_6_close_after_error_with_pending_input(spate):
    # lingering close: the 400 arrives intact even though the client keeps sending
    s = spate.connect()
    s.sendall(b"GET / HTTP/1.1\r\nBad Header\r\n\r\n" + b"x" * 100000)
    data = b""
    s.settimeout(5)
    while True:
        try:
            d = s.recv(65536)
        except ConnectionResetError:
            break
        if not d:
            break
        data += d
    assert data.startswith(b"HTTP/1.1 400 Bad Request")
    assert b"</html>" in data
    s.close()


# Requests that can never become valid, sent without the rest of a head: each must be answered
# at once, not after client_header_timeout (60 s here) with a 408.
EARLY_400 = [
    b"GET /hello.txt\r\n",                # a complete request line without a version
    b"\x00",                              # a NUL as the first byte
    b"hello\r\n",
    b"GET / HTTP/1.1\rX",                 # bare CR
    b"GET\x01",                           # after a method, neither tchar nor SP
    b"GET /hel\x7f",                      # a byte not allowed in a target
    b"GET /hello.txt HTTPS/",             # a version that cannot become HTTP/d.d
    b"GET /hello.txt HTTP/1.10",
    b"\r\n\r\nGET /hello.txt\r\n",        # leading empty lines are skipped, then the same
    b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nNoColon\r\n",  # a complete malformed field line
]


def early_answer(server, data):
    """Sends data and keeps the connection open; returns (bytes until close, seconds)."""
    s = server.connect(timeout=10)
    t0 = time.monotonic()
    s.sendall(data)
    s.settimeout(2)
    try:
        out = read_until_close(s)
    except socket.timeout:
        pytest.fail("%r: no close within 2 s" % data)
    finally:
        s.close()
    return out, time.monotonic() - t0


@pytest.fixture
def slow_timeout_spate(tmp_path, docroot):
    s = spate_conf(tmp_path, docroot, main="client_header_timeout 60s;")
    yield s
    rc, err = s.stop()
    assert rc == 0, err
    assert "ERROR: AddressSanitizer" not in err and "runtime error" not in err, err


@pytest.mark.parametrize("req", EARLY_400)
def test_3_hopeless_request_refused_at_once(slow_timeout_spate, req):
    data, secs = early_answer(slow_timeout_spate, req)
    assert status_line(data) == b"HTTP/1.1 400 Bad Request", req
    assert data.count(b"HTTP/1.1 ") == 1 and secs < 2, (req, secs)


def test_3_unsupported_version_refused_when_the_line_is_complete(slow_timeout_spate):
    data, secs = early_answer(slow_timeout_spate, b"GET /hello.txt HTTP/2.0\r\n")
    assert status_line(data).startswith(b"HTTP/1.1 505") and secs < 2, secs
