"""Content-Type: the built-in table, `types { }` (nginx's format, `include mime.types;`),
`types_file` (Debian's /etc/mime.types), default_type, charset and charset_types, force_type
(for a location, for globs), mime_magic off|on|all (libmagic on the first bytes, a peek read
for a file too large to be held in memory), nosniff, etag off, and the configuration errors,
each naming file:line. Every type is checked on a 200 and on a 206 of the same file."""
import gzip
import http.client
import os
import re
import struct
import subprocess
import zlib

import pytest

from conftest import BIN, Spate

# ---------------------------------------------------------------- helpers


def request(s, path, method="GET", headers=None, host=None):
    """(status, {lowercased name: value}, body); sends no header the caller did not ask for
    (http.client's default Accept-Encoding: identity is left out)."""
    c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
    c.putrequest(method, path, skip_host=host is not None, skip_accept_encoding=True)
    if host is not None:
        c.putheader("Host", host)
    for k, v in (headers or {}).items():
        c.putheader(k, v)
    c.endheaders()
    r = c.getresponse()
    body = r.read()
    h = {k.lower(): v for k, v in r.getheaders()}
    c.close()
    return r.status, h, body


def ctype(s, path, host=None):
    """The Content-Type of path: asserted present and the same on a 200 and on a 206."""
    st, h, body = request(s, path, host=host)
    assert st == 200, (path, st, body[:200])
    assert h.get("content-type"), (path, "200 without Content-Type", h)
    if body:
        st2, h2, b2 = request(s, path, headers={"Range": "bytes=0-0"}, host=host)
        assert st2 == 206, (path, st2)
        assert h2.get("content-range") == "bytes 0-0/%d" % len(body), (path, h2)
        assert b2 == body[:1]
        assert h2.get("content-type") == h["content-type"], (path, h["content-type"], h2)
    return h["content-type"]


def png_bytes():
    """A valid 1x1 RGB PNG."""
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))


PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
BLOB = bytes([1, 2, 3, 4, 0xfe, 0xfd, 0x80, 0x81]) * 64  # `file` says application/octet-stream
BIG = 200 * 1024  # above open_file_cache_small's default (64k): not held in memory


@pytest.fixture
def site(tmp_path):
    r = tmp_path / "www"
    for d in ("raw", "loc", "nocs", "forced", "magic", "dir"):
        (r / d).mkdir(parents=True, exist_ok=True)
    files = {
        "index.html": b"<!DOCTYPE html><title>t</title>\n",
        "style.css": b"body { color: red }\n",
        "STYLE2.CSS": b"p { margin: 0 }\n",
        "app.js": b"console.log(1)\n",
        "data.json": b'{"a": 1}\n',
        "hello.txt": b"hello, world\n",
        "image.png": png_bytes(),
        "x.qqq": b"unknown extension\n",
        "blob": b"\x00\x01\x02",
        "a.foo": b"foo\n",
        "A.FOO": b"FOO\n",
        "a.bar": b"bar\n",
        "a.loc": b"loc\n",
        "aa.aa": b"aa\n",
        "bb.bb": b"bb\n",
        "app.log": b"log line\n",
        "README": b"read me\n",
        "README.md": b"# read me\n",
        "notes.txt": b"notes\n",
        "xREADME": b"not a readme\n",
        "dir/sub.log": b"sub log\n",
        "raw/a.html": b"<p>raw</p>\n",
        "raw/style.css": b"a {}\n",
        "loc/a.loc": b"loc\n",
        "loc/a.html": b"<p>loc</p>\n",
        "loc/x.qqq": b"loc unknown\n",
        "nocs/a.html": b"<p>nocs</p>\n",
        "forced/x.png": png_bytes(),
        "forced/a.html": b"<p>forced</p>\n",
        "forced/noext": png_bytes(),
        "magic/png": png_bytes(),
        "magic/pdf": PDF,
        "magic/gz": gzip.compress(b"hello world\n" * 50, mtime=0),
        "magic/blob": BLOB,
        "magic/x.txt": png_bytes(),
        "magic/junk.css": BLOB,
        "magic/plain.css": b"body { color: blue }\n",
        "magic/bigpng": png_bytes() + b"\x00" * BIG,
        "magic/bigpng.txt": png_bytes() + b"\x00" * BIG,
        "magic/bigblob": BLOB * (BIG // len(BLOB) + 1),
    }
    for name, data in files.items():
        (r / name).write_bytes(data)
    return r


def conf_text(root, main="", server="", servers=""):
    return ("workers 1;\n%s\nserver {\n  listen 127.0.0.1:0;\n  root %s;\n%s\n}\n%s"
            % (main, root, server, servers))


@pytest.fixture
def run(tmp_path):
    """start(text) writes tmp_path/spate.conf and starts spate; every one started is
    stopped at the end and must exit 0 without a sanitizer report."""
    live = []

    def start(text, name="spate.conf"):
        conf = tmp_path / name
        conf.write_text(text)
        s = Spate(["-c", str(conf)]).start()
        live.append(s)
        return s
    yield start
    for s in live:
        rc, err = s.stop()
        assert rc == 0, "spate exited %s: %s" % (rc, err)
        assert "ERROR: AddressSanitizer" not in err and "runtime error" not in err, err


def check(tmp_path, text, name="spate.conf"):
    """spate -t on text: (returncode, stderr)."""
    conf = tmp_path / name
    conf.write_text(text)
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "abort_on_error=0:detect_leaks=1:exitcode=66")
    p = subprocess.run([BIN, "-t", "-c", str(conf)], capture_output=True, env=env, timeout=60)
    return p.returncode, p.stderr.decode(errors="replace")


def line_of(text, needle):
    for i, line in enumerate(text.split("\n"), 1):
        if needle in line:
            return i
    raise AssertionError("%r not in config" % needle)


# ---------------------------------------------------------------- the built-in table


def test_builtin_table(run, site):
    s = run(conf_text(site))
    want = {
        "/style.css": "text/css",
        "/STYLE2.CSS": "text/css",  # the extension's case does not matter
        "/index.html": "text/html",  # charset is off by default (nginx's)
        "/app.js": "text/javascript",
        "/data.json": "application/json",
        "/image.png": "image/png",
        "/hello.txt": "text/plain",
        "/x.qqq": "application/octet-stream",
        "/blob": "application/octet-stream",
    }
    for path, t in want.items():
        assert ctype(s, path) == t, path
    # a multipart 206 names the part's type in each part
    st, h, body = request(s, "/style.css", headers={"Range": "bytes=0-0,2-2"})
    assert st == 206
    assert h["content-type"].startswith("multipart/byteranges; boundary=")
    assert body.count(b"Content-Type: text/css\r\n") == 2, body


# ---------------------------------------------------------------- types { }


def test_types_block_replaces_table(run, site):
    s = run(conf_text(site, main="types { text/x-foo foo; }\ndefault_type text/x-default;"))
    assert ctype(s, "/a.foo") == "text/x-foo"
    assert ctype(s, "/A.FOO") == "text/x-foo"  # extensions are case-insensitive
    # the block replaces the whole built-in table: html and css are no longer known
    assert ctype(s, "/index.html") == "text/x-default"
    assert ctype(s, "/style.css") == "text/x-default"
    assert ctype(s, "/blob") == "text/x-default"


def test_include_mime_types_nginx_idiom(run, site, tmp_path):
    # nginx's mime.types is a `types { }` block in a file of its own, included at http level
    (tmp_path / "mime.types").write_text(
        "\ntypes {\n"
        "    text/html                 html htm shtml;\n"
        "    text/css                  css;\n"
        "    image/png                 png;\n"
        "    text/x-bar                bar;\n"
        "}\n")
    text = ("workers 1;\nhttp {\n"
            "  include mime.types;\n"
            "  default_type application/x-dflt;\n"
            "  server {\n"
            "    listen 127.0.0.1:0;\n"
            "    root %s;\n"
            "    location /raw/ { types { } default_type text/plain; }\n"
            "    location /loc/ { types { text/x-loc loc; } }\n"
            "  }\n}\n" % site)
    s = run(text)
    assert ctype(s, "/index.html") == "text/html"
    assert ctype(s, "/style.css") == "text/css"
    assert ctype(s, "/image.png") == "image/png"
    assert ctype(s, "/a.bar") == "text/x-bar"
    assert ctype(s, "/x.qqq") == "application/x-dflt"
    assert ctype(s, "/app.js") == "application/x-dflt"  # not in the included table
    # `types { } default_type text/plain;`: everything in the location is text/plain
    assert ctype(s, "/raw/a.html") == "text/plain"
    assert ctype(s, "/raw/style.css") == "text/plain"
    # a location's own block replaces the http one there, and only there
    assert ctype(s, "/loc/a.loc") == "text/x-loc"
    assert ctype(s, "/loc/a.html") == "application/x-dflt"
    assert ctype(s, "/a.loc") == "application/x-dflt"
    assert ctype(s, "/index.html") == "text/html"


def test_two_types_blocks_in_one_context_merge(run, site):
    s = run(conf_text(site, server="  types { text/x-a aa; }\n  types { text/x-b bb; }"))
    assert ctype(s, "/aa.aa") == "text/x-a"
    assert ctype(s, "/bb.bb") == "text/x-b"
    assert ctype(s, "/index.html") == "application/octet-stream"


# ---------------------------------------------------------------- types_file


def debian_types(path="/etc/mime.types"):
    """{ext: type} for the extensions that appear exactly once in a mime.types file."""
    seen, count = {}, {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.split("#", 1)[0].split()
            if len(line) < 2:
                continue
            for ext in line[1:]:
                ext = ext.lower()
                seen[ext] = line[0]
                count[ext] = count.get(ext, 0) + 1
    return {e: t for e, t in seen.items() if count[e] == 1}


def test_types_file_debian(run, site):
    if not os.path.exists("/etc/mime.types"):
        pytest.skip("no /etc/mime.types (Debian's media-types package)")
    table = debian_types()
    picks = [e for e in ("odt", "epub", "flac", "wasm", "deb", "tex", "spx") if e in table]
    assert len(picks) >= 3, "too few known extensions in /etc/mime.types"
    for e in picks:
        (site / ("f." + e)).write_bytes(b"x")
    s = run(conf_text(site, main="types_file /etc/mime.types;"))
    for e in picks:
        assert ctype(s, "/f." + e) == table[e], e
    assert ctype(s, "/x.qqq") == "application/octet-stream"


def test_types_file_and_block_in_one_context(run, site, tmp_path):
    (tmp_path / "custom.types").write_text("# a comment\ntext/x-from-file foo txt\n\n")
    s = run(conf_text(site, server="  types_file custom.types;\n  types { text/x-win txt; }"))
    assert ctype(s, "/a.foo") == "text/x-from-file"
    assert ctype(s, "/hello.txt") == "text/x-win"  # the block's lines win over the file's
    assert ctype(s, "/index.html") == "application/octet-stream"


def test_types_file_missing(tmp_path, site):
    text = conf_text(site, main="types_file %s;" % (tmp_path / "no-such.types"))
    rc, err = check(tmp_path, text)
    assert rc != 0, err
    assert "spate.conf:%d:" % line_of(text, "types_file") in err, err
    assert "no-such.types" in err, err


def test_types_file_malformed_line(tmp_path, site):
    (tmp_path / "custom.types").write_text("text/plain txt\n\nnotatype foo\n")
    text = conf_text(site, main="types_file %s;" % (tmp_path / "custom.types"))
    rc, err = check(tmp_path, text)
    assert rc != 0, err
    assert "custom.types:3:" in err, err
    assert "spate.conf:%d:" % line_of(text, "types_file") in err, err


# ---------------------------------------------------------------- default_type, charset


def test_default_type_per_server_and_location(run, site):
    servers = ("server {\n  listen 127.0.0.1:0;\n  server_name b.test;\n  root %s;\n"
               "  default_type text/x-b;\n"
               "  location /loc/ { default_type text/x-l; }\n}\n" % site)
    # the first server on the address is its default: a.test
    s = run(conf_text(site, server="  server_name a.test;\n  default_type text/x-a;",
                      servers=servers))
    assert ctype(s, "/x.qqq", host="a.test") == "text/x-a"
    assert ctype(s, "/loc/x.qqq", host="a.test") == "text/x-a"
    assert ctype(s, "/x.qqq", host="b.test") == "text/x-b"
    assert ctype(s, "/blob", host="b.test") == "text/x-b"
    assert ctype(s, "/loc/x.qqq", host="b.test") == "text/x-l"
    assert ctype(s, "/style.css", host="b.test") == "text/css"  # the table still serves


def test_charset(run, site):
    s = run(conf_text(site, server="  charset utf-8;\n  location /nocs/ { charset off; }"))
    assert ctype(s, "/index.html") == "text/html; charset=utf-8"
    assert ctype(s, "/hello.txt") == "text/plain; charset=utf-8"  # in the default charset_types
    assert ctype(s, "/image.png") == "image/png"
    assert ctype(s, "/style.css") == "text/css"  # not in the default charset_types
    assert ctype(s, "/nocs/a.html") == "text/html"


def test_charset_types(run, site):
    s = run(conf_text(site, server="  charset utf-8;\n  charset_types text/css;"))
    assert ctype(s, "/style.css") == "text/css; charset=utf-8"
    assert ctype(s, "/hello.txt") == "text/plain"  # no longer in the set
    assert ctype(s, "/image.png") == "image/png"
    # nginx: charset_types lists types "in addition to text/html", which is always in
    assert ctype(s, "/index.html") == "text/html; charset=utf-8"


# ---------------------------------------------------------------- force_type


def test_force_type_location(run, site):
    s = run(conf_text(site, server="  location /forced/ { force_type text/plain; }"))
    assert ctype(s, "/forced/x.png") == "text/plain"
    assert ctype(s, "/forced/a.html") == "text/plain"
    assert ctype(s, "/forced/noext") == "text/plain"
    assert ctype(s, "/image.png") == "image/png"
    assert ctype(s, "/index.html") == "text/html"


def test_force_type_globs(run, site):
    s = run(conf_text(site, server='  force_type text/x-forced "*.log" "README*";'))
    assert ctype(s, "/app.log") == "text/x-forced"
    assert ctype(s, "/dir/sub.log") == "text/x-forced"  # the base name is matched
    assert ctype(s, "/README") == "text/x-forced"
    assert ctype(s, "/README.md") == "text/x-forced"
    assert ctype(s, "/notes.txt") == "text/plain"
    assert ctype(s, "/xREADME") == "application/octet-stream"
    assert ctype(s, "/index.html") == "text/html"


def test_force_type_wins_over_mime_magic(run, site):
    s = run(conf_text(site, server="  location /forced/ { mime_magic all; force_type text/x-f; }"
                      "\n  location /magic/ { mime_magic all; force_type text/x-g *.txt; }"))
    assert ctype(s, "/forced/x.png") == "text/x-f"
    assert ctype(s, "/forced/noext") == "text/x-f"
    assert ctype(s, "/magic/x.txt") == "text/x-g"  # PNG bytes, forced by its name
    assert ctype(s, "/magic/png") == "image/png"  # not matched: sniffed


# ---------------------------------------------------------------- mime_magic


def test_mime_magic_on(run, site):
    s = run(conf_text(site, server="  location /magic/ { mime_magic on;"
                      " default_type application/x-unknown; }"))
    assert ctype(s, "/magic/png") == "image/png"
    assert ctype(s, "/magic/pdf") == "application/pdf"
    assert ctype(s, "/magic/gz") == "application/gzip"
    assert ctype(s, "/magic/blob") == "application/x-unknown"  # libmagic: nothing useful
    # a known extension keeps its type with `on`
    assert ctype(s, "/magic/x.txt") == "text/plain"
    assert ctype(s, "/magic/junk.css") == "text/css"
    # larger than the in-memory limit: typed from a peek at its head
    assert os.path.getsize(site / "magic" / "bigpng") > 64 * 1024
    assert ctype(s, "/magic/bigpng") == "image/png"
    assert ctype(s, "/magic/bigblob") == "application/x-unknown"
    st, h, body = request(s, "/magic/bigpng")
    assert body == (site / "magic" / "bigpng").read_bytes()
    # outside the location mime_magic is off: the default type
    assert ctype(s, "/blob") == "application/octet-stream"


def test_mime_magic_all(run, site):
    s = run(conf_text(site, server="  location /magic/ { mime_magic all; }"))
    assert ctype(s, "/magic/x.txt") == "image/png"  # the bytes win over the name
    assert ctype(s, "/magic/bigpng.txt") == "image/png"
    assert ctype(s, "/magic/png") == "image/png"
    assert ctype(s, "/magic/pdf") == "application/pdf"
    # libmagic has nothing to say about the junk: the name's type stands
    assert ctype(s, "/magic/junk.css") == "text/css"
    assert ctype(s, "/magic/blob") == "application/octet-stream"


def test_mime_magic_off_by_default(run, site):
    s = run(conf_text(site, server="  location /magic/ { default_type text/x-d; }\n"
                      "  location /magic/x.txt { mime_magic off; }"))
    assert ctype(s, "/magic/png") == "text/x-d"
    assert ctype(s, "/magic/pdf") == "text/x-d"
    assert ctype(s, "/magic/bigpng") == "text/x-d"
    assert ctype(s, "/magic/x.txt") == "text/plain"


def test_mime_magic_charset(run, site):
    # a sniffed type gets the charset like a named one
    s = run(conf_text(site, server="  charset utf-8;\n  charset_types text/html image/png;\n"
                      "  location /magic/ { mime_magic on; }"))
    assert ctype(s, "/magic/png") == "image/png; charset=utf-8"


# ---------------------------------------------------------------- nosniff, etag off


def test_nosniff(run, site):
    s = run(conf_text(site, server="  location /loc/ { nosniff on; }"))
    st, h, _ = request(s, "/loc/a.html")
    assert st == 200 and h.get("x-content-type-options") == "nosniff", h
    st, h, _ = request(s, "/loc/a.html", headers={"Range": "bytes=0-1"})
    assert st == 206 and h.get("x-content-type-options") == "nosniff", h
    st, h, _ = request(s, "/index.html")
    assert st == 200 and "x-content-type-options" not in h, h


def test_nosniff_off_explicit(run, site):
    s = run(conf_text(site, main="nosniff on;", server="  location /loc/ { nosniff off; }"))
    st, h, _ = request(s, "/index.html")
    assert h.get("x-content-type-options") == "nosniff", h
    st, h, _ = request(s, "/loc/a.html")
    assert st == 200 and "x-content-type-options" not in h, h


def test_etag_off(run, site):
    s = run(conf_text(site, server="  location /loc/ { etag off; }"))
    st, h, _ = request(s, "/index.html")
    assert st == 200 and h.get("etag"), h  # the default: an ETag
    st, h, _ = request(s, "/loc/a.html")
    assert st == 200 and "etag" not in h, h
    lm = h["last-modified"]
    st, h2, body = request(s, "/loc/a.html", headers={"If-Modified-Since": lm})
    assert st == 304 and body == b"" and "etag" not in h2, (st, h2)
    st, _, _ = request(s, "/loc/a.html",
                       headers={"If-Modified-Since": "Thu, 01 Jan 1970 00:00:00 GMT"})
    assert st == 200
    # no ETag to match: If-None-Match with a tag never matches, the response is a 200
    st, _, _ = request(s, "/loc/a.html", headers={"If-None-Match": '"x"'})
    assert st == 200
    st, h, _ = request(s, "/loc/a.html", headers={"Range": "bytes=0-1"})
    assert st == 206 and "etag" not in h


# ---------------------------------------------------------------- configuration errors


@pytest.mark.parametrize("directive,words", [
    ("default_type nonsense;", "nonsense"),
    ("force_type bad;", "bad"),
    ("mime_magic maybe;", "maybe"),
    ("types { text/plain; }", "text/plain"),
    ("types { nonsense txt; }", "nonsense"),
    ("charset_types foo;", "foo"),
    ("etag sometimes;", "sometimes"),
    ("nosniff perhaps;", "perhaps"),
    ("force_type off *.log;", "off"),
])
def test_config_errors(tmp_path, site, directive, words):
    text = conf_text(site, server="  location /x/ {\n    %s\n  }" % directive)
    rc, err = check(tmp_path, text)
    assert rc != 0, (directive, err)
    assert "spate.conf:%d:" % line_of(text, directive) in err, (directive, err)
    assert words in err, (directive, err)
    assert "AddressSanitizer" not in err and "runtime error" not in err, err
