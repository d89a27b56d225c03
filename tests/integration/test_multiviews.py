"""Content negotiation among files (multiviews, variants): the real spate on an ephemeral port.

A missing /doc beside doc.html.en, doc.html.ko and doc.json is negotiated on Accept,
Accept-Language and Accept-Charset (q-values, *, q=0), with the server's qualities, a default
language, a fallback, declared variant lists; every response for a variant carries Vary,
Content-Language and Content-Location (304 and 206 included); 406 lists the variants; a variant
added later is seen once the file cache's validity has passed; configuration errors name
file:line.
"""
import http.client
import os
import subprocess
import time

import pytest

from conftest import BIN, spate_conf

# Chromium 120's Accept for a navigation, as it sends it (test_multiviews_browser.py checks it)
CHROMIUM_ACCEPT = ("text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,"
                   "image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7")

SERVER = """
    multiviews on;
    location /lang/ { multiviews_default_language en; }
    location /fb/ { multiviews_fallback *.html.en; }
    location /q/ { multiviews_quality application/json 0.9; multiviews_quality text/* 0.5; }
    location /off/ { multiviews off; }
    location /listed/ { multiviews_languages tlh en; }
    location /al/ { alias %(www)s/lang/; multiviews_default_language ko; }
    variants /declared {
        en/intro.html   text/html  en;
        intro.ko.txt    text/plain ko qs=0.5;
        missing.html    text/html  fr;
        intro.data      application/json charset=utf-8 qs=0.1;
    }
"""


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


@pytest.fixture
def site(tmp_path):
    www = tmp_path / "www"
    for d in ("", "lang/", "fb/", "q/", "off/", "listed/"):
        write(str(www / d / "doc.html.en"), b"<p>english</p>\n")
        write(str(www / d / "doc.html.ko"), "<p>한국어</p>\n".encode())
        write(str(www / d / "doc.json"), b'{"lang": null}\n')
    write(str(www / "doc.html.bak"), b"not a variant\n")
    write(str(www / "doc.tar.gz"), b"not a variant either\n")
    write(str(www / "page.en.html"), b"<p>page en</p>\n")
    write(str(www / "page.ko.html"), b"<p>page ko</p>\n")
    write(str(www / "lang" / "page.fr.html"), b"<p>page fr</p>\n")
    write(str(www / "lang" / "page.en.html"), b"<p>page en</p>\n")
    write(str(www / "lang" / "page.ko.html"), b"<p>page ko</p>\n")
    write(str(www / "fb" / "doc.html.en"), b"<p>fallback english</p>\n")
    write(str(www / "listed" / "doc.html.tlh"), b"<p>tlhIngan</p>\n")
    write(str(www / "readme.txt.utf8"), "caf\u00e9\n".encode())
    write(str(www / "readme.txt.latin1"), "caf\u00e9\n".encode("latin-1"))
    write(str(www / "only.html.fr"), b"<p>fr only</p>\n")
    write(str(www / "sp ace.html"), b"<p>spaced</p>\n")
    write(str(www / "en" / "intro.html"), b"<p>intro en</p>\n")
    write(str(www / "intro.ko.txt"), "소개\n".encode())
    write(str(www / "intro.data"), b'{"intro": 1}\n')
    write(str(www / "big.html"), b"x" * 300000)
    os.makedirs(str(www / "folder"))
    write(str(www / "folder.d" / "x"), b"")
    os.makedirs(str(www / "dirvar.html"))  # a directory named like a variant
    write(str(www / "dirvar.json"), b"[]\n")
    outside = tmp_path / "outside"
    write(str(outside / "secret.html"), b"TOP SECRET\n")
    os.symlink(str(outside / "secret.html"), str(www / "esc.html"))
    write(str(www / "esc.json"), b'{"safe": 1}\n')
    s = spate_conf(tmp_path, www, main="open_file_cache_valid 200ms;\n"
                   "open_file_cache_negative 200ms;", server=SERVER % {"www": www}, workers=2)
    yield s, www
    rc, err = s.stop()
    assert rc == 0, err
    assert "ERROR: AddressSanitizer" not in err and "runtime error" not in err, err


def get(s, path, headers=None, method="GET"):
    c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)
    c.request(method, path, headers=headers or {})
    r = c.getresponse()
    body = r.read()
    h = {k.lower(): v for k, v in r.getheaders()}
    c.close()
    return r.status, h, body


def chosen(s, path, **headers):
    st, h, body = get(s, path, {k.replace("_", "-"): v for k, v in headers.items()})
    assert st == 200, (st, h, body)
    return h.get("content-location"), body


def test_accept_picks_the_type(site):
    s, _ = site
    assert chosen(s, "/doc", Accept="application/json")[0] == "/doc.json"
    assert chosen(s, "/doc", Accept="text/html")[0] == "/doc.html.en"
    assert chosen(s, "/doc", Accept="application/json;q=0.5, text/html")[0] == "/doc.html.en"
    assert chosen(s, "/doc", Accept="text/html;q=0.4, application/*")[0] == "/doc.json"
    # a browser's Accept: text/html beats */*;q=0.8
    loc, body = chosen(s, "/doc", Accept=CHROMIUM_ACCEPT)
    assert loc == "/doc.html.en" and body == b"<p>english</p>\n"
    # no Accept: every type is acceptable; the first by name of the tie
    st, h, _ = get(s, "/doc")
    assert st == 200 and h["content-location"] == "/doc.html.en"


def test_headers_of_a_variant(site):
    s, _ = site
    st, h, body = get(s, "/doc", {"Accept": "text/html", "Accept-Language": "ko"})
    assert st == 200 and body == "<p>한국어</p>\n".encode()
    assert h["content-type"] == "text/html"  # typed by .html, not by its last extension
    assert h["content-language"] == "ko"
    assert h["content-location"] == "/doc.html.ko"
    assert h["vary"] == "Accept, Accept-Language"
    assert "etag" in h and "last-modified" in h
    st, h, _ = get(s, "/doc", {"Accept": "application/json"})
    assert h["content-type"] == "application/json" and "content-language" not in h
    assert h["vary"] == "Accept, Accept-Language"
    # charset extensions: Content-Type carries them, Accept-Charset chooses
    st, h, body = get(s, "/readme.txt", {"Accept-Charset": "iso-8859-1"})
    assert st == 200 and h["content-type"] == "text/plain; charset=iso-8859-1"
    assert body == "caf\u00e9\n".encode("latin-1") and h["vary"] == "Accept, Accept-Charset"
    st, h, _ = get(s, "/readme.txt", {"Accept-Charset": "utf-8, iso-8859-1;q=0.5"})
    assert h["content-type"] == "text/plain; charset=utf-8"
    assert h["content-location"] == "/readme.txt.utf8"
    # the base's own extensions type it too (/doc.html: doc.html.ko is text/html)
    st, h, _ = get(s, "/doc.html", {"Accept-Language": "ko"})
    assert st == 200 and h["content-type"] == "text/html"
    # every variant is text/html, yet Accept could still refuse them all: it is in Vary
    assert h["content-location"] == "/doc.html.ko" and h["vary"] == "Accept, Accept-Language"
    # a name with a space: Content-Location percent-encoded
    st, h, _ = get(s, "/sp%20ace")
    assert st == 200 and h["content-location"] == "/sp%20ace.html"
    # HEAD: the same head, no body
    st, h, body = get(s, "/doc", {"Accept-Language": "ko"}, method="HEAD")
    assert st == 200 and body == b"" and h["content-location"] == "/doc.html.ko"


def test_accept_language(site):
    s, _ = site
    assert chosen(s, "/doc", Accept_Language="ko")[0] == "/doc.html.ko"
    assert chosen(s, "/doc", Accept_Language="en")[0] == "/doc.html.en"
    assert chosen(s, "/doc", Accept_Language="ko;q=0.5, en;q=0.8")[0] == "/doc.html.en"
    assert chosen(s, "/doc", Accept_Language="en;q=0.5, ko;q=0.8")[0] == "/doc.html.ko"
    # the range ko-KR does not match the tag ko (RFC 4647 basic filtering)
    assert chosen(s, "/doc", Accept_Language="ko-KR")[0] == "/doc.json"
    # "*": any language; the languages beat the variant without one, then the first by name
    loc, _ = chosen(s, "/doc", Accept="text/html, application/json", Accept_Language="*")
    assert loc == "/doc.html.en"
    assert chosen(s, "/doc", Accept_Language="fr, *;q=0.1")[0] == "/doc.html.en"
    assert chosen(s, "/doc", Accept_Language="ko;q=0.2, *;q=0.1")[0] == "/doc.html.ko"
    # a language nobody has: the variant without a language is still acceptable
    assert chosen(s, "/doc", Accept_Language="fr")[0] == "/doc.json"
    # page.en.html: the language in the middle, the type last
    loc, body = chosen(s, "/page", Accept_Language="ko")
    assert loc == "/page.ko.html" and body == b"<p>page ko</p>\n"


def test_q_zero_excludes(site):
    s, _ = site
    assert chosen(s, "/doc", Accept="text/html;q=0, */*")[0] == "/doc.json"
    assert chosen(s, "/doc", Accept="application/json;q=0, */*")[0] == "/doc.html.en"
    assert chosen(s, "/doc", Accept="text/html", Accept_Language="en;q=0, *")[0] == \
        "/doc.html.ko"
    st, h, _ = get(s, "/doc", {"Accept": "text/html", "Accept-Language": "en;q=0, ko;q=0"})
    assert st == 406


def test_default_language(site):
    s, _ = site
    # without Accept-Language: the default language, always (not the first by name, fr)
    for _ in range(5):
        loc, body = chosen(s, "/lang/page")
        assert loc == "/lang/page.en.html" and body == b"<p>page en</p>\n"
    # where the client's languages tie ("*", equal q) the default wins too
    assert chosen(s, "/lang/page", Accept_Language="*")[0] == "/lang/page.en.html"
    assert chosen(s, "/lang/page", Accept_Language="ko;q=0.5, en;q=0.5")[0] == \
        "/lang/page.en.html"
    # a stated preference still wins
    assert chosen(s, "/lang/page", Accept_Language="ko")[0] == "/lang/page.ko.html"
    assert chosen(s, "/lang/page", Accept_Language="fr, en;q=0.5")[0] == "/lang/page.fr.html"
    # nothing in the client's languages: the default language instead of 406 ...
    assert chosen(s, "/lang/page", Accept_Language="de")[0] == "/lang/page.en.html"
    # ... but never a language the client refused by name
    assert chosen(s, "/lang/page", Accept_Language="de, en;q=0")[0] in (
        "/lang/page.fr.html", "/lang/page.ko.html")
    # without a default, the tie goes to the first by name (page.en.html < page.ko.html)
    assert chosen(s, "/page")[0] == "/page.en.html"
    # an alias location with another default: the URI keeps the alias' prefix
    loc, body = chosen(s, "/al/page")
    assert loc == "/al/page.ko.html" and body == b"<p>page ko</p>\n"


def test_406_lists_the_variants(site):
    s, _ = site
    st, h, body = get(s, "/doc", {"Accept": "image/png"})
    assert st == 406
    assert h["vary"] == "Accept, Accept-Language"
    assert h["content-type"] == "text/html; charset=utf-8"
    text = body.decode()
    for name, typ in (("doc.html.en", "text/html"), ("doc.html.ko", "text/html"),
                      ("doc.json", "application/json")):
        assert '<a href="/%s">%s</a>, type %s' % (name, name, typ) in text
    assert "language ko" in text and "doc.html.bak" not in text and "doc.tar.gz" not in text
    st, h, body = get(s, "/doc", {"Accept": "image/png"}, method="HEAD")
    assert st == 406 and body == b"" and h["vary"] == "Accept, Accept-Language"
    # a single variant still varies: its language made this a 406
    st, h, body = get(s, "/only", {"Accept-Language": "de"})
    assert st == 406 and h["vary"] == "Accept, Accept-Language" and b"only.html.fr" in body


def test_fallback(site):
    s, _ = site
    st, h, body = get(s, "/fb/doc", {"Accept": "image/png"})
    assert st == 200 and body == b"<p>fallback english</p>\n"
    assert h["content-location"] == "/fb/doc.html.en" and h["vary"] == "Accept, Accept-Language"
    assert chosen(s, "/fb/doc", Accept="application/json")[0] == "/fb/doc.json"


def test_server_quality(site):
    s, _ = site
    # json 0.9 beats text/* 0.5 for a client that takes both alike
    assert chosen(s, "/q/doc")[0] == "/q/doc.json"
    assert chosen(s, "/q/doc", Accept="text/html, application/json;q=0.5")[0] == \
        "/q/doc.html.en"


def test_listed_languages(site):
    s, _ = site
    # only tlh and en are languages here: doc.html.ko has an unknown extension
    st, _, body = get(s, "/listed/doc", {"Accept": "text/html", "Accept-Language": "tlh"})
    assert st == 200 and body == b"<p>tlhIngan</p>\n"
    st, h, body = get(s, "/listed/doc", {"Accept": "text/html", "Accept-Language": "ko"})
    assert st == 406 and b"doc.html.ko" not in body and b"doc.html.tlh" in body


def test_conditional_and_range_carry_vary(site):
    s, _ = site
    st, h, _ = get(s, "/doc", {"Accept-Language": "ko"})
    etag = h["etag"]
    st, h2, body = get(s, "/doc", {"Accept-Language": "ko", "If-None-Match": etag})
    assert st == 304 and body == b""
    assert h2["vary"] == "Accept, Accept-Language" and h2["etag"] == etag
    assert h2["content-location"] == "/doc.html.ko" and h2["content-language"] == "ko"
    # the other variant's ETag does not match
    st, _, _ = get(s, "/doc", {"Accept-Language": "en", "If-None-Match": etag})
    assert st == 200
    st, h3, body = get(s, "/doc", {"Accept-Language": "en", "Range": "bytes=3-9"})
    assert st == 206 and body == b"english" and h3["vary"] == "Accept, Accept-Language"
    st, h4, _ = get(s, "/doc", {"Accept-Language": "en", "Range": "bytes=999-"})
    assert st == 416 and h4["vary"] == "Accept, Accept-Language"
    st, h5, _ = get(s, "/doc", {"Accept-Language": "en", "If-Match": '"nope"'})
    assert st == 412 and h5["vary"] == "Accept, Accept-Language"


def test_declared_variants(site):
    s, _ = site
    loc, body = chosen(s, "/declared")
    assert loc == "/en/intro.html" and body == b"<p>intro en</p>\n"
    st, h, body = get(s, "/declared", {"Accept-Language": "ko"})
    assert st == 200 and h["content-type"] == "text/plain" and h["content-language"] == "ko"
    assert body == "소개\n".encode()
    # the declared type is sent, whatever the name says; qs 0.1 loses to anything else
    st, h, body = get(s, "/declared", {"Accept": "application/json"})
    assert st == 200 and h["content-type"] == "application/json; charset=utf-8"
    assert h["vary"] == "Accept, Accept-Language, Accept-Charset"
    # missing.html (fr) does not exist: skipped, the next best is sent
    st, h, _ = get(s, "/declared", {"Accept-Language": "fr, *;q=0.1", "Accept": "text/html"})
    assert st == 200 and h["content-location"] == "/en/intro.html"
    st, _, body = get(s, "/declared", {"Accept-Language": "fr", "Accept": "text/html"})
    assert st == 406 and b"missing.html" not in body


def test_not_negotiated(site):
    s, _ = site
    assert get(s, "/off/doc")[0] == 404  # multiviews off
    assert get(s, "/doc.html.en")[0] == 200  # a file is a file
    assert get(s, "/nothing")[0] == 404  # no variants
    assert get(s, "/folder/")[0] == 404  # a directory URI is not negotiated
    assert get(s, "/folder")[0] == 301  # a directory is a directory
    assert get(s, "/doc/")[0] == 404
    assert get(s, "/doc.html")[0] == 200  # doc.html.en and doc.html.ko are its variants
    assert get(s, "/.doc")[0] == 404
    # a directory named like a variant is not one; a variant outside the root is never sent
    assert chosen(s, "/dirvar", Accept="text/html, */*;q=0.1")[0] == "/dirvar.json"
    loc, body = chosen(s, "/esc", Accept="text/html, */*;q=0.1")
    assert loc == "/esc.json" and b"SECRET" not in body


def test_new_variant_is_seen(site):
    s, www = site
    assert chosen(s, "/doc", Accept="text/plain, */*;q=0.5")[0] == "/doc.html.en"
    assert get(s, "/late")[0] == 404
    write(str(www / "doc.txt"), b"plain text\n")
    write(str(www / "late.html"), b"<p>late</p>\n")
    deadline = time.monotonic() + 5
    seen = set()
    while time.monotonic() < deadline and len(seen) < 2:
        if get(s, "/doc", {"Accept": "text/plain, */*;q=0.5"})[1].get("content-location") == \
                "/doc.txt":
            seen.add("doc")
        if get(s, "/late")[0] == 200:
            seen.add("late")
        time.sleep(0.05)
    assert seen == {"doc", "late"}
    # and a removed one goes
    os.unlink(str(www / "doc.txt"))
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if get(s, "/doc", {"Accept": "text/plain, */*;q=0.5"})[1].get("content-location") == \
                "/doc.html.en":
            break
        time.sleep(0.05)
    else:
        pytest.fail("doc.txt still chosen after it was removed")


def test_many_names_in_one_directory(tmp_path):
    """One read per directory: 20,000 names, 300 different missing ones asked for."""
    www = tmp_path / "www"
    os.makedirs(str(www / "big"))
    for i in range(20000):
        with open(str(www / "big" / ("f%05d.html" % i)), "wb") as f:
            f.write(b"%d\n" % i)
    s = spate_conf(tmp_path, www, server="multiviews on;", workers=1)
    try:
        c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=60)
        t0 = time.monotonic()
        for i in range(0, 20000, 67):
            c.request("GET", "/big/f%05d" % i)
            r = c.getresponse()
            assert r.status == 200 and r.read() == b"%d\n" % i
            assert r.getheader("Content-Location") == "/big/f%05d.html" % i
            c.request("GET", "/big/g%05d" % i)
            r = c.getresponse()
            r.read()
            assert r.status == 404
        elapsed = time.monotonic() - t0
        c.close()
        assert elapsed < 30, elapsed
    finally:
        rc, err = s.stop()
    assert rc == 0, err
    assert "ERROR: AddressSanitizer" not in err and "runtime error" not in err, err


# (directive text at line 5, the line the error names, what it says)
ERRORS = [
    ("multiviews_quality text/html 1.5;", 5,
     'multiviews_quality: "1.5" is not a quality between 0 and 1'),
    ("multiviews_quality text 0.5;", 5, 'multiviews_quality: "text" is not a media type'),
    ("multiviews_default_language en_US;", 5,
     'multiviews_default_language: "en_US" is not a language tag'),
    ("multiviews_languages en ko en;", 5, 'multiviews_languages: "en" is listed twice'),
    ("multiviews_fallback index.html;", 5, 'multiviews_fallback: "index.html" must be off or'),
    ("multiviews maybe;", 5, None),
    ("variants /doc/ {\n a.html text/html;\n}", 5, 'variants: "/doc/" must be a URI path'),
    ("variants /doc {\n a.html;\n}", 6, 'variants: "a.html" needs a media type'),
    ("variants /doc {\n ../a.html text/html;\n}", 6, 'variants: "../a.html" must be a relative'),
    ("variants /doc {\n a.html text/html en fr;\n}", 6, 'variants: "fr" is not a language tag'),
    ("variants /doc {\n a.html text/html qs=2;\n}", 6, 'variants: "qs=2": qs must be given'),
    ("variants /doc {\n a.html html;\n}", 6, 'variants: "html" is not a media type'),
    ("variants /doc {\n}", 5, 'variants "/doc" lists no file'),
    ("variants /doc {\n a.html text/html;\n}\n variants /doc {\n b.html text/html;\n}", 8,
     'variants: "/doc" is declared twice in this block (at line 5)'),
    ("variants /doc;", 5, '"variants" needs a { } block'),
]


@pytest.mark.parametrize("text,line,message", ERRORS)
def test_config_errors(tmp_path, text, line, message):
    conf = tmp_path / "spate.conf"
    conf.write_text("workers 1;\nserver {\n listen 127.0.0.1:0;\n root %s;\n %s\n}\n"
                    % (tmp_path, text))
    r = subprocess.run([BIN, "-t", "-c", str(conf)], capture_output=True, timeout=30)
    err = r.stderr.decode()
    assert r.returncode == 1, err
    assert "%s:%d: " % (conf, line) in err, err
    if message:
        assert message in err, err
