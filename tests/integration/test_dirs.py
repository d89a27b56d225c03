"""Directory mapping: index files, 301 to the slash form (query kept), 404 without an index."""
import http.client

from conftest import raw


def req(spate, target, method="GET"):
    c = http.client.HTTPConnection("127.0.0.1", spate.port, timeout=10)
    c.request(method, target)
    r = c.getresponse()
    return r, r.read()


def test_index(spate, docroot):
    r, body = req(spate, "/")
    assert r.status == 200 and body == (docroot / "index.html").read_bytes()
    assert r.getheader("Content-Type") == "text/html"
    r, body = req(spate, "/dir/")
    assert r.status == 200 and body == b"<p>dir index</p>\n"


def test_redirect_keeps_query(spate):
    # absolute, as nginx's absolute_redirect on: the Host without its port, the real port
    base = "http://127.0.0.1:%d" % spate.port
    r, body = req(spate, "/dir")
    assert r.status == 301 and r.getheader("Location") == base + "/dir/"
    r, _ = req(spate, "/dir?a=1&b=%20")
    assert r.status == 301 and r.getheader("Location") == base + "/dir/?a=1&b=%20"
    r, _ = req(spate, "/dir/sub")
    assert r.status == 301 and r.getheader("Location") == base + "/dir/sub/"
    r, body = req(spate, "/dir", method="HEAD")
    assert r.status == 301 and body == b""


def test_no_index_is_404(spate):
    r, _ = req(spate, "/noindex/")
    assert r.status == 404
    r, _ = req(spate, "/dir/sub/")
    assert r.status == 404


def test_file_with_slash_is_404(spate):
    r, _ = req(spate, "/hello.txt/")
    assert r.status == 404


def test_redirect_is_keepalive(spate):
    data = raw(spate, b"GET /dir HTTP/1.1\r\nHost: x\r\n\r\nGET /dir/ HTTP/1.1\r\nHost: x\r\n"
                      b"Connection: close\r\n\r\n", shut=False)
    assert data.startswith(b"HTTP/1.1 301") and b"HTTP/1.1 200 OK" in data


def test_redirect_location_is_never_off_site(spate, docroot):
    # the Location comes from the normalized path, so "//host/.." cannot point elsewhere
    for target in [b"//evil.example/..//dir", b"/./evil.example/../dir", b"//dir",
                   b"/%2e/dir"]:
        data = raw(spate, b"GET " + target + b"?x=1 HTTP/1.1\r\nHost: h\r\nConnection: close"
                   b"\r\n\r\n", shut=False)
        head = data.split(b"\r\n\r\n")[0]
        assert head.startswith(b"HTTP/1.1 301"), target
        loc = [l for l in head.split(b"\r\n") if l.lower().startswith(b"location:")][0]
        assert loc == b"Location: http://h:%d/dir/?x=1" % spate.port, (target, loc)
    (docroot / "a dir").mkdir()
    (docroot / "a dir" / "index.html").write_bytes(b"spaced dir\n")
    data = raw(spate, b"GET /a%20dir HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
               shut=False)
    assert b"Location: http://h:%d/a%%20dir/\r\n" % spate.port in data
