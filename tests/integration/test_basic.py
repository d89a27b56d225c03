"""RFC 9110/9112 basics over real clients: GET, HEAD, headers, keep-alive, status codes."""
import email.utils
import http.client
import subprocess
import time

from conftest import raw, split_responses, read_until_close


def get(spate, path, method="GET", headers=None):
    c = http.client.HTTPConnection("127.0.0.1", spate.port, timeout=10)
    c.request(method, path, headers=headers or {})
    r = c.getresponse()
    body = r.read()
    c.close()
    return r, body


def test_get_file_headers(spate, docroot):
    r, body = get(spate, "/hello.txt")
    assert r.status == 200
    assert body == b"hello, world\n"
    assert r.getheader("Content-Type") == "text/plain"
    assert r.getheader("Content-Length") == str(len(body))
    assert r.getheader("Server") == "spate"
    # Date and Last-Modified are IMF-fixdate
    date = email.utils.parsedate_to_datetime(r.getheader("Date"))
    assert abs(date.timestamp() - time.time()) < 5
    lm = email.utils.parsedate_to_datetime(r.getheader("Last-Modified"))
    assert int(lm.timestamp()) == int((docroot / "hello.txt").stat().st_mtime)
    assert r.getheader("ETag").startswith('"')
    assert r.getheader("Accept-Ranges") == "bytes"


def test_content_types(spate):
    for path, ctype in [("/index.html", "text/html"), ("/style.css", "text/css"),
                        ("/app.js", "text/javascript"), ("/data.json", "application/json"),
                        ("/image.png", "image/png"), ("/blob", "application/octet-stream")]:
        r, _ = get(spate, path)
        assert r.status == 200, path
        assert r.getheader("Content-Type") == ctype, path


def test_head_same_headers_no_body(spate):
    r1, body = get(spate, "/image.png")
    r2, hbody = get(spate, "/image.png", method="HEAD")
    assert r2.status == 200 and hbody == b""
    for h in ("Content-Type", "Content-Length", "Last-Modified", "ETag"):
        assert r1.getheader(h) == r2.getheader(h)
    # raw check: no body bytes after a HEAD response on a kept-alive connection
    data = raw(spate, b"HEAD /hello.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /hello.txt HTTP/1.1\r\n"
                      b"Host: x\r\nConnection: close\r\n\r\n")
    head1, _, rest = data.partition(b"\r\n\r\n")
    assert b"Content-Length: 13" in head1
    assert rest.startswith(b"HTTP/1.1 200 OK")


def test_empty_file(spate):
    r, body = get(spate, "/empty.txt")
    assert r.status == 200 and body == b"" and r.getheader("Content-Length") == "0"


def test_404_has_html_body(spate):
    r, body = get(spate, "/no/such/file")
    assert r.status == 404
    assert r.getheader("Content-Type") == "text/html"
    assert b"404 Not Found" in body
    assert int(r.getheader("Content-Length")) == len(body)


def test_keepalive_http11(spate):
    c = http.client.HTTPConnection("127.0.0.1", spate.port, timeout=10)
    socks = set()
    for i in range(20):
        c.request("GET", "/hello.txt" if i % 2 else "/nope")
        r = c.getresponse()
        r.read()
        assert r.status in (200, 404)
        socks.add(id(c.sock))
        assert not r.will_close
    assert len(socks) == 1
    c.close()


def test_connection_close_honored(spate):
    data = raw(spate, b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                      b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n", shut=False)
    resps = split_responses(data)
    assert len(resps) == 1  # nothing after a Connection: close request is processed
    assert resps[0][1]["connection"] == ["close"]


def test_http10_closes_unless_keepalive(spate):
    data = raw(spate, b"GET /hello.txt HTTP/1.0\r\n\r\n", shut=False)
    assert data.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"Connection: close" in data
    # with keep-alive: the connection stays open for a second request
    s = spate.connect()
    s.sendall(b"GET /hello.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    time.sleep(0.2)
    first = s.recv(65536)
    assert b"Connection: keep-alive" in first and first.endswith(b"hello, world\n")
    s.sendall(b"GET /hello.txt HTTP/1.0\r\n\r\n")
    second = read_until_close(s)
    assert second.startswith(b"HTTP/1.1 200 OK") and second.endswith(b"hello, world\n")
    s.close()


def test_methods(spate):
    r, body = get(spate, "/hello.txt", method="POST", headers={"Content-Length": "0"})
    assert r.status == 405
    assert r.getheader("Allow") == "GET, HEAD, OPTIONS"
    r, _ = get(spate, "/hello.txt", method="DELETE")
    assert r.status == 405 and "GET" in r.getheader("Allow")
    r, body = get(spate, "/hello.txt", method="OPTIONS")
    assert r.status == 200 and r.getheader("Allow") == "GET, HEAD, OPTIONS" and body == b""
    data = raw(spate, b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 200 OK") and b"Allow: GET, HEAD, OPTIONS" in data
    r, _ = get(spate, "/hello.txt", method="TRACE")
    assert r.status == 405
    data = raw(spate, b"BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 501 Not Implemented")
    data = raw(spate, b"get / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 501")  # methods are case-sensitive


def test_malformed_requests(spate):
    cases = [
        (b"GET / HTTP/1.1\r\n\r\n", 400),                       # no Host
        (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        (b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n y\r\n\r\n", 400),
        (b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505),
        (b"GET / HTTP/0.9\r\n\r\n", 505),
        (b"GET / XTTP/1.1\r\nHost: a\r\n\r\n", 400),
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: a\r\n\r\n", 414),
        (b"GET / HTTP/1.1\r\nHost: a\r\n" + b"X-Big: " + b"b" * 40000 + b"\r\n\r\n", 431),
        (b"GET / HTTP/1.1\r\nHost: a\r\n" + b"".join(b"X%d: 1\r\n" % i for i in range(200))
         + b"\r\n", 431),
    ]
    for req, status in cases:
        data = raw(spate, req)
        assert data.startswith(b"HTTP/1.1 %d " % status), (req[:60], data[:80])
        assert b"Connection: close" in data.split(b"\r\n\r\n")[0]


def test_error_closes_connection(spate):
    # after a framing error, pipelined bytes are never parsed as a request
    data = raw(spate, b"GET / HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n"
                      b"GET /hello.txt HTTP/1.1\r\nHost: a\r\n\r\n", shut=False)
    assert data.count(b"HTTP/1.1 ") == 1 and data.startswith(b"HTTP/1.1 400")


def test_split_request_byte_by_byte(spate):
    s = spate.connect()
    req = b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nUser-Agent: slow\r\n\r\n"
    for b in req:
        s.sendall(bytes([b]))
        time.sleep(0.002)
    data = b""
    while not data.endswith(b"hello, world\n"):
        d = s.recv(65536)
        assert d
        data += d
    assert data.startswith(b"HTTP/1.1 200 OK")
    s.close()


def test_curl(spate):
    out = subprocess.run(["curl", "-sS", "-D", "-", spate.url("/dir/sub/file.txt")],
                         capture_output=True, timeout=30)
    assert out.returncode == 0
    assert b"HTTP/1.1 200 OK" in out.stdout and out.stdout.endswith(b"deep file\n")
    out = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}",
                          spate.url("/space%20name.txt")], capture_output=True, timeout=30)
    assert out.stdout == b"200"


def test_absolute_form_and_host_port(spate):
    data = raw(spate, b"GET http://example.com/hello.txt HTTP/1.1\r\nHost: other\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 200") and data.endswith(b"hello, world\n")
    data = raw(spate, b"GET /hello.txt HTTP/1.0\r\n\r\n")  # 1.0 without Host: default server
    assert data.startswith(b"HTTP/1.1 200")


def test_request_body_discarded(spate):
    # a GET with a body: the body is skipped, never parsed as the next request
    data = raw(spate, b"GET /hello.txt HTTP/1.1\r\nHost: a\r\nContent-Length: 30\r\n\r\n"
                      b"GET /evil HTTP/1.1\r\nHost: ab\r\n"
                      b"GET /hello.txt HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
               shut=False)
    resps = split_responses(data)
    assert [r[0] for r in resps] == [200, 200]


def test_body_too_large(spate):
    data = raw(spate, b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 999999999\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 413")


def test_post_without_length(spate):
    data = raw(spate, b"POST /hello.txt HTTP/1.1\r\nHost: a\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 411")
