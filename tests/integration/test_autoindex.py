"""Directory listings (autoindex): HTML and JSON, hostile names, sorting, the per-worker cache,
and a 100,000-entry directory listed while the same worker keeps answering small requests."""
import html.parser
import http.client
import json
import os
import statistics
import subprocess
import threading
import time
import urllib.parse

import pytest

from conftest import BIN, spate_conf


class Links(html.parser.HTMLParser):
    """The rows of a listing: (href, text) of each link in the table body, and every tag seen."""

    def __init__(self):
        super().__init__()
        self.rows, self.tags, self.title = [], [], ""
        self._href, self._text, self._in_body, self._in_title = None, "", False, False

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "tbody":
            self._in_body = True
        elif tag == "title":
            self._in_title = True
        elif tag == "a" and self._in_body:
            self._href, self._text = dict(attrs)["href"], ""

    def handle_endtag(self, tag):
        if tag == "a" and self._href is not None:
            self.rows.append((self._href, self._text))
            self._href = None
        elif tag == "tbody":
            self._in_body = False
        elif tag == "title":
            self._in_title = False

    def handle_data(self, data):
        if self._href is not None:
            self._text += data
        if self._in_title:
            self.title += data


def parse(body):
    p = Links()
    p.feed(body.decode("utf-8"))
    return p


def get(server, target, headers=None, method="GET"):
    c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    c.request(method, target, headers=headers or {})
    r = c.getresponse()
    body = r.read()
    c.close()
    return r, body


def names_of(body):
    """The entry names of an HTML listing, in order (the parent link left out)."""
    return [t for h, t in parse(body).rows if h != "../"]


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "www"
    (root / "pub" / "zsub").mkdir(parents=True)
    (root / "pub" / "asub").mkdir()
    (root / "pub" / "zsub" / "deep.txt").write_bytes(b"deep\n")
    for name, size, mtime in [("b.txt", 300, 2_000_000), ("a.txt", 5000, 1_000_000),
                              ("C.bin", 10, 3_000_000)]:
        p = root / "pub" / name
        p.write_bytes(b"x" * size)
        os.utime(p, (mtime, mtime))
    os.utime(root / "pub" / "zsub", (500_000, 500_000))
    os.utime(root / "pub" / "asub", (4_000_000, 4_000_000))
    (root / "pub" / ".hidden").write_bytes(b"secret")
    (root / "pub" / ".git").mkdir()
    (root / "withindex").mkdir()
    (root / "withindex" / "index.html").write_bytes(b"<p>the index</p>")
    (root / "withindex" / "other.txt").write_bytes(b"other")
    (root / "closed").mkdir()
    (root / "closed" / "f.txt").write_bytes(b"f")
    return root


def start(tmp_path, root, server="autoindex on;", main=""):
    return spate_conf(tmp_path, root, main=main, server=server)


def stopped_clean(s):
    rc, err = s.stop()
    assert rc == 0, err
    assert "ERROR: AddressSanitizer" not in err and "runtime error" not in err, err
    return err


def test_html_listing(tmp_path, tree):
    s = start(tmp_path, tree, server="autoindex on;\n location /closed/ { autoindex off; }")
    try:
        r, body = get(s, "/pub/")
        assert r.status == 200
        assert r.getheader("Content-Type") == "text/html; charset=utf-8"
        assert r.getheader("Vary") == "Accept"
        p = parse(body)
        assert p.title == "Index of /pub/"
        assert p.rows[0] == ("../", "../")
        # directories first, then files, by name (bytes); hidden ones left out
        assert names_of(body) == ["asub/", "zsub/", "C.bin", "a.txt", "b.txt"]
        assert b".hidden" not in body and b".git" not in body
        assert b"4.9K" in body  # 5000 bytes, in human units
        # the root has no parent link
        r, body = get(s, "/")
        assert r.status == 200 and parse(body).rows[0][0] != "../"
        # links work: a directory's link lists it, a file's serves it
        r, body = get(s, "/pub/zsub/")
        assert names_of(body) == ["deep.txt"]
        r, body = get(s, "/pub/a.txt")
        assert r.status == 200 and body == b"x" * 5000
        # an index file still wins; a location with listings off answers 404
        r, body = get(s, "/withindex/")
        assert r.status == 200 and body == b"<p>the index</p>"
        r, _ = get(s, "/closed/")
        assert r.status == 404
        # HEAD: the same head, no body
        r, body = get(s, "/pub/", method="HEAD")
        assert r.status == 200 and body == b"" and int(r.getheader("Content-Length")) > 100
        # a directory that does not exist
        r, _ = get(s, "/nope/")
        assert r.status == 404
    finally:
        stopped_clean(s)


def test_off_by_default(tmp_path, tree):
    s = start(tmp_path, tree, server="")
    try:
        r, _ = get(s, "/pub/")
        assert r.status == 404
    finally:
        stopped_clean(s)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every directory: no 403 to provoke")
def test_unreadable_directory_is_403(tmp_path, tree):
    os.chmod(tree / "closed", 0o311)  # searchable, not readable
    s = start(tmp_path, tree)
    try:
        r, _ = get(s, "/closed/")
        assert r.status == 403
    finally:
        os.chmod(tree / "closed", 0o755)
        stopped_clean(s)


def test_json(tmp_path, tree):
    s = start(tmp_path, tree, server="autoindex on;\n location /pub/zsub/ { autoindex_format json; }")
    try:
        for target, hdrs in [("/pub/", {"Accept": "application/json"}),
                             ("/pub/?format=json", {}),
                             ("/pub/", {"Accept": "text/html;q=0.5, application/json"})]:
            r, body = get(s, target, hdrs)
            assert r.status == 200 and r.getheader("Content-Type") == "application/json", target
            v = json.loads(body)
            assert [e["name"] for e in v] == ["asub", "zsub", "C.bin", "a.txt", "b.txt"]
            assert v[0]["type"] == "directory" and "size" not in v[0]
            a = v[3]
            assert a == {"name": "a.txt", "type": "file", "size": 5000,
                         "mtime": "Mon, 12 Jan 1970 13:46:40 GMT"}
            # negotiated by Accept: Vary says so; chosen by the query: it does not
            assert (r.getheader("Vary") == "Accept") == ("format=" not in target)
        # a browser's Accept gets HTML
        r, body = get(s, "/pub/", {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
        assert r.getheader("Content-Type").startswith("text/html")
        # autoindex_format json: JSON unless text/html is asked for
        r, body = get(s, "/pub/zsub/")
        assert r.getheader("Content-Type") == "application/json"
        assert json.loads(body)[0]["name"] == "deep.txt"
        r, body = get(s, "/pub/zsub/", {"Accept": "text/html"})
        assert r.getheader("Content-Type").startswith("text/html")
        r, body = get(s, "/pub/zsub/?format=html")
        assert r.getheader("Content-Type").startswith("text/html")
    finally:
        stopped_clean(s)


HOSTILE = [b"<script>alert(1)", b"<img src=x onerror=alert(1)>", b"q\"u'o&te", b"100%.txt",
           b"50%25", b"bad\xff\xfe.bin", b"new\nline", b"tab\there", b"javascript:x",
           b"a?b#c", b"caf\xc3\xa9", b" lead"]


def test_hostile_names(tmp_path):
    root = tmp_path / "www"
    d = root / "h"
    d.mkdir(parents=True)
    for i, n in enumerate(HOSTILE):
        with open(os.path.join(os.fsencode(str(d)), n), "wb") as f:
            f.write(b"content %d" % i)
    s = start(tmp_path, root)
    try:
        r, body = get(s, "/h/")
        assert r.status == 200
        p = parse(body)
        # no markup came from a name: only the page's own tags
        assert set(p.tags) <= {"html", "head", "meta", "title", "style", "body", "h1", "table",
                               "thead", "tbody", "tr", "th", "td", "a"}, set(p.tags)
        assert b"<script" not in body and b"<img" not in body
        rows = [(h, t) for h, t in p.rows if h != "../"]
        assert len(rows) == len(HOSTILE)
        by_name = {}
        for href, text in rows:
            # an href holds only unreserved bytes and escapes: no scheme, query or fragment
            assert all(c.isalnum() or c in "-._~%" for c in href), href
            by_name[urllib.parse.unquote_to_bytes(href)] = text
        assert set(by_name) == set(HOSTILE)
        # text: the name as UTF-8 where it is, U+FFFD for control bytes and the rest
        assert by_name[b"caf\xc3\xa9"] == "caf\u00e9"
        assert by_name[b"bad\xff\xfe.bin"] == "bad\ufffd\ufffd.bin"
        assert by_name[b"new\nline"] == "new\ufffdline"
        assert by_name[b"q\"u'o&te"] == "q\"u'o&te"
        # following every link fetches that file
        for i, n in enumerate(HOSTILE):
            href = [h for h, t in rows if urllib.parse.unquote_to_bytes(h) == n][0]
            r, got = get(s, "/h/" + href)
            assert r.status == 200 and got == b"content %d" % i, (n, href, r.status)
        # JSON: valid, every name there (bytes that are not UTF-8 as U+FFFD)
        r, body = get(s, "/h/?format=json")
        names = {e["name"] for e in json.loads(body)}
        want = {n.decode("utf-8", errors="replace") for n in HOSTILE}
        assert names == want
        # a hostile directory name in the title is escaped as well
        evil = os.path.join(os.fsencode(str(root)), b"<i>dir")
        os.mkdir(evil)
        r, body = get(s, "/%3Ci%3Edir/")
        assert r.status == 200 and b"<i>" not in body
        assert parse(body).title == "Index of /<i>dir/"
    finally:
        stopped_clean(s)


SORTS = {
    # key: (Apache letter, sort= word, the files ascending)
    "name": ("N", "name", ["C.bin", "a.txt", "b.txt"]),
    "time": ("M", "time", ["a.txt", "b.txt", "C.bin"]),
    "size": ("S", "size", ["C.bin", "b.txt", "a.txt"]),
}


def test_sorting(tmp_path, tree):
    s = start(tmp_path, tree)
    try:
        for key, (letter, word, files) in SORTS.items():
            dirs = {"name": ["asub/", "zsub/"], "time": ["zsub/", "asub/"],
                    "size": ["asub/", "zsub/"]}[key]
            for desc in (False, True):
                want_dirs = dirs[::-1] if desc and key != "size" else dirs
                want = want_dirs + (files[::-1] if desc else files)
                o = "D" if desc else "A"
                for q in ("C=%s;O=%s" % (letter, o), "C=%s&O=%s" % (letter, o),
                          "sort=%s&order=%s" % (word, "desc" if desc else "asc")):
                    r, body = get(s, "/pub/?" + q)
                    assert r.status == 200
                    assert names_of(body) == want, (q, names_of(body))
                    r, body = get(s, "/pub/?format=json&" + q)
                    got = [e["name"] + ("/" if e["type"] == "directory" else "")
                           for e in json.loads(body)]
                    assert got == want, ("json", q, got)
        # the column links offer the other order of the current key
        _, body = get(s, "/pub/?C=S;O=A")
        assert b'href="?C=S;O=D">Size' in body and b'href="?C=N;O=A">Name' in body
    finally:
        stopped_clean(s)


def test_cache_until_the_directory_changes(tmp_path, tree):
    s = start(tmp_path, tree, main="open_file_cache_valid 200ms;")
    try:
        _, first = get(s, "/pub/")
        assert b">C.bin</a></td><td>04-Feb-1970 17:20</td><td class=\"s\">10<" in first
        # rewriting a file in place does not change its directory: the cached page stays
        (tree / "pub" / "C.bin").write_bytes(b"y" * 3000)
        time.sleep(0.5)
        _, again = get(s, "/pub/")
        assert again == first
        # adding a file does: within open_file_cache_valid, the new listing shows it
        (tree / "pub" / "new.txt").write_bytes(b"n")
        time.sleep(0.5)
        _, after = get(s, "/pub/")
        assert "new.txt" in names_of(after)
        assert b"2.9K" in after  # and C.bin's new size, read afresh
        # removing it as well
        os.unlink(tree / "pub" / "new.txt")
        time.sleep(0.5)
        _, last = get(s, "/pub/")
        assert "new.txt" not in names_of(last)
    finally:
        stopped_clean(s)


def test_format_xml_is_refused(tmp_path, tree):
    conf = tmp_path / "t.conf"
    conf.write_text("server {\n listen 127.0.0.1:0;\n root %s;\n autoindex_format xml;\n}\n" % tree)
    r = subprocess.run([BIN, "-t", "-c", str(conf)], capture_output=True, timeout=30)
    assert r.returncode == 1
    assert b't.conf:4: "autoindex_format xml" is not supported (use html or json)' in r.stderr, \
        r.stderr


def make_big(d, n):
    d.mkdir(parents=True)
    fd = os.open(str(d), os.O_RDONLY)
    try:
        for i in range(n):
            os.close(os.open("f%06d.txt" % i, os.O_CREAT | os.O_WRONLY, 0o644, dir_fd=fd))
    finally:
        os.close(fd)


BIG = 100_000


@pytest.fixture(scope="module")
def big_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("big") / "www"
    make_big(root / "big", BIG)
    (root / "small.txt").write_bytes(b"small\n")
    return root


def test_large_directory_keeps_the_worker_answering(tmp_path, big_root):
    root, n = big_root, BIG
    s = start(tmp_path, root)
    lat, errors, listings = [], [], []
    stop = threading.Event()

    def small():
        c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)
        while not stop.is_set():
            t = time.monotonic()
            c.request("GET", "/small.txt")
            r = c.getresponse()
            body = r.read()
            lat.append(time.monotonic() - t)
            if r.status != 200 or body != b"small\n":
                errors.append(r.status)
            time.sleep(0.002)
        c.close()

    try:
        th = threading.Thread(target=small)
        th.start()
        time.sleep(0.3)
        for q in ("", "?C=S;O=D", "?format=json"):  # each one a fresh read of the directory
            t = time.monotonic()
            r, body = get(s, "/big/" + q)
            listings.append(time.monotonic() - t)
            assert r.status == 200
            if q == "?format=json":
                assert len(json.loads(body)) == n
            else:
                assert body.count(b"<tr><td><a href=\"f") == n
        stop.set()
        th.join()
    finally:
        stop.set()
        stopped_clean(s)
    assert not errors
    lat.sort()
    p99 = lat[int(len(lat) * 0.99)]
    print("listings %s s; %d small requests meanwhile, median %.1f ms, p99 %.1f ms, max %.1f ms"
          % (["%.2f" % x for x in listings], len(lat), statistics.median(lat) * 1e3, p99 * 1e3,
             lat[-1] * 1e3))
    # each listing takes far longer than this (a read of 100,000 entries, sanitizers on): small
    # requests were answered while it was being made, not after
    assert len(lat) > 20
    assert p99 < min(listings) / 2, (p99, listings)


def test_requests_for_one_listing_share_its_read(tmp_path, big_root):
    s = start(tmp_path, big_root)
    bodies, errors = [], []

    def one():
        try:
            r, body = get(s, "/big/?C=M;O=D")
            bodies.append(body) if r.status == 200 else errors.append(r.status)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    try:
        threads = [threading.Thread(target=one) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors and len(bodies) == 6
        assert all(b == bodies[0] for b in bodies)
        assert bodies[0].count(b"<tr><td><a href=\"f") == BIG
    finally:
        stopped_clean(s)


def test_client_gone_and_stop_while_listing(tmp_path, big_root):
    import signal
    import socket
    s = start(tmp_path, big_root)
    # a client that asks and leaves at once: its request waits for the helper, nobody is there
    c = socket.create_connection(("127.0.0.1", s.port))
    c.sendall(b"GET /big/?C=S;O=A HTTP/1.1\r\nHost: x\r\n\r\n")
    c.close()
    r, body = get(s, "/small.txt")
    assert r.status == 200 and body == b"small\n"
    # a stop while a listing is being made: the drain lets it finish, then spate exits cleanly
    got = []
    t = threading.Thread(target=lambda: got.append(get(s, "/big/?C=N;O=D")))
    t.start()
    time.sleep(0.2)
    s.proc.send_signal(signal.SIGTERM)
    t.join(60)
    # spate exits by itself once the drain is done (the listing of the client that left may
    # still be in the making on a loaded machine): a second signal would cut it short
    s.proc.wait(timeout=30)
    err = stopped_clean(s)
    assert got and got[0][0].status == 200, err
    assert got[0][1].count(b"<tr><td><a href=\"f") == BIG
