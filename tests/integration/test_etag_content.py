"""etag content: ETags from the bytes (XXH3-128, "<32 hex>"), the same for the same bytes in
two docroots whatever the inodes and mtimes; a large file's hash is computed off the worker
(its first response may carry the inode ETag) and kept in the user.spate.xxh128 attribute,
so a restarted spate does not hash it again; a changed file gets a new ETag; a precompressed
variant has the ETag of its own bytes."""
import errno
import gzip
import http.client
import os
import random
import re
import shutil
import subprocess
import time

import pytest

from conftest import Spate

CONTENT = re.compile(r'^"[0-9a-f]{32}"$')
XATTR = "user.spate.xxh128"
BIG = 8 << 20  # well above open_file_cache_small (64k): hashed on a helper thread
MTIME_A = 1600000000_123456789
MTIME_B = 1650000000_987654321


def request(s, path, host, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)
    c.putrequest("GET", path, skip_host=True, skip_accept_encoding=True)
    c.putheader("Host", host)
    for k, v in (headers or {}).items():
        c.putheader(k, v)
    c.endheaders()
    r = c.getresponse()
    body = r.read()
    h = {k.lower(): v for k, v in r.getheaders()}
    c.close()
    return r.status, h, body


def etag(s, path, host, headers=None):
    st, h, body = request(s, path, host, headers)
    assert st == 200, (path, host, st, h)
    assert h.get("etag"), (path, host, h)
    return h["etag"], body


def poll_content_etag(s, path, host, not_=None, limit=10.0):
    """Asks until the ETag is a content one (and not not_); returns it."""
    deadline = time.monotonic() + limit
    seen = []
    while True:
        tag, _ = etag(s, path, host)
        seen.append(tag)
        if CONTENT.match(tag) and tag != not_:
            return tag
        if time.monotonic() > deadline:
            raise AssertionError("no content ETag for %s on %s within %ss: %s"
                                 % (path, host, limit, sorted(set(seen))))
        time.sleep(0.1)


def xxh128(data):
    """XXH3-128 of data in canonical hex, or None when neither python's xxhash nor the
    xxhsum CLI is there."""
    try:
        import xxhash
        return xxhash.xxh3_128_hexdigest(data)
    except ImportError:
        pass
    if shutil.which("xxhsum"):
        out = subprocess.run(["xxhsum", "-H2", "-"], input=data, capture_output=True,
                             check=True).stdout.split()
        return out[0].decode()
    return None


def put(path, data, mtime_ns):
    path.write_bytes(data)
    os.utime(path, ns=(mtime_ns, mtime_ns))


@pytest.fixture
def roots(tmp_path):
    """Two docroots with the same bytes in files of other inodes and mtimes."""
    rnd = random.Random(42)
    small = rnd.randbytes(10 * 1024)
    big = rnd.randbytes(BIG)
    css = ("".join(".c%d { color: #%06x; margin: %dpx }\n" % (i, rnd.randrange(1 << 24), i)
                   for i in range(300))).encode()
    out = []
    for name, mt in (("a", MTIME_A), ("b", MTIME_B)):
        r = tmp_path / name
        r.mkdir()
        put(r / "small.txt", small, mt)
        put(r / "big.bin", big, mt)
        put(r / "style.css", css, mt)
        put(r / "style.css.gz", gzip.compress(css, 9, mtime=0), mt)
        out.append(r)
    a, b = out
    assert os.stat(a / "big.bin").st_ino != os.stat(b / "big.bin").st_ino
    return a, b


CONF = """user root;
workers 1;
etag content;
precompressed gzip;
server {
  listen 127.0.0.1:0;
  server_name a.test;
  root %s;
}
server {
  listen 127.0.0.1:0;
  server_name b.test;
  root %s;
}
server {
  listen 127.0.0.1:0;
  server_name inode.test;
  root %s;
  etag on;
}
"""


@pytest.fixture
def run(tmp_path, roots):
    live = []
    conf = tmp_path / "spate.conf"
    conf.write_text(CONF % (roots[0], roots[1], roots[0]))

    def start():
        s = Spate(["-c", str(conf)]).start()
        live.append(s)
        return s
    yield start
    for s in live:
        rc, err = s.stop()
        assert rc == 0, "spate exited %s: %s" % (rc, err)
        assert "ERROR: AddressSanitizer" not in err and "runtime error" not in err, err


def stop_ok(s):
    rc, err = s.stop()
    assert rc == 0, "spate exited %s: %s" % (rc, err)
    assert "ERROR: AddressSanitizer" not in err and "runtime error" not in err, err


def xattr_of(path):
    """The attribute's text, or None when the file has none; skips where user xattrs are
    not supported."""
    try:
        return os.getxattr(path, XATTR).decode()
    except OSError as e:
        if e.errno in (errno.ENOTSUP, errno.EOPNOTSUPP):
            pytest.skip("the filesystem of %s has no user xattrs" % path)
        if e.errno == errno.ENODATA:
            return None
        raise


# ---------------------------------------------------------------- small files


def test_small_file_same_etag_in_both_roots(run, roots):
    a, b = roots
    s = run()
    ta, body = etag(s, "/small.txt", "a.test")
    tb, _ = etag(s, "/small.txt", "b.test")
    assert CONTENT.match(ta), ta
    assert ta == tb
    assert body == (a / "small.txt").read_bytes()
    want = xxh128(body)
    if want is not None:
        assert ta == '"%s"' % want
    # the inode ETag (etag on) of the same file is something else
    ti, _ = etag(s, "/small.txt", "inode.test")
    assert ti != ta and not CONTENT.match(ti), ti
    # a validator from one root validates the other's copy
    st, h, body = request(s, "/small.txt", "b.test", {"If-None-Match": ta})
    assert st == 304 and body == b"" and h.get("etag") == ta, (st, h)
    st, h, _ = request(s, "/small.txt", "b.test", {"If-None-Match": ti})
    assert st == 200
    # Range and If-Range with the content ETag
    st, h, body = request(s, "/small.txt", "b.test", {"Range": "bytes=0-9", "If-Range": ta})
    assert st == 206 and body == (b / "small.txt").read_bytes()[:10] and h["etag"] == ta


def test_small_file_changed(run, roots):
    a, _ = roots
    s = run()
    old, _ = etag(s, "/small.txt", "a.test")
    data = b"other bytes entirely\n" * 100
    (a / "small.txt").write_bytes(data)
    new = poll_content_etag(s, "/small.txt", "a.test", not_=old, limit=5)
    want = xxh128(data)
    if want is not None:
        assert new == '"%s"' % want


# ---------------------------------------------------------------- large files


def test_large_file(run, roots):
    a, b = roots
    s = run()
    first, body = etag(s, "/big.bin", "a.test")  # may still be the inode ETag
    assert len(body) == BIG and body == (a / "big.bin").read_bytes()
    ta = poll_content_etag(s, "/big.bin", "a.test")
    tb = poll_content_etag(s, "/big.bin", "b.test")
    assert ta == tb
    want = xxh128((a / "big.bin").read_bytes())
    if want is not None:
        assert ta == '"%s"' % want
    st, h, _ = request(s, "/big.bin", "b.test", {"If-None-Match": ta})
    assert st == 304 and h.get("etag") == ta, (st, h)
    # the hash is kept on the file, tied to its size and mtime
    for root, mt in ((a, MTIME_A), (b, MTIME_B)):
        x = xattr_of(root / "big.bin")
        assert x is not None, "no %s on %s" % (XATTR, root / "big.bin")
        assert x.split() == ["1", str(BIG), str(mt), ta.strip('"')], x
        assert os.stat(root / "big.bin").st_mtime_ns == mt  # writing it moved no mtime
    # a restart reads the attribute: the content ETag on the very first response
    ctime = os.stat(a / "big.bin").st_ctime_ns
    stop_ok(s)
    s = run()
    first_a = etag(s, "/big.bin", "a.test")[0]
    assert poll_content_etag(s, "/big.bin", "a.test", limit=5) == ta
    # no second hash: it would have written the attribute again, which moves the ctime
    assert os.stat(a / "big.bin").st_ctime_ns == ctime
    assert first_a == ta, "first response after a restart: %s, not the stored %s" % (first_a, ta)
    assert etag(s, "/big.bin", "b.test")[0] == ta


def test_large_file_changed(run, roots):
    a, _ = roots
    s = run()
    old = poll_content_etag(s, "/big.bin", "a.test")
    with open(a / "big.bin", "r+b") as f:  # the same length, other bytes
        f.seek(BIG // 2)
        f.write(b"changed!" * 16)
    new = poll_content_etag(s, "/big.bin", "a.test", not_=old, limit=10)
    want = xxh128((a / "big.bin").read_bytes())
    if want is not None:
        assert new == '"%s"' % want
    x = xattr_of(a / "big.bin")
    assert x is not None and x.split()[3] == new.strip('"'), x
    st, _, _ = request(s, "/big.bin", "a.test", {"If-None-Match": old})
    assert st == 200


# ---------------------------------------------------------------- precompressed variants


def test_variant_has_its_own_content_etag(run, roots):
    a, _ = roots
    s = run()
    gz = {"Accept-Encoding": "gzip"}
    ida, _ = etag(s, "/style.css", "a.test")
    idb, _ = etag(s, "/style.css", "b.test")
    st, ha, bodya = request(s, "/style.css", "a.test", gz)
    st2, hb, _ = request(s, "/style.css", "b.test", gz)
    assert st == st2 == 200
    assert ha.get("content-encoding") == "gzip" == hb.get("content-encoding"), (ha, hb)
    assert bodya == (a / "style.css.gz").read_bytes()
    assert CONTENT.match(ida) and CONTENT.match(ha["etag"]), (ida, ha)
    assert ida == idb
    assert ha["etag"] == hb["etag"]
    assert ha["etag"] != ida
    want = xxh128(bodya)
    if want is not None:
        assert ha["etag"] == '"%s"' % want
        assert ida == '"%s"' % xxh128((a / "style.css").read_bytes())
    st, h, _ = request(s, "/style.css", "b.test", dict(gz, **{"If-None-Match": ha["etag"]}))
    assert st == 304, (st, h)
    st, h, _ = request(s, "/style.css", "b.test", {"If-None-Match": ha["etag"]})
    assert st == 200  # the variant's tag does not validate the identity representation
