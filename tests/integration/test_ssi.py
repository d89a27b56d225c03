"""Server-side includes against the real binary: every directive, the errors and limits.

Documents are written into the docroot; spate serves them with `ssi on` and real HTTP
clients (http.client) read the streamed (chunked) pages. Includes go through routing: a
static file, a `deny all` location, a `return 200` location, a streaming handler
(test_stream, in test builds), nested documents, a depth limit and a loop.
"""
import http.client
import os
import re
import time

import pytest

from conftest import spate_conf

TEST_HANDLERS = os.environ.get("SPATE_TEST_HANDLERS", "0").lower() in ("1", "on", "true")
ERR = b"[an error occurred while processing the directive]"

SERVER = """
  ssi on;
  location /denied/ { deny all; }
  location = /ret { return 200 "returned"; }
  location /plain/ { ssi off; }
  location /silent/ { ssi_silent_errors on; }
  location /exec/ { ssi_exec on; }
  location /shallow/ { ssi_max_depth 2; }
  location /short/ { ssi_value_length 8; }
  location /lm/ { ssi_last_modified on; }
  location /types/ { ssi_types text/plain; }
  location /any/ { ssi_types *; }
  location /pc/ { precompressed gzip; }
%s
""" % ("  location = /stream { test_stream 100k 4k 1ms; }\n  location = /echo { test_echo; }"
       if TEST_HANDLERS else "")


@pytest.fixture
def site(tmp_path, docroot):
    def put(name, data):
        p = docroot / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data if isinstance(data, bytes) else data.encode())
        return p

    put("inc/a.txt", "AAA")
    put("inc/b.txt", "BBB")
    put("denied/x.txt", "secret")
    yield put


@pytest.fixture
def server(tmp_path, docroot, site):
    s = spate_conf(tmp_path, docroot, server=SERVER, main="open_file_cache_valid 10ms;")
    yield s
    rc, err = s.stop()
    assert rc == 0, err
    assert "AddressSanitizer" not in err and "runtime error" not in err, err


def get(server, path, method="GET", headers=None):
    c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=20)
    c.request(method, path, headers=headers or {})
    r = c.getresponse()
    body = r.read()
    c.close()
    return r, body


def page(server, site, name, text, path=None):
    site(name, text)
    r, body = get(server, path or "/" + name)
    assert r.status == 200, (r.status, body)
    return body


def test_text_and_chunked(server, site):
    site("t.html", "<p>plain</p><!-- a comment -->\n")
    r, body = get(server, "/t.html")
    assert r.status == 200
    assert r.getheader("Transfer-Encoding") == "chunked"
    assert r.getheader("Content-Type").startswith("text/html")
    assert r.getheader("Last-Modified") is None and r.getheader("ETag") is None
    assert body == b"<p>plain</p><!-- a comment -->\n"


def test_off_and_types(server, site):
    doc = '<!--#echo var="DOCUMENT_URI" -->'
    assert page(server, site, "plain/p.html", doc) == doc.encode()  # ssi off: as it is
    assert page(server, site, "t.txt", doc) == doc.encode()  # text/plain not listed
    assert page(server, site, "types/t.txt", doc) == b"/types/t.txt"
    assert page(server, site, "types/t.css", doc) == doc.encode()
    assert page(server, site, "any/t.css", doc) == b"/any/t.css"


def test_last_modified(server, site):
    site("lm/a.html", "x")
    r, _ = get(server, "/lm/a.html")
    assert r.getheader("Last-Modified") and r.getheader("ETag") is None


def test_include_virtual_and_file(server, site):
    site("d/f.txt", "F")
    body = page(server, site, "d/i.html",
                '[<!--#include virtual="/inc/a.txt" -->]'
                '[<!--#include virtual="../inc/b.txt" -->]'
                '[<!--#include file="f.txt" -->]'
                '[<!--#include virtual="/ret" -->]'
                '[<!--#include virtual="/inc/a.txt?x=1" wait="yes" -->]')
    assert body == b"[AAA][BBB][F][returned][AAA]"


def test_page_conditions_not_passed_on(server, site):
    # the page's If-Modified-Since, Range and Accept-Encoding are about the page: an include
    # gets none of them (no 304, no 206, no gzip variant inside the page)
    import gzip
    site("pc/p.txt", "PLAIN")
    site("pc/p.txt.gz", gzip.compress(b"PLAIN"))
    site("cond.html", '[<!--#include virtual="/pc/p.txt" -->]')
    r, body = get(server, "/cond.html", headers={
        "If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT", "Range": "bytes=0-1",
        "Accept-Encoding": "gzip", "If-None-Match": "*"})
    assert r.status == 200 and body == b"[PLAIN]"
    r, body = get(server, "/pc/p.txt", headers={"Accept-Encoding": "gzip"})
    assert r.getheader("Content-Encoding") == "gzip"  # the variant is there
    # a processed document is never sent as its precompressed variant
    site("pc/d.html", '<!--#echo var="DOCUMENT_NAME" -->')
    site("pc/d.html.gz", gzip.compress(b"raw"))
    r, body = get(server, "/pc/d.html", headers={"Accept-Encoding": "gzip"})
    assert r.getheader("Content-Encoding") is None and body == b"d.html"


def test_include_errors(server, site):
    body = page(server, site, "e.html",
                '1<!--#include virtual="/denied/x.txt" -->2'
                '<!--#include virtual="/missing.txt" -->3'
                '<!--#include file="../inc/a.txt" -->4'
                '<!--#include file="/inc/a.txt" -->5'
                '<!--#include virtual="/inc/" -->6')
    assert body == b"1" + ERR + b"2" + ERR + b"3" + ERR + b"4" + ERR + b"5" + ERR + b"6"
    assert b"secret" not in body


def test_silent_and_errmsg(server, site):
    doc = 'a<!--#include virtual="/missing" -->b<!--#bogus -->c'
    assert page(server, site, "silent/s.html", doc) == b"abc"
    body = page(server, site, "m.html",
                '<!--#config errmsg="[oops]" -->' + doc + '<!--#echo var= -->d')
    assert body == b"a[oops]b[oops]c[oops]d"


def test_echo_encodings(server, site):
    body = page(server, site, "q.html",
                '<!--#set var="v" value="<a href=\'x\'>&amp; b/c?d" -->'
                '[<!--#echo var="v" -->]'
                '[<!--#echo var="v" encoding="none" -->]'
                '[<!--#echo var="v" encoding="url" -->]'
                '[<!--#echo var="v" encoding="entity" -->]'
                '[<!--#echo var="undefined" -->]'
                '[<!--#echo var="undefined" default="dflt $v" encoding="none" -->]'
                '<!--#config echomsg="(nothing)" -->[<!--#echo var="undefined" -->]')
    assert body == (b"[&lt;a href=&#39;x&#39;&gt;&amp;amp; b/c?d]"
                    b"[<a href='x'>&amp; b/c?d]"
                    b"[%3Ca%20href%3D%27x%27%3E%26amp%3B%20b%2Fc%3Fd]"
                    b"[&lt;a href=&#39;x&#39;&gt;&amp;amp; b/c?d]"
                    b"[(none)][dflt <a href='x'>&amp; b/c?d][(nothing)]")


def test_variables(server, site):
    site("v/doc.html", '<!--#echo var="DOCUMENT_URI" -->|<!--#echo var="DOCUMENT_NAME" -->|'
                       '<!--#echo var="QUERY_STRING_UNESCAPED" encoding="none" -->|'
                       '<!--#echo var="uri" -->|<!--#echo var="arg_a" -->|'
                       '<!--#echo var="http_x_test" -->|<!--#echo var="host" -->|'
                       '<!--#set var="s" value="${arg_a}-\\$x-$uri" --><!--#echo var="s" -->')
    r, body = get(server, "/v/doc.html?a=1%202&b", headers={"X-Test": "hdr"})
    assert body == b"/v/doc.html|doc.html|a=1 2&b|/v/doc.html|1%202|hdr|127.0.0.1|1%202-$x-/v/doc.html"


def test_dates_and_timefmt(server, site):
    f = site("dt.html", '<!--#config timefmt="%Y-%m-%d %H:%M:%S" -->'
                        '<!--#echo var="DATE_GMT" -->|<!--#echo var="LAST_MODIFIED" -->|'
                        '<!--#flastmod file="inc/a.txt" -->|<!--#flastmod virtual="/inc/a.txt" -->|'
                        '<!--#config timefmt="%s" --><!--#echo var="DATE_LOCAL" -->')
    mt = time.time() - 3600 * 24 * 400
    os.utime(f.parent / "inc" / "a.txt", (mt, mt))
    before = int(time.time())
    r, body = get(server, "/dt.html")
    parts = body.decode().split("|")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", parts[0]), parts
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", parts[1]), parts
    want = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(int(mt)))
    assert parts[2] == want and parts[3] == want
    assert abs(int(parts[4]) - before) < 5
    # the default format: "Wednesday, 02-Dec-2026 15:03:11 UTC"
    body = page(server, site, "dt2.html", '<!--#echo var="DATE_GMT" -->')
    assert re.fullmatch(rb"[A-Z][a-z]+day, \d\d-[A-Z][a-z]{2}-\d{4} \d\d:\d\d:\d\d \w+", body), body


def test_fsize(server, site):
    site("inc/big.bin", b"x" * 123456)
    site("inc/k.bin", b"x" * 2000)
    body = page(server, site, "sz.html",
                '<!--#fsize file="inc/a.txt" -->|<!--#fsize file="inc/k.bin" -->|'
                '<!--#fsize virtual="/inc/big.bin" -->|<!--#config sizefmt="bytes" -->'
                '<!--#fsize file="inc/big.bin" -->|<!--#fsize file="inc/a.txt" -->|'
                '<!--#fsize virtual="/ret" -->|<!--#fsize file="nothere" -->')
    assert body == b"  3 |2.0K|121K|123,456|3|" + ERR + b"|" + ERR


def test_if_elif_else(server, site):
    doc = ('<!--#set var="a" value="apple" --><!--#set var="n" value="" -->'
           '<!--#if expr="$a = /^ap+le$/" -->1<!--#else -->x<!--#endif -->'
           '<!--#if expr="$a != apple" -->x<!--#elif expr="$n" -->x'
           '<!--#elif expr="${a} = \'apple\' && !$n" -->2<!--#else -->x<!--#endif -->'
           '<!--#if expr="$a < b" -->3<!--#endif -->'
           '<!--#if expr="$a >= b" -->x<!--#else -->4<!--#endif -->'
           '<!--#if expr="($n || $a) && $a == apple" -->'
           '<!--#if expr="$n" -->x<!--#else -->5<!--#if expr="$a" -->6<!--#endif --><!--#endif -->'
           '<!--#elif expr="1" -->x<!--#endif -->'
           '<!--#if expr="$a = /x/" -->x<!--#elif expr="$a = /p/" -->7<!--#elif expr="1" -->x'
           '<!--#else -->x<!--#endif -->'
           # nginx's forms
           '<!--#if expr="$a" -->8<!--#endif --><!--#if expr="$a != /^b/" -->9<!--#endif -->'
           '<!--#if expr="$uri = /ifs.html" -->0<!--#endif -->')
    assert page(server, site, "ifs.html", doc) == b"1234567890"


def test_if_errors(server, site):
    body = page(server, site, "ife.html",
                'a<!--#if expr="(x" -->x<!--#else -->b<!--#endif -->'
                '<!--#endif -->c<!--#if expr="1" -->d')
    assert body == b"a" + ERR + b"b" + ERR + b"cd" + ERR


def test_set_value_length(server, site):
    body = page(server, site, "short/v.html",
                '<!--#set var="a" value="12345678" --><!--#echo var="a" -->|'
                '<!--#set var="b" value="123456789" --><!--#echo var="b" -->|'
                '<!--#set var="c" value="$a$a" --><!--#echo var="c" -->')
    assert body == b"12345678|" + ERR + b"(none)|" + ERR + b"(none)"


def test_variables_seen_by_included_documents(server, site):
    # the common layout: a page sets its title, the included header echoes it; what the header
    # sets stays there
    site("lay/header.html", '<h1><!--#echo var="title" --></h1><!--#set var="inner" value="x" -->')
    body = page(server, site, "lay/p.html",
                '<!--#set var="title" value="Home" --><!--#include virtual="header.html" -->'
                '[<!--#echo var="inner" -->]')
    assert body == b"<h1>Home</h1>[(none)]"


def test_include_set(server, site):
    body = page(server, site, "is.html",
                '<!--#include virtual="/inc/a.txt" set="got" -->['
                '<!--#echo var="got" -->]')
    assert body == b"[AAA]"


def test_nested_depth_and_loop(server, site):
    site("n/1.html", '1(<!--#include virtual="2.html" -->)')
    site("n/2.html", '2(<!--#include file="3.html" -->)')
    site("n/3.html", '3')
    assert get(server, "/n/1.html")[1] == b"1(2(3))"
    # ssi_max_depth 2: two levels of includes, a third is refused
    site("shallow/1.html", '1(<!--#include virtual="2.html" -->)')
    site("shallow/2.html", '2(<!--#include virtual="3.html" -->)')
    site("shallow/3.html", '3(<!--#include virtual="4.html" -->)')
    site("shallow/4.html", '4')
    assert get(server, "/shallow/1.html")[1] == b"1(2(3(" + ERR + b")))"
    # loops: itself, and through another document
    assert page(server, site, "self.html", 'a<!--#include virtual="/self.html" -->b') == \
        b"a" + ERR + b"b"
    site("l/x.html", 'x(<!--#include virtual="y.html" -->)')
    site("l/y.html", 'y(<!--#include virtual="x.html" -->)')
    assert get(server, "/l/x.html")[1] == b"x(y(" + ERR + b"))"


def test_default_depth_limit(server, site):
    for i in range(1, 15):
        site("deep/%d.html" % i, '%d<!--#include virtual="%d.html" -->' % (i, i + 1))
    body = get(server, "/deep/1.html")[1]
    assert body == b"1234567891011" + ERR  # 10 levels below the page


def test_exec(server, site):
    doc = 'a<!--#exec cgi="/inc/a.txt" -->b<!--#exec cmd="ls" -->c'
    assert page(server, site, "x.html", doc) == b"a" + ERR + b"b" + ERR + b"c"
    assert page(server, site, "exec/x.html", doc) == b"aAAAb" + ERR + b"c"


def test_head(server, site):
    site("h.html", 'a<!--#include virtual="/inc/a.txt" -->b')
    r, body = get(server, "/h.html", method="HEAD")
    assert r.status == 200 and body == b""
    assert r.getheader("Content-Type").startswith("text/html")


def test_index_and_http10(server, site):
    site("ix/index.html", 'i<!--#include virtual="/inc/a.txt" -->')
    assert get(server, "/ix/")[1] == b"iAAA"
    s = server.connect()
    s.sendall(b"GET /ix/ HTTP/1.0\r\n\r\n")
    data = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        data += d
    s.close()
    assert data.startswith(b"HTTP/1.1 200") and data.endswith(b"\r\n\r\niAAA")


def test_template_cache(server, site):
    # the page reports how many templates this worker parsed: a hit parses none
    site("c.html", '<!--#echo var="ssi_parses" -->')
    n1 = int(get(server, "/c.html")[1])
    n2 = int(get(server, "/c.html")[1])
    n3 = int(get(server, "/c.html")[1])
    assert n2 == n1 and n3 == n1
    time.sleep(0.05)
    site("c.html", 'changed <!--#echo var="ssi_parses" -->')
    time.sleep(0.05)  # past open_file_cache_valid (10ms): the change is seen
    body = get(server, "/c.html")[1]
    assert body.startswith(b"changed ") and int(body.split()[1]) == n1 + 1
    assert int(get(server, "/c.html")[1].split()[1]) == n1 + 1


@pytest.mark.skipif(not TEST_HANDLERS, reason="spate built without SPATE_TEST_HANDLERS")
def test_include_stream(server, site):
    want = bytes(i % 251 for i in range(100 * 1024))
    body = page(server, site, "st.html",
                '<<!--#include virtual="/stream" -->|<!--#include virtual="/stream" -->>')
    assert body == b"<" + want + b"|" + want + b">"


@pytest.mark.skipif(not TEST_HANDLERS, reason="spate built without SPATE_TEST_HANDLERS")
def test_include_deferred(server, site):
    # test_echo defers its answer (resp_defer), then streams it with a known length
    body = page(server, site, "de.html", '[<!--#include virtual="/echo" -->]')
    assert body == b"[0 cbf29ce484222325\n]"


@pytest.mark.skipif(not TEST_HANDLERS, reason="spate built without SPATE_TEST_HANDLERS")
def test_stream_slow_client_and_abort(server, site):
    # a client that reads slowly gets all of it (backpressure through the include); one that
    # goes away mid-page leaves nothing behind (ASan checks at exit)
    site("big.html", ''.join('<!--#include virtual="/stream" -->' for _ in range(20)))
    s = server.connect()
    s.sendall(b"GET /big.html HTTP/1.1\r\nHost: x\r\n\r\n")
    s.recv(1000)
    s.close()
    s = server.connect()
    s.sendall(b"GET /big.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = b""
    for _ in range(6):  # slowly at first: the server's queue fills and the includes wait
        time.sleep(0.05)
        data += s.recv(4096)
    while True:
        d = s.recv(1 << 16)
        if not d:
            break
        data += d
    s.close()
    body = data.split(b"\r\n\r\n", 1)[1]
    # de-chunk
    out, rest = b"", body
    while rest:
        size, _, rest = rest.partition(b"\r\n")
        n = int(size, 16)
        if n == 0:
            break
        out += rest[:n]
        rest = rest[n + 2:]
    assert out == bytes(i % 251 for i in range(100 * 1024)) * 20


def test_large_documents_and_includes(tmp_path, docroot, site):
    # past open_file_cache_small: the document is read on the helpers (then kept parsed), and
    # an included file's bytes are read there too, never on the worker
    s = spate_conf(tmp_path, docroot, server="  ssi on;", main="open_file_cache_small 1k;")
    try:  # noqa: SIM105
        big = bytes(range(256)) * 800  # 200 KiB, every byte value
        site("inc/big.bin", big)
        text = "x" * 50000
        site("large.html", text + '<!--#include virtual="/inc/big.bin" -->' + text +
             '<!--#include file="inc/big.bin" --><!--#echo var="ssi_parses" -->')
        r, body = get(s, "/large.html")
        assert r.status == 200
        head = text.encode() + big + text.encode() + big
        assert body[:len(head)] == head
        n = int(body[len(head):])
        r, body = get(s, "/large.html")
        assert body[:len(head)] == head and int(body[len(head):]) == n  # a hit: no parse
        r, body = get(s, "/large.html", method="HEAD")
        assert r.status == 200 and body == b""
    except Exception:
        rc, err = s.stop()
        raise AssertionError("spate said: rc=%s %s" % (rc, err))
    rc, err = s.stop()
    assert rc == 0, err
    assert "AddressSanitizer" not in err and "runtime error" not in err, err


# ---------------------------------------------------------------- includes of dynamic content

def _php_fpm():
    import shutil
    return shutil.which("php-fpm8.2") or shutil.which("php-fpm")


@pytest.mark.skipif(not _php_fpm(), reason="php-fpm is needed (tools/deps installs it)")
def test_include_fastcgi_and_proxy(tmp_path, docroot, site):
    # a PHP page through fastcgi_pass (php-fpm), as include virtual and as exec cgi, and a
    # proxied location (Python's http.server behind proxy_pass): their answers join the page
    import http.server
    import threading
    from test_fastcgi import Fpm

    class Backend(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            body = ("proxied %s" % self.path).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    backend = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Backend)
    threading.Thread(target=backend.serve_forever, daemon=True).start()
    fpm = Fpm(tmp_path).start()
    site("hi.php", '<?php echo "hi ", $_GET["n"] ?? "-";')
    site("bad.php", '<?php http_response_code(503); echo "down";')
    server = ("  ssi on;\n  ssi_exec on;\n"
              "  location ~ \\.php$ {\n    fastcgi_pass unix:%s;\n"
              "    fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;\n"
              "    fastcgi_param QUERY_STRING $args;\n    fastcgi_param REQUEST_METHOD GET;\n  }\n"
              "  location /up/ { proxy_pass http://127.0.0.1:%d; }\n"
              % (fpm.sock, backend.server_address[1]))
    s = spate_conf(tmp_path, docroot, server=server, main="user root;")
    try:
        site("dyn.html", '[<!--#include virtual="/hi.php?n=1" -->]'
                         '[<!--#exec cgi="/hi.php?n=2" -->]'
                         '[<!--#include virtual="/up/x?y=1" -->]'
                         '[<!--#include virtual="/bad.php" -->]'
                         '[<!--#if expr="$QUERY_STRING_UNESCAPED = /z/" -->z<!--#endif -->]')
        for _ in range(3):  # the upstream and php-fpm connections are reused
            r, body = get(s, "/dyn.html?z")
            assert r.status == 200
            assert body == b"[hi 1][hi 2][proxied /up/x?y=1][" + ERR + b"][z]"
    finally:
        rc, err = s.stop()
        fpm.stop()
        backend.shutdown()
    assert rc == 0, err
    assert "AddressSanitizer" not in err and "runtime error" not in err, err


def test_include_cgi(tmp_path, docroot, site):
    # a CGI script (cgi on) as include virtual and exec cgi: its query, its output in place;
    # one that fails (exit 1 without a head: 502) gets the error message
    cgi = tmp_path / "cgi"
    cgi.mkdir()
    (cgi / "q.sh").write_text("#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\n"
                              "printf 'cgi:%s' \"$QUERY_STRING\"\n")
    (cgi / "fail.sh").write_text("#!/bin/sh\nexit 1\n")
    for f in ("q.sh", "fail.sh"):
        os.chmod(cgi / f, 0o755)
    server = ("  ssi on;\n  ssi_exec on;\n"
              "  location /cgi-bin/ { alias %s/; cgi on; }\n" % cgi)
    s = spate_conf(tmp_path, docroot, server=server, main="user root;")
    try:
        site("c.html", '[<!--#include virtual="/cgi-bin/q.sh?a=1" -->]'
                       '[<!--#exec cgi="/cgi-bin/q.sh?b=2" -->]'
                       '[<!--#include virtual="/cgi-bin/fail.sh" -->]')
        r, body = get(s, "/c.html")
        assert r.status == 200
        assert body == b"[cgi:a=1][cgi:b=2][" + ERR + b"]"
    except Exception:
        rc, err = s.stop()
        raise AssertionError("spate said: rc=%s %s" % (rc, err))
    rc, err = s.stop()
    assert rc == 0, err
    assert "AddressSanitizer" not in err and "runtime error" not in err, err


def test_include_cut_mid_body_cuts_the_page(tmp_path, docroot, site):
    # a proxied include whose backend breaks off a chunked answer: the page must not end as if
    # whole (no last chunk), as the include itself would not
    import proxy_backends as pb
    broken = pb.Server(pb.canned(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                 b"5\r\nbegin\r\n", then="reset"))
    server = ("  ssi on;\n  location /up/ { proxy_pass http://%s; }\n" % broken.addr)
    s = spate_conf(tmp_path, docroot, server=server)
    try:
        site("cut.html", "<p>before</p>" + '<!--#include virtual="/up/x" -->' + "<p>after</p>")
        c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
        c.request("GET", "/cut.html")
        r = c.getresponse()
        assert r.status == 200
        with pytest.raises(http.client.IncompleteRead) as e:
            r.read()
        assert b"after" not in e.value.partial
        c.close()
        # the worker goes on serving
        r, body = get(s, "/hello.txt")
        assert r.status == 200
    finally:
        rc, err = s.stop()
        broken.close()
    assert rc == 0, err
    assert "AddressSanitizer" not in err and "runtime error" not in err, err
