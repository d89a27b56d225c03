"""MultiViews in a real browser: Debian's chromium, headless.

Chromium fetches a negotiated /doc (doc.html.en, doc.html.ko, doc.json) and gets the HTML
variant for its own Accept header; the header it really sent (read back from the access log)
replayed through http.client gets the same variant; --accept-lang=ko gets the Korean one; a
language nobody has gets the 406 page, whose link chromium follows to the variant. The 406 page
is kept as an artifact: <build dir>/tests/artifacts/multiviews_406.png (or $SPATE_ARTIFACTS).
"""
import html.parser
import http.client
import shutil
import time
import urllib.parse

import pytest

from browser import dump_dom, needs_chromium, screenshot
from conftest import spate_conf

pytestmark = needs_chromium


class Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.links = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.links.append(dict(attrs).get("href"))


@pytest.fixture
def site(tmp_path):
    www = tmp_path / "www"
    www.mkdir()
    (www / "doc.html.en").write_bytes(b"<!DOCTYPE html><title>en</title><p id=v>english</p>\n")
    (www / "doc.html.ko").write_bytes(
        "<!DOCTYPE html><meta charset=utf-8><title>ko</title><p id=v>한국어</p>\n".encode())
    (www / "doc.json").write_bytes(b'{"variant": "json"}\n')
    (www / "only.fr.html").write_bytes(
        "<!DOCTYPE html><meta charset=utf-8><p>fran\u00e7ais seulement</p>\n".encode())
    log = tmp_path / "access.log"
    s = spate_conf(tmp_path, www,
                   main="log_format neg '$request_uri|$http_accept|$http_accept_language|$status';"
                        "\naccess_log %s neg;" % log,
                   server="multiviews on;")
    yield s, tmp_path, log
    rc, err = s.stop()
    assert rc == 0, err
    assert "ERROR: AddressSanitizer" not in err and "runtime error" not in err, err


def logged(log, uri):
    """The (Accept, Accept-Language, status) of the last logged request for uri."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if log.exists():
            rows = [ln.split("|") for ln in log.read_text().splitlines()]
            rows = [r for r in rows if r[0] == uri]
            if rows:
                return rows[-1][1], rows[-1][2], rows[-1][3]
        time.sleep(0.1)
    raise AssertionError("no access-log line for %s" % uri)


def test_chromium_gets_the_html_variant(site):
    s, tmp, log = site
    profile = str(tmp / "chromium-profile")
    dom = dump_dom(profile, s.url("/doc"))
    assert "english" in dom and '"variant"' not in dom
    accept, lang, status = logged(log, "/doc")
    assert status == "200"
    assert accept.startswith("text/html,") and "*/*;q=0.8" in accept, accept

    # the header chromium sent, replayed as it was: the same variant
    c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)
    c.request("GET", "/doc", headers={"Accept": accept, "Accept-Language": lang})
    r = c.getresponse()
    body = r.read()
    assert r.status == 200 and b"english" in body
    assert r.getheader("Content-Location") == "/doc.html.en"
    assert r.getheader("Content-Type") == "text/html"
    assert r.getheader("Vary") == "Accept, Accept-Language"
    c.close()

    dom = dump_dom(profile, s.url("/doc"), "--accept-lang=ko")
    assert "한국어" in dom
    assert logged(log, "/doc")[1] == "ko"
    shutil.rmtree(profile, ignore_errors=True)


def test_chromium_follows_the_406_page(site):
    s, tmp, log = site
    profile = str(tmp / "chromium-profile")
    page = dump_dom(profile, s.url("/only"), "--accept-lang=de")
    assert logged(log, "/only")[2] == "406"
    assert "406 Not Acceptable" in page and "only.fr.html" in page
    p = Links()
    p.feed(page)
    assert p.links == ["/only.fr.html"]
    target = urllib.parse.urljoin(s.url("/only"), p.links[0])
    dom = dump_dom(profile, target, "--accept-lang=de")
    assert "fran\u00e7ais seulement" in dom

    screenshot(profile, s.url("/only"), "multiviews_406.png", "--accept-lang=de", size="800,400")
    shutil.rmtree(profile, ignore_errors=True)
