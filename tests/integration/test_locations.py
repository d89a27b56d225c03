"""Resource mapping: location precedence (=, ^~, ~, ~*, prefix, nested, @named), alias, root and
index per location, try_files, internal, return, rewrite with its flags and loop bound,
variables and captures, error_page, dotfiles, and the Location of every redirect."""
import http.client
import os
import subprocess

import pytest

from conftest import BIN, Spate, spate_conf


def get(s, path, method="GET", headers=None, host=None):
    c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
    h = dict(headers or {})
    if host:
        h["Host"] = host
    c.request(method, path, headers=h)
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, body


def stop_clean(s):
    rc, err = s.stop()
    assert rc == 0, err
    assert "AddressSanitizer" not in err and "runtime error" not in err, err
    return err


@pytest.fixture
def site(tmp_path, docroot):
    (docroot / "a").mkdir()
    (docroot / "a" / "x.txt").write_bytes(b"a/x\n")
    (docroot / "a" / "b").mkdir()
    (docroot / "a" / "b" / "y.txt").write_bytes(b"a/b/y\n")
    (docroot / "pic.PNG").write_bytes(b"PNGDATA")
    (docroot / "404.html").write_bytes(b"<p>custom not found</p>\n")
    (docroot / "50x.html").write_bytes(b"<p>server trouble</p>\n")
    (docroot / "app.html").write_bytes(b"<p>single page app</p>\n")
    (docroot / ".git").mkdir()
    (docroot / ".git" / "config").write_bytes(b"[core]\n")
    (docroot / ".env").write_bytes(b"SECRET=1\n")
    (docroot / ".well-known").mkdir()
    (docroot / ".well-known" / "security.txt").write_bytes(b"Contact: x\n")
    images = tmp_path / "images"
    images.mkdir()
    (images / "cat.gif").write_bytes(b"GIF89a-cat")
    (images / "sub").mkdir()
    (images / "sub" / "dog.gif").write_bytes(b"GIF89a-dog")
    (images / "index.html").write_bytes(b"images index\n")
    return docroot, images


def conf_text(site, server):
    return server.replace("@IMAGES@", str(site[1]))


def test_location_precedence(tmp_path, site):
    s = spate_conf(tmp_path, site[0], server="""
        location = / { return 200 "exact root"; }
        location / { return 200 "prefix root"; }
        location /a/ { return 200 "prefix a"; }
        location ^~ /a/b/ { return 200 "noregex a/b"; }
        location ~ \\.txt$ { return 200 "regex txt $uri"; }
        location ~* \\.png$ { return 200 "caseless png"; }
        location = /a/x.txt { return 200 "exact a/x.txt"; }
        location /n/ {
            location /n/deep/ { return 200 "nested prefix"; }
            location ~ \\.css$ { return 200 "nested regex"; }
            return 200 "outer n";
        }
        location ~ ^/n/.*\\.css$ { return 200 "outer regex css"; }
        location ~ ^/n/.*\\.js$ { return 200 "outer regex js"; }
    """)
    try:
        cases = {
            "/": b"exact root",                 # = wins over the / prefix
            "/other": b"prefix root",           # the longest prefix
            "/a/": b"prefix a",
            "/a/b/y.txt": b"noregex a/b",       # ^~ stops the regexes
            "/a/z.txt": b"regex txt /a/z.txt",  # a regex beats the /a/ prefix
            "/a/x.txt": b"exact a/x.txt",       # exact beats everything
            "/pic.PNG": b"caseless png",        # ~* is caseless
            "/pic.png": b"caseless png",
            "/n/q": b"outer n",
            "/n/deep/q": b"nested prefix",
            "/n/s.css": b"nested regex",        # nested regexes are tried before outer ones
            "/n/s.js": b"outer regex js",
        }
        for path, want in cases.items():
            st, _, body = get(s, path)
            assert (st, body) == (200, want), path
    finally:
        stop_clean(s)


def test_regex_errors_name_the_line(tmp_path, docroot):
    conf = tmp_path / "bad.conf"
    conf.write_text("server {\n listen 127.0.0.1:0;\n root %s;\n location ~ ^/(unclosed {\n"
                    "  return 200;\n }\n}\n" % docroot)
    p = subprocess.run([BIN, "-t", "-c", str(conf)], capture_output=True, text=True)
    assert p.returncode == 1
    assert "bad.conf:4:" in p.stderr and "regular expression" in p.stderr, p.stderr
    conf.write_text("server {\n listen 127.0.0.1:0;\n root %s;\n"
                    " rewrite ^/a/(.*)$ /b/$2 last;\n}\n" % docroot)
    p = subprocess.run([BIN, "-t", "-c", str(conf)], capture_output=True, text=True)
    assert p.returncode == 1 and "bad.conf:4:" in p.stderr and "$2" in p.stderr, p.stderr
    conf.write_text("server {\n listen 127.0.0.1:0;\n root %s;\n"
                    " return 200 \"$nosuchvar\";\n}\n" % docroot)
    p = subprocess.run([BIN, "-t", "-c", str(conf)], capture_output=True, text=True)
    assert p.returncode == 1 and "bad.conf:4:" in p.stderr and "$nosuchvar" in p.stderr
    # a value with more parts than a script holds is refused, not cut
    conf.write_text("server {\n listen 127.0.0.1:0;\n root %s;\n return 200 \"%s\";\n}\n"
                    % (docroot, "$uri-" * 40))
    p = subprocess.run([BIN, "-t", "-c", str(conf)], capture_output=True, text=True)
    assert p.returncode == 1 and "bad.conf:4:" in p.stderr and "more than 64" in p.stderr
    # a named location that does not exist is found at start, not by the first request
    for line in [" location / { try_files $uri @nowhere; }\n", " error_page 404 @nowhere;\n"]:
        conf.write_text("server {\n listen 127.0.0.1:0;\n root %s;\n%s}\n" % (docroot, line))
        p = subprocess.run([BIN, "-t", "-c", str(conf)], capture_output=True, text=True)
        assert p.returncode == 1 and "bad.conf:4:" in p.stderr and "@nowhere" in p.stderr, \
            p.stderr


def test_return_and_variables(tmp_path, site):
    s = spate_conf(tmp_path, site[0], server="""
        server_name example.test;
        location = /health { return 200 "ok"; }
        location = /json { default_type application/json; return 200 '{"ok":true}'; }
        location = /empty { return 204; }
        location = /bare { return 200; }
        location = /vars {
            return 200 "$scheme|$host|$server_name|$server_port|$request_uri|$uri|$args|$is_args|$arg_x|$remote_addr|$http_user_agent|$http_x_custom_thing|$cookie_sess|$request_method";
        }
        location = /gone { return 410; }
        location = /moved { return 301 /new$is_args$args; }
        location = /away { return https://other.example/landing; }
        location ~ ^/users/(\\w+)/(\\d+)$ { return 200 "user=$1 id=$2"; }
    """)
    try:
        assert get(s, "/health")[::2] == (200, b"ok")
        st, h, body = get(s, "/health")
        assert h["content-type"] == "text/plain" and h["content-length"] == "2"
        # nginx's idiom: a returned text is typed by the location's default_type
        st, h, body = get(s, "/json")
        assert st == 200 and h["content-type"] == "application/json" and body == b'{"ok":true}'
        st, h, _ = get(s, "/empty")
        assert st == 204 and "content-type" not in h
        st, h, body = get(s, "/bare")
        assert st == 200 and body == b"" and h["content-type"] == "text/plain"
        st, _, body = get(s, "/vars?x=1&y=2", host="Example.Test:8080",
                          headers={"User-Agent": "ua/1", "X-Custom-Thing": "ct",
                                   "Cookie": "a=b; sess=s123; c=d"})
        parts = body.decode().split("|")
        assert parts == ["http", "example.test", "example.test", str(s.port), "/vars?x=1&y=2",
                         "/vars", "x=1&y=2", "?", "1", "127.0.0.1", "ua/1", "ct", "s123", "GET"]
        st, h, body = get(s, "/gone")
        assert st == 410 and b"<html>" in body.lower() or b"410" in body
        st, h, _ = get(s, "/moved?q=1", host="example.test")
        assert st == 301 and h["location"] == "http://example.test:%d/new?q=1" % s.port
        st, h, _ = get(s, "/away")
        assert st == 302 and h["location"] == "https://other.example/landing"
        assert get(s, "/users/bob/42")[::2] == (200, b"user=bob id=42")
        # a return answers any method, before the handler's method policy (nginx's order)
        assert get(s, "/health", method="POST", headers={"Content-Length": "0"})[::2] == \
            (200, b"ok")
        assert get(s, "/hello.txt", method="DELETE")[0] == 405  # the static files: GET only
        # HEAD gets the same head without the body
        st, h, body = get(s, "/health", method="HEAD")
        assert st == 200 and body == b"" and h["content-length"] == "2"
    finally:
        stop_clean(s)


def test_rewrite_flags_and_loop(tmp_path, site):
    s = spate_conf(tmp_path, site[0], server="""
        rewrite ^/srv/(.*)$ /a/$1;
        location /old/ { rewrite ^/old/(.*)$ /a/$1 last; }
        location /brk/ { rewrite ^/brk/(.*)$ /a/$1 break; }
        location /perm/ { rewrite ^/perm/(.*)$ /new/$1 permanent; }
        location /tmp/ { rewrite ^/tmp/(.*)$ /new/$1?lang=en redirect; }
        location /drop/ { rewrite ^/drop/(.*)$ /new/$1? redirect; }
        location /ext/ { rewrite ^/ext/(.*)$ https://cdn.example/$1; }
        location /chain/ { rewrite ^/chain/(.*)$ /chain2/$1; rewrite ^/chain2/(.*)$ /a/$1; }
        location /loop/ { rewrite ^/loop/(.*)$ /loop/$1 last; }
        location /esc/ { rewrite ^/esc/(.*)$ /new/$1 redirect; }
        location = /a/x.txt { add_header X-Loc exact; }
    """)
    try:
        st, h, body = get(s, "/old/x.txt")
        assert st == 200 and body == b"a/x\n" and h.get("x-loc") == "exact"  # last: re-search
        st, h, body = get(s, "/brk/x.txt")
        assert st == 200 and body == b"a/x\n" and "x-loc" not in h  # break: stays
        assert get(s, "/srv/b/y.txt")[::2] == (200, b"a/b/y\n")  # server-level rewrite
        st, h, _ = get(s, "/perm/p?k=v")
        assert st == 301 and h["location"] == "http://127.0.0.1:%d/new/p?k=v" % s.port
        st, h, _ = get(s, "/tmp/p?k=v")
        assert st == 302 and h["location"].endswith("/new/p?lang=en&k=v")
        st, h, _ = get(s, "/drop/p?k=v")
        assert st == 302 and h["location"].endswith("/new/p")
        st, h, _ = get(s, "/ext/img/1.png?w=2")
        assert st == 302 and h["location"] == "https://cdn.example/img/1.png?w=2"
        assert get(s, "/chain/x.txt")[::2] == (200, b"a/x\n")
        assert get(s, "/loop/x")[0] == 500  # bounded
        # a capture holding bytes a Location cannot carry is escaped (a decoded '?' too)
        st, h, _ = get(s, "/esc/a%20b%7Bc%C3%A9%3Fq")
        assert st == 302
        assert h["location"].endswith("/new/a%20b%7Bc%C3%A9%3Fq"), h["location"]
        # control bytes never reach a Location: such a path is refused first
        assert get(s, "/esc/a%0d%0aSet-Cookie:%20x")[0] in (400, 404)
    finally:
        err = stop_clean(s)
    assert "rewrite or internal redirection cycle" in err


def test_redirect_forms(tmp_path, site):
    s = spate_conf(tmp_path, site[0], server="""
        server_name canonical.test;
        location /rel/ { absolute_redirect off; return 302 /target; }
        location /noport/ { port_in_redirect off; return 307 /target; }
        location /named/ { server_name_in_redirect on; return 308 /target; }
        location /s303/ { return 303 /seeother; }
        location /dir-rel/ { absolute_redirect off; }
    """)
    try:
        st, h, _ = get(s, "/rel/x", host="h.test")
        assert st == 302 and h["location"] == "/target"
        st, h, _ = get(s, "/noport/x", host="h.test")
        assert st == 307 and h["location"] == "http://h.test/target"
        st, h, _ = get(s, "/named/x", host="h.test:99")
        assert st == 308 and h["location"] == "http://canonical.test:%d/target" % s.port
        st, h, _ = get(s, "/s303/x", host="h.test")
        assert st == 303 and h["location"] == "http://h.test:%d/seeother" % s.port
        # the directory slash redirect follows the same rules, query kept
        st, h, _ = get(s, "/dir?a=1", host="h.test")
        assert st == 301 and h["location"] == "http://h.test:%d/dir/?a=1" % s.port
    finally:
        stop_clean(s)


def test_alias_root_index_per_location(tmp_path, site):
    os.chmod(tmp_path, 0o755)  # /pics opens beneath the images' parent, as nobody
    s = spate_conf(tmp_path, site[0], server=conf_text(site, """
        location /img/ { alias @IMAGES@/; }
        location /pics { alias @IMAGES@; }
        location ~ ^/thumbs/(.+\\.gif)$ { alias @IMAGES@/$1; }
        location = /favicon.ico { alias @IMAGES@/cat.gif; }
        location /other/ { root @IMAGES@; index nothing.html; }
        location /idx/ { alias @IMAGES@/; index missing.html index.html; }
    """))
    try:
        assert get(s, "/img/cat.gif")[::2] == (200, b"GIF89a-cat")
        assert get(s, "/img/sub/dog.gif")[::2] == (200, b"GIF89a-dog")
        assert get(s, "/pics/cat.gif")[::2] == (200, b"GIF89a-cat")
        assert get(s, "/thumbs/sub/dog.gif")[::2] == (200, b"GIF89a-dog")
        assert get(s, "/favicon.ico")[::2] == (200, b"GIF89a-cat")
        assert get(s, "/idx/")[::2] == (200, b"images index\n")
        assert get(s, "/other/")[0] == 404  # its own index list: nothing.html only
        # nothing outside the alias directory, whatever the URI
        for p in ["/img/%2e%2e/%2e%2e/www-outside/secret.txt", "/img..%2fhello.txt",
                  "/thumbs/..%2f..%2fetc%2fpasswd.gif", "/pics../www/hello.txt"]:
            st, _, body = get(s, p)
            assert b"hello, world" not in body and b"root:" not in body, p
        # a directory under an alias gets its slash redirect with the URI, not the file path
        st, h, _ = get(s, "/img/sub")
        assert st == 301 and h["location"].endswith("/img/sub/")
    finally:
        stop_clean(s)


def test_try_files(tmp_path, site):
    s = spate_conf(tmp_path, site[0], server="""
        location /spa/ { try_files $uri $uri/ /app.html; }
        location /code/ { try_files $uri =418; }
        location /named/ { try_files $uri @fallback; }
        location @fallback { return 200 "fallback for $uri"; }
        location = /app.html { add_header X-App yes; }
        location /nodir/ { directory_slash off; }
        location / { try_files $uri $uri/ =404; }
    """)
    try:
        st, h, body = get(s, "/spa/deep/link?x=1")
        assert (st, body) == (200, b"<p>single page app</p>\n") and h.get("x-app") == "yes"
        assert get(s, "/code/nothing")[0] == 418
        assert get(s, "/named/nothing")[::2] == (200, b"fallback for /named/nothing")
        assert get(s, "/@fallback")[0] == 404  # named locations are not reachable by a path
        assert get(s, "/hello.txt")[::2] == (200, b"hello, world\n")
        # $uri/ finds the directory: its index, without a redirect
        assert get(s, "/dir")[::2] == (200, b"<p>dir index</p>\n")
        assert get(s, "/missing")[0] == 404
        st, _, _ = get(s, "/nodir/sub")
        assert st == 404
    finally:
        stop_clean(s)


def test_internal_and_error_page(tmp_path, site):
    s = spate_conf(tmp_path, site[0], server="""
        error_page 404 /404.html;
        error_page 500 502 503 504 /50x.html;
        location = /404.html { internal; }
        location = /boom { return 503; }
        location /teapot/ { error_page 404 =200 /hello.txt; }
        location /own/ { error_page 404 = /code-from-target; }
        location = /code-from-target { return 202 "accepted instead"; }
        location /named/ { error_page 404 @nf; }
        location @nf { return 200 "named not found"; }
        location /ext/ { error_page 404 https://elsewhere.example/nf; }
        location /loop/ { error_page 404 /loop/missing-too; }
    """)
    try:
        st, h, body = get(s, "/nothing-here")
        assert (st, body) == (404, b"<p>custom not found</p>\n")
        assert get(s, "/404.html")[0] == 404  # internal: not reachable from outside
        st, _, body = get(s, "/404.html")
        assert body == b"<p>custom not found</p>\n"  # ...and its 404 uses the error page
        assert get(s, "/boom")[::2] == (503, b"<p>server trouble</p>\n")
        assert get(s, "/teapot/x")[::2] == (200, b"hello, world\n")
        assert get(s, "/own/x")[::2] == (202, b"accepted instead")
        # without "=", the page keeps the original code
        assert get(s, "/named/x")[::2] == (404, b"named not found")
        st, h, _ = get(s, "/ext/x")
        assert st == 302 and h["location"] == "https://elsewhere.example/nf"
        st, _, body = get(s, "/loop/x")
        assert st == 404 and b"custom" not in body  # one error page per request
        # conditional and range headers do not apply to the error page
        st, h, body = get(s, "/nothing", headers={"Range": "bytes=0-1"})
        assert st == 404 and body == b"<p>custom not found</p>\n"
        # HEAD of a missing page: the error page's head, no body
        st, h, body = get(s, "/nothing", method="HEAD")
        assert st == 404 and body == b""
    finally:
        stop_clean(s)


def test_dotfiles(tmp_path, site):
    s = spate_conf(tmp_path, site[0], server="""
        location /open/ { refuse_dotfiles off; alias %s/; }
    """ % site[0])
    try:
        for p in ["/.git/config", "/.env", "/a/.hidden", "/.git/", "/%2egit/config"]:
            assert get(s, p)[0] == 404, p
        assert get(s, "/.well-known/security.txt")[::2] == (200, b"Contact: x\n")
        assert get(s, "/.well-known/.git/config")[0] == 404
        assert get(s, "/open/.env")[::2] == (200, b"SECRET=1\n")
    finally:
        stop_clean(s)


def test_print_config_round_trip(tmp_path, site):
    conf = tmp_path / "rt.conf"
    conf.write_text(conf_text(site, """
server {
    listen 127.0.0.1:0;
    root %s;
    rewrite ^/srv/(.*)$ /a/$1 last;
    error_page 404 =200 /404.html;
    location = /x { return 301 /y; }
    location ~* \\.(gif|png)$ { alias @IMAGES@/$1; }
    location /spa/ { try_files $uri $uri/ /app.html; internal; }
    location /r/ { rewrite ^/r/(.*)$ /a/$1 break; return 403; absolute_redirect off; }
}
""" % site[0]))
    p1 = subprocess.run([BIN, "--print-config", "-c", str(conf)], capture_output=True, text=True)
    assert p1.returncode == 0, p1.stderr
    again = tmp_path / "again.conf"
    again.write_text(p1.stdout)
    p2 = subprocess.run([BIN, "--print-config", "-c", str(again)], capture_output=True, text=True)
    assert p2.returncode == 0, p2.stderr
    assert p1.stdout.split("\n", 1)[1] == p2.stdout.split("\n", 1)[1]  # but the source line
    for want in ["rewrite ^/srv/(.*)$ /a/$1 last;", "return 301 /y;", "internal;",
                 "try_files $uri $uri/ /app.html;", "error_page 404 =200 /404.html;"]:
        assert want in p1.stdout.replace("'", "\""), (want, p1.stdout)


def test_random_requests_against_every_feature(tmp_path, site):
    """2,000 seeded random targets through rewrites, regexes, alias, try_files, error pages and
    pools: every answer is a well-formed response and the server exits clean (ASan)."""
    import random
    import socket
    s = spate_conf(tmp_path, site[0], workers=2, main="""
        redirect_pool p { target http://a.example; target http://b.example; policy cookie; }
    """, server=conf_text(site, """
        rewrite ^/r/(.*)/(.*)$ /$2/$1 last;
        error_page 404 /404.html;
        error_page 500 502 503 504 @err;
        location @err { return 500 "err $uri"; }
        location ~ ^/re/(\\w*)(.*)$ { return 200 "$1|$2|$arg_x|$cookie_c"; }
        location ~* \\.(gif|GIF)$ { alias @IMAGES@/$1; }
        location /img/ { alias @IMAGES@/; try_files $uri $uri/ =404; }
        location /spa/ { try_files $uri /app.html; }
        location /p/ { return 302 $redirect_pool_p$request_uri; }
        location /aug/ { augment_arg s $request_id; return 200 "$arg_s"; }
        location /loop/ { rewrite ^(.*)$ $1x last; }
        location = /x { return 301 $scheme://$host$uri$is_args$args; }
    """))
    rng = random.Random(10)
    seen = {}
    pieces = ["r", "re", "img", "spa", "p", "aug", "loop", "x", "a", "b", ".git", "..", ".",
              "%2e", "%2f", "%00", "%25", "%c3%a9", "~bob", "@err", "cat.gif", "x.GIF", "",
              "%3f", "%23", "a b", "{}", "\\", "?", "#"]
    try:
        for i in range(2000):
            path = "/" + "/".join(rng.choice(pieces) for _ in range(rng.randint(0, 5)))
            if rng.random() < 0.3:
                path += "?x=%d&y=%s" % (i, rng.choice(pieces))
            path = path.replace(" ", "%20").replace("#", "%23").replace("\\", "%5C")
            req = ("GET %s HTTP/1.1\r\nHost: h%d.test\r\nCookie: c=%d; spate_pool_p=%s\r\n"
                   "Connection: close\r\n\r\n" % (path, i % 3, i, rng.choice(["", "zz", "0"])))
            c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
            c.sendall(req.encode())
            data = b""
            while True:
                d = c.recv(65536)
                if not d:
                    break
                data += d
            c.close()
            line = data.split(b"\r\n", 1)[0]
            assert line.startswith(b"HTTP/1.1 ") and int(line.split()[1]) in range(200, 600), \
                (path, data[:200])
            seen[line.split()[1]] = seen.get(line.split()[1], 0) + 1
            head = data.split(b"\r\n\r\n", 1)[0]
            assert b"\n\n" not in head and all(b"\r" not in l for l in head.split(b"\r\n")), path
        assert len(seen) >= 5, seen  # the targets reach many different answers
    finally:
        stop_clean(s)
