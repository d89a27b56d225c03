"""Docroot confinement: traversal, encoded dots and slashes, NUL, symlinks out of the root."""
import http.client

from conftest import raw


def status_of(spate, target):
    data = raw(spate, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
               shut=False)
    return int(data.split(b" ", 2)[1]), data


def test_traversal_refused(spate):
    for t in [b"/../../../../etc/passwd", b"/..", b"/dir/../../etc/passwd",
              b"/%2e%2e/%2e%2e/etc/passwd", b"/%2E%2E/etc/passwd", b"/.%2e/.%2e/etc/passwd",
              b"/dir/%2e%2e/%2e%2e/etc/passwd", b"/..%2fetc%2fpasswd", b"/%2f..%2f..%2fetc/passwd",
              b"/hello.txt%00.html", b"/%00", b"/escape.txt", b"/escape-dir/secret.txt"]:
        st, data = status_of(spate, t)
        assert st in (400, 403, 404), (t, st)
        assert b"TOP SECRET" not in data and b"root:" not in data, t


def test_dot_segments_inside_root_resolve(spate):
    st, data = status_of(spate, b"/dir/../hello.txt")
    assert st == 200 and data.endswith(b"hello, world\n")
    st, data = status_of(spate, b"/./dir/./sub/../sub/file.txt")
    assert st == 200 and data.endswith(b"deep file\n")
    st, data = status_of(spate, b"//hello.txt")
    assert st == 200


def test_symlink_inside_root_ok(spate):
    st, data = status_of(spate, b"/link-inside.txt")
    assert st == 200 and data.endswith(b"hello, world\n")


def test_bad_escapes(spate):
    assert status_of(spate, b"/%zz")[0] == 400
    assert status_of(spate, b"/%4")[0] == 400


def test_http_client_traversal(spate):
    c = http.client.HTTPConnection("127.0.0.1", spate.port, timeout=10)
    c.request("GET", "/../escape.txt")
    r = c.getresponse()
    body = r.read()
    assert r.status in (400, 403, 404) and b"SECRET" not in body
