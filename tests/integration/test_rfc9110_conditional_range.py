"""RFC 9110 13 (conditional requests) and 14 (range requests) against cached small files
(served from memory) and large files (served with sendfile)."""
import email
import email.utils
import http.client
import os

import pytest

from conftest import raw, split_responses, spate_conf


@pytest.fixture
def files(tmp_path, docroot):
    small = bytes(range(256)) * 4          # 1 KiB: held in the cache
    big = os.urandom(300 * 1024)           # over open_file_cache_small: sendfile
    (docroot / "small.bin").write_bytes(small)
    (docroot / "big.bin").write_bytes(big)
    s = spate_conf(tmp_path, docroot, main="open_file_cache_small 64k;",
                   server="location /assets/ { expires 1h; add_header X-Edge hit; }")
    (docroot / "assets").mkdir()
    (docroot / "assets" / "a.css").write_bytes(b"a{}\n")
    yield s, {"/small.bin": small, "/big.bin": big}
    rc, err = s.stop()
    assert rc == 0, err


def get(s, path, headers=None, method="GET"):
    c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
    c.request(method, path, headers=headers or {})
    r = c.getresponse()
    body = r.read()
    c.close()
    return r, body


PATHS = ["/small.bin", "/big.bin"]


@pytest.mark.parametrize("path", PATHS)
def test_13_validators_present(files, path):
    s, data = files
    r, body = get(s, path)
    assert r.status == 200 and body == data[path]
    etag = r.getheader("ETag")
    assert etag.startswith('"') and etag.endswith('"') and not etag.startswith("W/")
    assert r.getheader("Last-Modified") and r.getheader("Accept-Ranges") == "bytes"


@pytest.mark.parametrize("path", PATHS)
def test_13_1_2_if_none_match(files, path):
    s, data = files
    r, _ = get(s, path)
    etag, lm = r.getheader("ETag"), r.getheader("Last-Modified")
    for inm in [etag, "W/" + etag, '"nope", ' + etag, "*"]:
        r, body = get(s, path, {"If-None-Match": inm})
        assert r.status == 304 and body == b"", inm
        assert r.getheader("ETag") == etag and r.getheader("Last-Modified") == lm
        assert r.getheader("Content-Length") is None
    r, body = get(s, path, {"If-None-Match": '"nope"'})
    assert r.status == 200 and body == data[path]
    r, body = get(s, path, {"If-None-Match": etag}, method="HEAD")
    assert r.status == 304


@pytest.mark.parametrize("path", PATHS)
def test_13_1_3_if_modified_since(files, path):
    s, data = files
    r, _ = get(s, path)
    lm = r.getheader("Last-Modified")
    t = email.utils.parsedate_to_datetime(lm).timestamp()
    later = email.utils.formatdate(t + 3600, usegmt=True)
    earlier = email.utils.formatdate(t - 3600, usegmt=True)
    assert get(s, path, {"If-Modified-Since": lm})[0].status == 304
    assert get(s, path, {"If-Modified-Since": later})[0].status == 304
    assert get(s, path, {"If-Modified-Since": earlier})[0].status == 200
    assert get(s, path, {"If-Modified-Since": "not a date"})[0].status == 200
    # RFC 850 and asctime forms are dates too
    rfc850 = email.utils.formatdate(t + 3600, usegmt=True)
    assert get(s, path, {"If-Modified-Since": rfc850})[0].status == 304
    # If-None-Match takes precedence (13.2.2)
    assert get(s, path, {"If-None-Match": '"other"', "If-Modified-Since": later})[0].status == 200


@pytest.mark.parametrize("path", PATHS)
def test_13_1_1_and_4_if_match_if_unmodified_since(files, path):
    s, data = files
    r, _ = get(s, path)
    etag, lm = r.getheader("ETag"), r.getheader("Last-Modified")
    t = email.utils.parsedate_to_datetime(lm).timestamp()
    earlier = email.utils.formatdate(t - 3600, usegmt=True)
    assert get(s, path, {"If-Match": etag})[0].status == 200
    assert get(s, path, {"If-Match": "*"})[0].status == 200
    assert get(s, path, {"If-Match": '"other"'})[0].status == 412
    assert get(s, path, {"If-Match": "W/" + etag})[0].status == 412  # strong comparison
    assert get(s, path, {"If-Unmodified-Since": earlier})[0].status == 412
    assert get(s, path, {"If-Unmodified-Since": lm})[0].status == 200
    # If-Match wins over If-Unmodified-Since; a failed If-Match wins over If-None-Match
    assert get(s, path, {"If-Match": etag, "If-Unmodified-Since": earlier})[0].status == 200
    assert get(s, path, {"If-Match": '"x"', "If-None-Match": etag})[0].status == 412


@pytest.mark.parametrize("path", PATHS)
def test_14_single_ranges(files, path):
    s, data = files
    d = data[path]
    n = len(d)
    for spec, first, last in [("0-99", 0, 99), ("100-", 100, n - 1), ("-100", n - 100, n - 1),
                              ("0-0", 0, 0), ("%d-%d" % (n - 1, n + 500), n - 1, n - 1),
                              ("-%d" % (n + 10), 0, n - 1)]:
        r, body = get(s, path, {"Range": "bytes=" + spec})
        assert r.status == 206, spec
        assert r.getheader("Content-Range") == "bytes %d-%d/%d" % (first, last, n), spec
        assert body == d[first:last + 1], spec
        assert r.getheader("Content-Length") == str(last - first + 1)


@pytest.mark.parametrize("path", PATHS)
def test_14_multiple_ranges_multipart(files, path):
    s, data = files
    d = data[path]
    n = len(d)
    r, body = get(s, path, {"Range": "bytes=0-9,50-59,-5"})
    assert r.status == 206
    ctype = r.getheader("Content-Type")
    assert ctype.startswith("multipart/byteranges; boundary=")
    assert int(r.getheader("Content-Length")) == len(body)
    msg = email.message_from_bytes(b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + body)
    parts = msg.get_payload()
    assert len(parts) == 3
    want = [(0, 9), (50, 59), (n - 5, n - 1)]
    for part, (a, b) in zip(parts, want):
        assert part["Content-Range"] == "bytes %d-%d/%d" % (a, b, n)
        assert part.get_payload(decode=True) == d[a:b + 1]
    # overlapping ranges are coalesced into one part
    r, body = get(s, path, {"Range": "bytes=0-10,5-20,21-30"})
    assert r.status == 206 and r.getheader("Content-Range") == "bytes 0-30/%d" % n
    assert body == d[:31]


@pytest.mark.parametrize("path", PATHS)
def test_14_unsatisfiable_and_ignored(files, path):
    s, data = files
    n = len(data[path])
    r, body = get(s, path, {"Range": "bytes=%d-" % n})
    assert r.status == 416 and r.getheader("Content-Range") == "bytes */%d" % n
    r, body = get(s, path, {"Range": "bytes=-0"})
    assert r.status == 416
    for bad in ["bytes=5-1", "bytes=x-y", "items=0-1", "bytes=", "0-10", "bytes=1-2-3"]:
        r, body = get(s, path, {"Range": bad})
        assert r.status == 200 and body == data[path], bad
    # absurd numbers of ranges are ignored: the whole file
    many = "bytes=" + ",".join("%d-%d" % (i * 3, i * 3) for i in range(40))
    r, body = get(s, path, {"Range": many})
    assert r.status == 200 and body == data[path]
    # Range is only for GET
    r, body = get(s, path, {"Range": "bytes=0-1"}, method="HEAD")
    assert r.status == 200 and body == b"" and r.getheader("Content-Length") == str(n)


@pytest.mark.parametrize("path", PATHS)
def test_13_1_5_if_range(files, path):
    s, data = files
    r, _ = get(s, path)
    etag, lm = r.getheader("ETag"), r.getheader("Last-Modified")
    r, body = get(s, path, {"Range": "bytes=0-3", "If-Range": etag})
    assert r.status == 206 and body == data[path][:4]
    r, body = get(s, path, {"Range": "bytes=0-3", "If-Range": '"stale"'})
    assert r.status == 200 and body == data[path]
    r, body = get(s, path, {"Range": "bytes=0-3", "If-Range": lm})
    assert r.status == 206
    r, body = get(s, path, {"Range": "bytes=0-3", "If-Range": "Mon, 01 Jan 2001 00:00:00 GMT"})
    assert r.status == 200
    r, body = get(s, path, {"Range": "bytes=0-3", "If-Range": "W/" + etag})
    assert r.status == 200


def test_caching_headers_per_location(files):
    s, _ = files
    r, body = get(s, "/assets/a.css")
    assert r.status == 200 and r.getheader("Cache-Control") == "max-age=3600"
    exp = email.utils.parsedate_to_datetime(r.getheader("Expires"))
    date = email.utils.parsedate_to_datetime(r.getheader("Date"))
    assert 3590 <= (exp - date).total_seconds() <= 3610
    assert r.getheader("X-Edge") == "hit"
    # a 304 repeats them (RFC 9110 15.4.5)
    r2, _ = get(s, "/assets/a.css", {"If-None-Match": r.getheader("ETag")})
    assert r2.status == 304 and r2.getheader("Cache-Control") == "max-age=3600"
    r, _ = get(s, "/small.bin")
    assert r.getheader("Cache-Control") is None


def test_pipelined_ranges(files):
    s, data = files
    req = b"".join(b"GET /big.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=%d-%d\r\n\r\n"
                   % (i * 1000, i * 1000 + 99) for i in range(50))
    req += b"GET /small.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    resps = split_responses(raw(s, req, shut=False))
    assert len(resps) == 51
    for i in range(50):
        assert resps[i][0] == 206 and resps[i][2] == data["/big.bin"][i * 1000:i * 1000 + 100]
    assert resps[50][2] == data["/small.bin"]
