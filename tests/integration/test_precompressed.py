"""Precompressed variants (precompressed br zstd gzip, gzip_static on|always,
precompressed_stale): the choice by Accept-Encoding (q-values, *, identity;q=0 -> 406) and
the server's order; Vary: Accept-Encoding on every response of such a resource (200, 304,
206, HEAD, 406); each variant's own ETag, Content-Length and Range; bodies that decompress to
the original (python's gzip, the brotli and zstd CLIs, curl --compressed); stale variants;
a variant without its original; per-location settings. Variants are made by tools/precompress
(and by the brotli CLI, which copies the mtime to the second only)."""
import gzip
import http.client
import os
import random
import shutil
import subprocess

import pytest

from conftest import BIN, Spate

SRC = os.environ.get("SPATE_SRC") or os.path.join(os.path.dirname(__file__), "..", "..")
TOOL = os.path.join(SRC, "tools", "precompress")
SUFFIX = {"br": ".br", "zstd": ".zst", "gzip": ".gz"}


def request(s, path, method="GET", headers=None, ae=None):
    """(status, {lowercased name: value}, body). ae: the Accept-Encoding value, a list of
    values (one field line each), or None for no Accept-Encoding at all."""
    c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
    c.putrequest(method, path, skip_accept_encoding=True)
    for v in ([ae] if isinstance(ae, str) else (ae or [])):
        c.putheader("Accept-Encoding", v)
    for k, v in (headers or {}).items():
        c.putheader(k, v)
    c.endheaders()
    r = c.getresponse()
    body = r.read()
    h = {}
    for k, v in r.getheaders():
        h.setdefault(k.lower(), []).append(v)
    c.close()
    return r.status, {k: ", ".join(v) for k, v in h.items()}, body


def has_vary(h):
    return "accept-encoding" in [t.strip().lower() for t in h.get("vary", "").split(",")]


def decode(enc, data):
    if enc is None:
        return data
    if enc == "gzip":
        return gzip.decompress(data)
    cmd = {"br": ["brotli", "-d", "-c"], "zstd": ["zstd", "-q", "-d", "-c"]}[enc]
    return subprocess.run(cmd, input=data, capture_output=True, check=True).stdout


def js_text(n):
    rnd = random.Random(n)
    lines = ["function f%d(a, b) { return a * %d + b - %d; } // %s\n"
             % (i, rnd.randrange(1000), rnd.randrange(1000), "x" * rnd.randrange(40))
             for i in range(n)]
    return "".join(lines).encode()


def precompress(*dirs):
    subprocess.run([TOOL, "-q", "-j", "2"] + [str(d) for d in dirs], check=True, timeout=300)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """www/ with originals and their variants; see the comments for what each part is for."""
    r = tmp_path_factory.mktemp("pre") / "www"
    for d in ("stale", "stale-ok", "trunc", "off", "gz", "always", "cli", "magic"):
        (r / d).mkdir(parents=True)
    js = js_text(600)  # about 40 KB: held in memory, variants too
    big = random.Random(7).randbytes(150 * 1024).hex().encode()  # 300 KB: variants > 64 KiB
    (r / "app.js").write_bytes(js)
    (r / "big.txt").write_bytes(big)
    (r / "plain.txt").write_bytes(b"too small to be worth a variant\n")
    for d in ("stale", "stale-ok", "trunc", "off", "gz", "always"):
        (r / d / "app.js").write_bytes(js)
    # for mime_magic: an HTML page and a text file without an extension
    (r / "magic" / "page.html").write_bytes(
        b"<!DOCTYPE html>\n<html><body>\n" + b"".join(
            b"<p>paragraph %d with some words</p>\n" % i for i in range(500)) + b"</body></html>\n")
    (r / "magic" / "notes").write_bytes(b"".join(
        b"plain english text line %d of the notes\n" % i for i in range(500)))
    precompress(r)
    for f in ("app.js", "big.txt"):
        for suf in SUFFIX.values():
            assert (r / (f + suf)).exists(), f + suf
    assert not (r / "plain.txt.gz").exists()
    # a variant whose original is gone (nginx's gzip_static serves it to gzip clients)
    for d in (r, r / "gz", r / "always"):
        (d / "lone.js.gz").write_bytes(gzip.compress(js, mtime=0))
    # an original edited after its variants were made: they are older by whole seconds
    for d in ("stale", "stale-ok"):
        st = os.stat(r / d / "app.js")
        os.utime(r / d / "app.js", ns=(st.st_atime_ns, st.st_mtime_ns + 5 * 10**9))
    # variants with the original's mtime cut to the second (brotli 1.0 does that): not stale
    t = r / "trunc" / "app.js"
    os.utime(t, ns=(1700000000_700000000, 1700000000_700000000))
    for suf in SUFFIX.values():
        os.utime(str(t) + suf, ns=(1700000000_000000000, 1700000000_000000000))
    # the brotli CLI itself (-k: keep the input), which copies the mtime the same way
    c = r / "cli" / "app.js"
    c.write_bytes(js)
    os.utime(c, ns=(1700000100_900000000, 1700000100_900000000))
    subprocess.run(["brotli", "-k", "-q", "5", str(c)], check=True)
    return r


CONF = """workers 1;
server {
  listen 127.0.0.1:0;
  root %s;
  precompressed br zstd gzip;
  location /stale-ok/ { precompressed_stale on; }
  location /off/ { precompressed off; }
  location /gz/ { precompressed off; gzip_static on; }
  location /always/ { precompressed off; gzip_static always; }
  location /magic/ { mime_magic on; }
  location /magic-all/ { alias %s/magic/; mime_magic all; }
}
"""


@pytest.fixture(scope="module")
def spate(site, tmp_path_factory):
    conf = tmp_path_factory.mktemp("conf") / "spate.conf"
    conf.write_text(CONF % (site, site))
    s = Spate(["-c", str(conf)]).start()
    yield s
    rc, err = s.stop()
    assert rc == 0, "spate exited %s: %s" % (rc, err)
    assert "ERROR: AddressSanitizer" not in err and "runtime error" not in err, err


def served(s, site, path, ae, want):
    """GET path with ae; asserts the coding want (None: identity), Vary, the original's type,
    the file's own length, and that the body decodes to the original."""
    st, h, body = request(s, path, ae=ae)
    assert st == 200, (path, ae, st, h)
    assert h.get("content-encoding") == want, (path, ae, h)
    assert has_vary(h), (path, ae, h)
    orig = (site / path.lstrip("/")).read_bytes()
    on_disk = orig if want is None else (site / (path.lstrip("/") + SUFFIX[want])).read_bytes()
    assert body == on_disk, (path, ae, len(body), len(on_disk))
    assert int(h["content-length"]) == len(on_disk)
    assert decode(want, body) == orig
    return h


# ---------------------------------------------------------------- choosing


@pytest.mark.parametrize("ae,want", [
    ("br, gzip", "br"),
    ("gzip, br", "br"),  # equal q: the server's order
    ("gzip;q=0.5, br;q=0.4", "gzip"),
    ("zstd", "zstd"),
    ("gzip", "gzip"),
    ("BR", "br"),  # codings are case-insensitive
    ("*", "br"),
    ("br;q=0, *", "zstd"),
    ("br;q=0, zstd;q=0, *", "gzip"),
    (None, None),
    ("", None),
    ("identity", None),
    ("deflate", None),
    ("gzip;q=0, br;q=0, zstd;q=0", None),
    ("identity;q=0, gzip", "gzip"),
    ("br;q=0.5, identity", None),
    ("gzip;q=1.0, identity;q=0.5", "gzip"),
    ("zstd;q=0.9, gzip;q=0.8, br;q=0.1, identity;q=0.05", "zstd"),
    (["gzip;q=0.2", "zstd"], "zstd"),  # two field lines are one list
])
def test_choice(spate, site, ae, want):
    h = served(spate, site, "/app.js", ae, want)
    assert h["content-type"] == "text/javascript", h  # the original's type, not the variant's


@pytest.mark.parametrize("ae", ["identity;q=0", "*;q=0", "identity;q=0, deflate",
                                "gzip;q=0, identity;q=0"])
def test_nothing_acceptable_is_406(spate, ae):
    st, h, _ = request(spate, "/app.js", ae=ae)
    assert st == 406, (ae, st, h)
    assert has_vary(h), h


def test_406_without_variants(spate):
    st, h, _ = request(spate, "/plain.txt", ae="identity;q=0")
    assert st == 406 and has_vary(h), (st, h)
    st, h, body = request(spate, "/plain.txt", ae="br, gzip")
    assert st == 200 and "content-encoding" not in h and has_vary(h), h


def test_large_variants(spate, site):
    for enc in ("br", "zstd", "gzip"):
        assert os.path.getsize(site / ("big.txt" + SUFFIX[enc])) > 64 * 1024
        served(spate, site, "/big.txt", enc, enc)
    served(spate, site, "/big.txt", None, None)


def test_variant_asked_for_by_name(spate, site):
    # x.js.gz is a file of its own too: typed by its name, no Content-Encoding
    st, h, body = request(spate, "/app.js.gz", ae="gzip")
    assert st == 200 and "content-encoding" not in h, h
    assert h["content-type"] == "application/gzip", h
    assert body == (site / "app.js.gz").read_bytes()


# ---------------------------------------------------------------- Vary, ETag, 304, Range, HEAD


def test_each_variant_its_own_validators(spate, site):
    tags = {}
    for enc in (None, "br", "zstd", "gzip"):
        h = served(spate, site, "/app.js", enc, enc)
        assert h.get("etag"), h
        tags[enc] = h["etag"]
    assert len(set(tags.values())) == 4, tags
    # stable: asked again, the same
    for enc in (None, "br", "zstd", "gzip"):
        _, h, _ = request(spate, "/app.js", ae=enc)
        assert h["etag"] == tags[enc]


def test_vary_and_304(spate, site):
    _, h, _ = request(spate, "/app.js", ae="br")
    br_tag = h["etag"]
    _, h, _ = request(spate, "/app.js")
    id_tag = h["etag"]
    st, h, body = request(spate, "/app.js", ae="br", headers={"If-None-Match": br_tag})
    assert st == 304 and body == b"", (st, h)
    assert has_vary(h) and h.get("etag") == br_tag, h
    st, h, _ = request(spate, "/app.js", headers={"If-None-Match": id_tag})
    assert st == 304 and has_vary(h) and h.get("etag") == id_tag, h
    # the br variant's tag does not validate the gzip one, nor the identity one
    st, h, _ = request(spate, "/app.js", ae="gzip", headers={"If-None-Match": br_tag})
    assert st == 200 and h.get("content-encoding") == "gzip" and has_vary(h), h
    st, h, _ = request(spate, "/app.js", headers={"If-None-Match": br_tag})
    assert st == 200 and "content-encoding" not in h, h
    # If-Modified-Since with the variant's Last-Modified
    _, h, _ = request(spate, "/app.js", ae="zstd")
    st, h, _ = request(spate, "/app.js", ae="zstd",
                       headers={"If-Modified-Since": h["last-modified"]})
    assert st == 304 and has_vary(h), (st, h)


@pytest.mark.parametrize("path", ["/app.js", "/big.txt"])
def test_range_on_variant(spate, site, path):
    gz = (site / (path.lstrip("/") + ".gz")).read_bytes()
    st, h, body = request(spate, path, ae="gzip", headers={"Range": "bytes=10-1009"})
    assert st == 206, (st, h)
    assert h.get("content-encoding") == "gzip", h
    assert h.get("content-range") == "bytes 10-1009/%d" % len(gz), h
    assert body == gz[10:1010]
    assert has_vary(h), h
    assert h["content-type"] == ("text/javascript" if path.endswith(".js") else "text/plain")
    # a suffix range is of the coded bytes too
    st, h, body = request(spate, path, ae="gzip", headers={"Range": "bytes=-8"})
    assert st == 206 and body == gz[-8:], (st, h)
    assert h.get("content-range") == "bytes %d-%d/%d" % (len(gz) - 8, len(gz) - 1, len(gz))
    # several ranges: one multipart body, the coding the whole response's
    st, h, body = request(spate, path, ae="gzip", headers={"Range": "bytes=0-1,4-5"})
    assert st == 206 and h["content-type"].startswith("multipart/byteranges"), h
    assert h.get("content-encoding") == "gzip" and has_vary(h), h
    assert b"Content-Range: bytes 0-1/%d" % len(gz) in body
    # an unsatisfiable range names the variant's length
    st, h, _ = request(spate, path, ae="gzip", headers={"Range": "bytes=%d-" % (len(gz) + 5)})
    assert st == 416 and h.get("content-range") == "bytes */%d" % len(gz), (st, h)
    assert has_vary(h), h


@pytest.mark.parametrize("ae", [None, "br", "zstd", "gzip"])
def test_head_equals_get(spate, ae):
    st, gh, gb = request(spate, "/app.js", ae=ae)
    st2, hh, hb = request(spate, "/app.js", method="HEAD", ae=ae)
    assert st == st2 == 200
    assert hb == b""
    gh.pop("date", None)
    hh.pop("date", None)
    assert gh == hh, (gh, hh)
    assert int(hh["content-length"]) == len(gb)


# ---------------------------------------------------------------- what clients get


def test_curl_compressed(spate, site, tmp_path):
    hdr = tmp_path / "h.txt"
    out = subprocess.run(["curl", "-sS", "--compressed", "-D", str(hdr), spate.url("/app.js")],
                         capture_output=True, check=True, timeout=30).stdout
    assert out == (site / "app.js").read_bytes()
    head = hdr.read_text().lower()
    assert "content-encoding: " in head and "vary: accept-encoding" in head, head
    out = subprocess.run(["curl", "-sS", "--compressed", spate.url("/big.txt")],
                         capture_output=True, check=True, timeout=30).stdout
    assert out == (site / "big.txt").read_bytes()
    # only gzip offered: curl gets and decodes the .gz
    out = subprocess.run(["curl", "-sS", "--compressed", "-H", "Accept-Encoding: gzip", "-D",
                          str(hdr), spate.url("/app.js")],
                         capture_output=True, check=True, timeout=30).stdout
    assert out == (site / "app.js").read_bytes()
    assert "content-encoding: gzip" in hdr.read_text().lower()


# ---------------------------------------------------------------- stale variants


def test_stale_variant_ignored(spate, site):
    for enc in ("br", "zstd", "gzip"):
        h = served(spate, site, "/stale/app.js", enc, None)
        assert h.get("content-encoding") is None


def test_stale_variant_served_when_told(spate, site):
    for enc in ("br", "zstd", "gzip"):
        served(spate, site, "/stale-ok/app.js", enc, enc)


def test_variant_mtime_to_the_second_is_not_stale(spate, site):
    for enc in ("br", "zstd", "gzip"):
        served(spate, site, "/trunc/app.js", enc, enc)
    # made by the brotli CLI
    assert os.stat(site / "cli" / "app.js.br").st_mtime_ns < os.stat(site / "cli" /
                                                                     "app.js").st_mtime_ns
    st, h, body = request(spate, "/cli/app.js", ae="br")
    assert st == 200 and h.get("content-encoding") == "br", h
    assert decode("br", body) == (site / "cli" / "app.js").read_bytes()


# ---------------------------------------------------------------- gzip_static, lone variants


def test_gzip_static_on(spate, site):
    served(spate, site, "/gz/app.js", "gzip", "gzip")
    served(spate, site, "/gz/app.js", "br, gzip", "gzip")
    served(spate, site, "/gz/app.js", "br", None)  # gzip_static knows only .gz
    served(spate, site, "/gz/app.js", None, None)


def test_gzip_static_always(spate, site):
    gz = (site / "always" / "app.js.gz").read_bytes()
    for ae in (None, "identity", "br"):
        st, h, body = request(spate, "/always/app.js", ae=ae)
        assert st == 200 and h.get("content-encoding") == "gzip", (ae, h)
        assert body == gz
    st, h, body = request(spate, "/always/lone.js")
    assert st == 200 and h.get("content-encoding") == "gzip", h
    assert gzip.decompress(body) == (site / "app.js").read_bytes()


@pytest.mark.parametrize("prefix", ["", "/gz"])
def test_variant_without_original(spate, site, prefix):
    path = prefix + "/lone.js"
    st, h, body = request(spate, path, ae="gzip")
    assert st == 200, (path, st, h)
    assert h.get("content-encoding") == "gzip" and h["content-type"] == "text/javascript", h
    assert gzip.decompress(body) == (site / "app.js").read_bytes()
    for ae in (None, "identity", "br"):
        st, h, _ = request(spate, path, ae=ae)
        assert st == 404, (path, ae, st, h)
        # a gzip client gets a 200 for the same URL: the 404 varies by Accept-Encoding too
        assert has_vary(h), (path, ae, h)


@pytest.mark.parametrize("path,want", [
    ("/magic/page.html", "text/html"),  # a known extension: not sniffed with `on`
    ("/magic/notes", "text/plain"),  # sniffed from the original's bytes
    ("/magic-all/page.html", "text/html"),
    ("/magic-all/notes", "text/plain"),
])
def test_variant_type_under_mime_magic(spate, site, path, want):
    # a variant is the same representation coded: the original's type, not its own bytes'
    # (libmagic would call x.gz application/gzip)
    st, h, _ = request(spate, path)
    assert st == 200 and h["content-type"] == want, (path, h)
    got = {}
    for enc in ("br", "zstd", "gzip"):
        st, h, body = request(spate, path, ae=enc)
        assert st == 200 and h.get("content-encoding") == enc, (path, enc, h)
        got[enc] = h["content-type"]
    assert got == {"br": want, "zstd": want, "gzip": want}, (path, got)


# ---------------------------------------------------------------- per location, configuration


def test_per_location(spate, site):
    st, h, body = request(spate, "/off/app.js", ae="br, gzip, zstd")
    assert st == 200 and "content-encoding" not in h, h
    assert body == (site / "off" / "app.js").read_bytes()
    served(spate, site, "/app.js", "br, gzip, zstd", "br")


@pytest.mark.parametrize("directive,words", [
    ("precompressed deflate;", "deflate"),
    ("precompressed br br;", "br"),
    ("precompressed br off;", "off"),
    ("gzip_static sometimes;", "sometimes"),
    ("precompressed_stale maybe;", "maybe"),
])
def test_config_errors(tmp_path, directive, words):
    text = ("workers 1;\nserver {\n  listen 127.0.0.1:0;\n  root %s;\n  location / {\n"
            "    %s\n  }\n}\n" % (tmp_path, directive))
    conf = tmp_path / "spate.conf"
    conf.write_text(text)
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "abort_on_error=0:detect_leaks=1:exitcode=66")
    p = subprocess.run([BIN, "-t", "-c", str(conf)], capture_output=True, env=env, timeout=60)
    err = p.stderr.decode(errors="replace")
    assert p.returncode != 0, (directive, err)
    assert "spate.conf:6:" in err and words in err, (directive, err)
