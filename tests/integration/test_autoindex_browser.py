"""A directory listing in a real browser: Debian's chromium, headless.

Loads a listing, checks the sorted order in the DOM chromium built (not in our bytes), follows
links read from that DOM (the Size column's heading, a directory, a file with a hostile name),
checks that no name became markup, and keeps a screenshot as an artifact:
<build dir>/tests/artifacts/autoindex_listing.png (or under $SPATE_ARTIFACTS).
"""
import html.parser
import shutil
import urllib.parse

import pytest

from browser import dump_dom, needs_chromium, screenshot
from conftest import spate_conf

pytestmark = needs_chromium


class Dom(html.parser.HTMLParser):
    """What the listing's DOM holds: the table body's links, the headings' links, every tag."""

    def __init__(self):
        super().__init__()
        self.rows, self.headings, self.tags = [], {}, []
        self._a, self._text, self._where = None, "", None

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag in ("thead", "tbody"):
            self._where = tag
        elif tag == "a":
            self._a, self._text = dict(attrs).get("href"), ""

    def handle_endtag(self, tag):
        if tag == "a" and self._a is not None:
            if self._where == "tbody":
                self.rows.append((self._a, self._text))
            else:
                self.headings[self._text] = self._a
            self._a = None

    def handle_data(self, data):
        if self._a is not None:
            self._text += data


def dom_of(profile, url):
    d = Dom()
    text = dump_dom(profile, url)
    d.feed(text)
    return d, text


@pytest.fixture
def site(tmp_path):
    root = tmp_path / "www"
    d = root / "files"
    (d / "sub").mkdir(parents=True)
    (d / "sub" / "inner.txt").write_bytes(b"inner file\n")
    (d / "another dir").mkdir()
    for name, size in [("small.txt", 10), ("medium.txt", 3000), ("large.bin", 2_000_000),
                       ("Zeta.txt", 500)]:
        (d / name).write_bytes(b"z" * size)
    (d / "<img src=x onerror=alert(1)>.txt").write_bytes(b"hostile but harmless\n")
    (d / ".secret").write_bytes(b"hidden")
    s = spate_conf(tmp_path, root, server="autoindex on;")
    yield s, tmp_path
    rc, err = s.stop()
    assert rc == 0, err
    assert "ERROR: AddressSanitizer" not in err and "runtime error" not in err, err


def test_listing_in_chromium(site):
    s, tmp = site
    profile = str(tmp / "chromium-profile")
    base = s.url("/files/")
    dom, text = dom_of(profile, base)
    names = [t for h, t in dom.rows if h != "../"]
    files = ["<img src=x onerror=alert(1)>.txt", "Zeta.txt", "large.bin", "medium.txt",
             "small.txt"]
    assert names == ["another dir/", "sub/"] + files  # directories first, then bytes order
    assert ".secret" not in text
    # the hostile name is text in the DOM, never an element
    assert "img" not in dom.tags and "script" not in dom.tags
    assert dom.rows[0] == ("../", "../")

    # follow the Size heading's link (as a click would): largest first, directories still first
    by_size = urllib.parse.urljoin(base, dom.headings["Size"])
    assert by_size.endswith("/files/?C=S;O=A")
    dom2, _ = dom_of(profile, by_size)
    assert [t for h, t in dom2.rows if h != "../"][2:] == \
        ["small.txt", "<img src=x onerror=alert(1)>.txt", "Zeta.txt", "medium.txt", "large.bin"]
    by_size_desc = urllib.parse.urljoin(by_size, dom2.headings["Size"])
    dom3, _ = dom_of(profile, by_size_desc)
    assert [t for h, t in dom3.rows if h != "../"][2:] == \
        ["large.bin", "medium.txt", "Zeta.txt", "<img src=x onerror=alert(1)>.txt", "small.txt"]

    # follow a directory's link, then its parent link back
    sub = urllib.parse.urljoin(base, [h for h, t in dom.rows if t == "sub/"][0])
    dom4, _ = dom_of(profile, sub)
    assert [t for h, t in dom4.rows if h != "../"] == ["inner.txt"]
    parent = urllib.parse.urljoin(sub, dom4.rows[0][0])
    assert parent == base
    spaced = urllib.parse.urljoin(base, [h for h, t in dom.rows if t == "another dir/"][0])
    assert spaced.endswith("/files/another%20dir/")
    dom5, _ = dom_of(profile, spaced)
    assert dom5.rows == [("../", "../")]

    # follow the hostile file's link: the file itself
    hostile = urllib.parse.urljoin(base, [h for h, t in dom.rows if t.startswith("<img")][0])
    _, body = dom_of(profile, hostile)
    assert "hostile but harmless" in body

    # the artifact: what a person would see
    screenshot(profile, base, "autoindex_listing.png", size="1000,700")
    shutil.rmtree(profile, ignore_errors=True)
