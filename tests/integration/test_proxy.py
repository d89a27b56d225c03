"""The reverse proxy (proxy_pass, upstream) against real backends: another spate serving files,
Python's http.server, an HTTP/1.1 echo server, and backends that misbehave on purpose (reset,
stall, garbage, ambiguous framing, oversized heads, more than their Content-Length, early
close). Also the choice of servers (round robin, least_conn, consistent hash), passive
health, keep-alive reuse, bodies both ways, header handling and a slow client's backpressure.
"""
import hashlib
import http.client
import http.server
import json
import os
import signal
import socket
import subprocess
import threading
import time

import pytest

from conftest import BIN, Spate, make_docroot, read_until_close, spate_conf
import proxy_backends as pb

MAIN = "user root;\n"


@pytest.fixture
def backends():
    made = []

    def make(serve=pb.echo, name="b", unix_path=None):
        s = pb.Server(serve, name, unix_path)
        made.append(s)
        return s
    yield make
    for s in made:
        s.close()


@pytest.fixture
def run(tmp_path, docroot):
    started = []

    def start(main="", server="", workers=1):
        # upstream blocks belong to the main context
        lines = server.split("\n")
        main += "\n".join(l for l in lines if l.strip().startswith("upstream "))
        server = "\n".join(l for l in lines if not l.strip().startswith("upstream "))
        s = spate_conf(tmp_path, docroot, main=MAIN + main, server=server, workers=workers)
        started.append(s)
        return s
    yield start
    for s in started:
        rc, err = s.stop()
        assert rc == 0, "spate exited %s: %s" % (rc, err)
        assert "ERROR: AddressSanitizer" not in err and "runtime error" not in err, err


def request(s, method, path, headers=None, body=None, conn=None):
    c = conn or http.client.HTTPConnection("127.0.0.1", s.port, timeout=20)
    headers = headers or {}
    c.request(method, path, body=body, headers=headers,
              encode_chunked="Transfer-Encoding" in headers)
    r = c.getresponse()
    data = r.read()
    if not conn:
        c.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, data


def get(s, path, **kw):
    return request(s, "GET", path, **kw)


def echoed(s, path, **kw):
    st, h, body = get(s, path, **kw)
    assert st == 200, (st, body)
    return json.loads(body)


def fields_of(info):
    return {k.lower(): v for k, v in info["fields"]}


KEEPALIVE = 'proxy_http_version 1.1; proxy_set_header Connection "";'


# ---------------------------------------------------------------- real backends

def test_spate_backend_files_head_and_uri(run, docroot, tmp_path):
    back = Spate(["--root", str(docroot), "--listen", "127.0.0.1:0", "--workers", "1"]).start()
    try:
        s = run(server="location / { proxy_pass http://127.0.0.1:%d; }\n"
                       "location /files/ { proxy_pass http://127.0.0.1:%d/dir/; }\n"
                % (back.port, back.port))
        st, h, body = get(s, "/hello.txt")
        assert st == 200 and body == b"hello, world\n"
        assert h["content-length"] == "13" and h["content-type"].startswith("text/plain")
        assert "etag" in h and "last-modified" in h
        st, h, body = get(s, "/medium.bin")
        assert st == 200 and body == (docroot / "medium.bin").read_bytes()
        st, h, body = request(s, "HEAD", "/medium.bin")
        assert st == 200 and body == b"" and h["content-length"] == str(200 * 1024)
        st, h, body = get(s, "/files/sub/file.txt")        # /files/ -> /dir/
        assert st == 200 and body == b"deep file\n"
        st, h, body = get(s, "/nothing-here")
        assert st == 404
        # a conditional request goes through, and so does the 304
        st, h, _ = get(s, "/hello.txt", headers={"If-None-Match": h.get("etag", '"x"')})
        st2, h2, _ = get(s, "/hello.txt")
        st3, _, body3 = get(s, "/hello.txt", headers={"If-None-Match": h2["etag"]})
        assert st3 == 304 and body3 == b""
    finally:
        back.stop()


def test_python_http_server(run, docroot):
    handler = lambda *a, **kw: http.server.SimpleHTTPRequestHandler(  # noqa: E731
        *a, directory=str(docroot), **kw)
    handler_cls = type("H", (http.server.SimpleHTTPRequestHandler,), {
        "__init__": lambda self, *a, **kw: http.server.SimpleHTTPRequestHandler.__init__(
            self, *a, directory=str(docroot), **kw),
        "log_message": lambda self, *a: None})
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler_cls)
    del handler
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        s = run(server="location /py/ { proxy_pass http://127.0.0.1:%d/; }"
                % srv.server_address[1])
        st, h, body = get(s, "/py/data.json")
        assert st == 200 and body == b'{"a": 1}\n'
        st, h, body = get(s, "/py/image.png")
        assert st == 200 and body == (docroot / "image.png").read_bytes()
        st, h, body = get(s, "/py/dir/")                   # a listing, close-delimited? no: sized
        assert st == 200 and b"dir index" in body
        st, h, body = get(s, "/py/dir")                    # its redirect, rewritten to /py/
        assert st == 301 and h["location"].startswith("/py/dir/") or \
            h["location"].endswith("/dir/"), h
        st, h, body = get(s, "/py/missing")
        assert st == 404
    finally:
        srv.shutdown()
        srv.server_close()


# ---------------------------------------------------------------- the request and the answer

def test_headers_both_ways(run, backends):
    b = backends(lambda c, s: pb.echo(c, s, extra_fields=(
        b"Keep-Alive: timeout=5\r\nX-Accel-Redirect: /x\r\nX-Pad: avoid\r\n"
        b"Server: backend\r\nDate: Thu, 01 Jan 1970 00:00:00 GMT\r\nX-Secret: 1\r\n"
        b"Connection: X-Secret\r\nX-Kept: yes\r\nX-Powered-By: php\r\n")))
    s = run(server="""
      location /h/ {
        proxy_pass http://%s/;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_set_header Accept-Encoding "";
        proxy_set_header X-Up $proxy_host:$proxy_port;
        proxy_hide_header X-Powered-By;
      }""" % b.addr)
    st, h, body = get(s, "/h/x", headers={
        "Keep-Alive": "300", "TE": "trailers", "Upgrade": "websocket", "Connection": "x-drop",
        "X-Drop": "1", "Proxy-Authorization": "Basic eA==", "Proxy": "http://evil",
        "X-Forwarded-For": "10.0.0.1", "Accept-Encoding": "gzip", "X-Custom": "passed"})
    assert st == 200
    f = fields_of(json.loads(body))
    assert f["host"] == b.addr                   # $proxy_host
    assert f["connection"] == "close"            # nginx's default
    for gone in ("keep-alive", "te", "upgrade", "x-drop", "proxy-authorization", "proxy",
                 "accept-encoding"):
        assert gone not in f, gone
    assert f["x-custom"] == "passed"
    assert f["x-forwarded-for"] == "10.0.0.1, 127.0.0.1"
    assert f["x-forwarded-proto"] == "http"
    assert f["x-up"] == "%s:%d" % (b.addr, b.port)
    assert json.loads(body)["version"] == "HTTP/1.0"
    # the answer: hop-by-hop, hidden and named-in-Connection fields are not passed
    for gone in ("keep-alive", "x-accel-redirect", "x-pad", "x-secret", "x-powered-by"):
        assert gone not in h, gone
    assert h["x-kept"] == "yes" and h["server"] == "spate"
    assert h["date"] != "Thu, 01 Jan 1970 00:00:00 GMT"


def test_set_header_inheritance_and_pass_header(run, backends):
    b = backends(lambda c, srv: pb.echo(c, srv, extra_fields=b"X-Accel-Buffering: no\r\n"))
    s = run(server="""
      proxy_set_header X-Level server;
      location /inherit/ { proxy_pass http://%s/; proxy_pass_header X-Accel-Buffering; }
      location /own/ { proxy_pass http://%s/; proxy_set_header X-Other own; }
    """ % (b.addr, b.addr))
    st, h, body = get(s, "/inherit/a")
    f = fields_of(json.loads(body))
    assert f["x-level"] == "server" and f["connection"] == "close"
    assert h["x-accel-buffering"] == "no"        # passed, though X-Accel-* are hidden
    st, h, body = get(s, "/own/a")
    f = fields_of(json.loads(body))
    assert "x-level" not in f and f["x-other"] == "own"   # a level with its own: not inherited
    assert "x-accel-buffering" not in h


def test_uri_replacement_and_redirect(run, backends):
    b = backends()
    s = run(server="""
      location /app/ { proxy_pass http://%s/base/; }
      location /raw/ { proxy_pass http://%s; }
      location = /exact { proxy_pass http://%s/other; }
    """ % (b.addr, b.addr, b.addr))
    assert echoed(s, "/app/x/y?q=1&r=%202")["target"] == "/base/x/y?q=1&r=%202"
    assert echoed(s, "/app/a%20b")["target"] == "/base/a%20b"
    assert echoed(s, "/raw/a%20b/./c?z")["target"] == "/raw/a%20b/./c?z"   # as sent
    assert echoed(s, "/exact")["target"] == "/other"
    st, h, _ = get(s, "/app/redirect")
    assert st == 302 and h["location"] == "/app/next"    # proxy_redirect default


def test_head_and_methods(run, backends):
    b = backends()
    s = run(server="location / { proxy_pass http://%s; }" % b.addr)
    st, h, body = request(s, "HEAD", "/x")
    assert st == 200 and body == b"" and int(h["content-length"]) > 0
    assert b.requests[-1]["method"] == "HEAD"
    for m in ("PUT", "DELETE", "PATCH"):
        st, h, body = request(s, m, "/m")
        assert st == 200 and json.loads(body)["method"] == m


@pytest.mark.parametrize("chunked", [False, True])
def test_post_bodies(run, backends, chunked):
    b = backends()
    s = run(main="client_max_body_size 64m;",
            server="location / { proxy_pass http://%s; proxy_http_version 1.1; }" % b.addr)
    data = os.urandom(5 << 20)
    if chunked:
        def gen():
            for i in range(0, len(data), 100000):
                yield data[i:i + 100000]
        body = gen()
        headers = {"Transfer-Encoding": "chunked"}
    else:
        body, headers = data, {}
    st, h, out = request(s, "POST", "/upload", headers=headers, body=body)
    assert st == 200, out[:200]
    info = json.loads(out)
    assert info["body_len"] == len(data)
    assert info["body_sha"] == hashlib.sha256(data).hexdigest()
    f = fields_of(info)
    if chunked:
        assert f["transfer-encoding"] == "chunked" and "content-length" not in f
    else:
        assert f["content-length"] == str(len(data))


def test_chunked_body_to_http10_is_411(run, backends):
    b = backends()
    s = run(server="location / { proxy_pass http://%s; }" % b.addr)
    st, _, _ = request(s, "POST", "/", headers={"Transfer-Encoding": "chunked"},
                       body=iter([b"abc"]))
    assert st == 411


# ---------------------------------------------------------------- misbehaving backends

BAD = {
    "garbage": pb.canned(b"HTTP/1.1 OK 200\r\n\r\nhello"),
    "not_http": pb.canned(b"SSH-2.0-OpenSSH\r\n\r\n"),
    "dup_cl": pb.canned(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"
                        b"hello!"),
    "te_cl": pb.canned(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked"
                       b"\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
    "obs_fold": pb.canned(b"HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 0\r\n\r\n"),
    "bare_cr": pb.canned(b"HTTP/1.1 200 OK\r\nX: a\rb\r\nContent-Length: 0\r\n\r\n"),
    "oversized": pb.canned(b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 10000 +
                           b"\r\nContent-Length: 0\r\n\r\n"),
    "reset": pb.reset_at_once,
    "reset_after_request": pb.canned(b"", then="reset"),
    "close_before_head": pb.canned(b""),
    "switching": pb.canned(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n"),
}


@pytest.mark.parametrize("kind", sorted(BAD))
def test_bad_backend_is_502(run, backends, kind):
    b = backends(BAD[kind])
    s = run(server="location / { proxy_pass http://%s; proxy_buffer_size 4k; }" % b.addr)
    st, h, body = get(s, "/x")
    assert st == 502, (st, body)
    assert b"hello" not in body and b"SSH" not in body
    # the server is fine afterwards
    st, _, _ = get(s, "/x")
    assert st == 502


def test_stall_is_504(run, backends):
    b = backends(pb.stall)
    s = run(server="location / { proxy_pass http://%s; proxy_read_timeout 1s; }" % b.addr)
    st, _, _ = get(s, "/x")
    assert st == 504                               # the backend would close after 5s: a 502


def test_send_timeout_is_504(run, backends):
    b = backends(pb.stall)                         # reads the head, never the body
    s = run(main="client_max_body_size 64m;",
            server="location / { proxy_pass http://%s; proxy_send_timeout 1s; }" % b.addr)
    c = s.connect(timeout=20)
    c.sendall(b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (32 << 20))
    chunk = b"z" * (1 << 20)
    c.settimeout(0.2)
    answer = b""
    for _ in range(32):                            # until spate stops taking it, or answers
        try:
            c.sendall(chunk)
        except socket.timeout:
            break
        except OSError:
            break
    c.settimeout(15)
    try:
        answer = c.recv(65536)
    except OSError:
        pass
    c.close()
    assert answer.startswith(b"HTTP/1.1 504"), answer[:100]


def test_next_upstream_on_status(run, backends):
    busy = backends(pb.canned(b"HTTP/1.1 503 Busy\r\nContent-Length: 4\r\n\r\nbusy"),
                    name="busy")
    good = backends(name="good")
    s = run(server="upstream u { server %s; server %s; }\n" % (busy.addr, good.addr) +
                   "location /r/ { proxy_pass http://u/; proxy_next_upstream error http_503; }\n"
                   "location /n/ { proxy_pass http://u/; }")
    # without http_503 the 503 is the answer (and the server is not marked down for it)
    got = sorted(get(s, "/n/%d" % i)[0] for i in range(4))
    assert got == [200, 200, 503, 503]
    # with it, the next server answers (and the busy one is skipped for fail_timeout)
    for i in range(4):
        assert echoed(s, "/r/%d" % i)["backend"] == "good"
    assert len(busy.requests) == 3


def test_connect_refused_is_502(run):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()                                   # nobody listens there
    s = run(server="location / { proxy_pass http://127.0.0.1:%d; }" % port)
    st, _, _ = get(s, "/x")
    assert st == 502


def raw_get(s, path, version="1.1"):
    c = s.connect()
    c.sendall(b"GET %s HTTP/%s\r\nHost: x\r\n\r\n" % (path.encode(), version.encode()))
    data = b""
    try:
        while True:
            d = c.recv(65536)
            if not d:
                break
            data += d
    except ConnectionResetError:
        pass                                       # a cut may come as a reset
    c.close()
    return data


def test_more_than_content_length_is_cut_and_not_reused(run, backends):
    b = backends(pb.canned(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloEXTRA-BYTES"
                           b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nbad"))
    s = run(server="upstream u { server %s; keepalive 4; }\n" % b.addr +
                   "location / { proxy_pass http://u; %s }" % KEEPALIVE)
    st, h, body = get(s, "/a")
    assert st == 200 and body == b"hello"
    st, h, body = get(s, "/b")
    assert body == b"hello"
    assert b.connections == 2                      # the first connection was not reused


def test_early_close_and_reset_mid_body_cut_the_client(run, backends):
    early = backends(pb.canned(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" +
                               b"x" * 1000))
    midreset = backends(pb.canned(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                  b"3e8\r\n" + b"y" * 1000 + b"\r\n", then="reset"))
    s = run(server="location /e { proxy_pass http://%s; }\n" % early.addr +
                   "location /r { proxy_pass http://%s; }\n" % midreset.addr)
    data = raw_get(s, "/e")
    head, _, body = data.partition(b"\r\n\r\n")
    assert b" 200 " in head and b"Content-Length: 100000" in head
    assert len(body) == 1000                       # cut, and the connection closed
    data = raw_get(s, "/r")
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"Transfer-Encoding: chunked" in head
    assert b"y" * 1000 in body and not body.endswith(b"0\r\n\r\n")   # never a final chunk


# ---------------------------------------------------------------- choosing servers

def test_round_robin_weighted(run, backends):
    a, b, c = backends(name="a"), backends(name="b"), backends(name="c")
    s = run(server="upstream u { server %s weight=2; server %s; server %s; }\n" %
            (a.addr, b.addr, c.addr) + "location / { proxy_pass http://u; }")
    seen = [echoed(s, "/%d" % i)["backend"] for i in range(40)]
    assert seen.count("a") == 20 and seen.count("b") == 10 and seen.count("c") == 10
    assert "aa" not in "".join(seen[:4]) or seen[:4] != ["a", "a", "a", "a"]


def test_least_conn(run, backends):
    a, b = backends(name="a"), backends(name="b")
    s = run(server="upstream u { least_conn; server %s; server %s; }\n" % (a.addr, b.addr) +
                   "location / { proxy_pass http://u; }")
    out = {}
    t = threading.Thread(target=lambda: out.setdefault("slow", echoed(s, "/slow")))
    t.start()
    time.sleep(0.5)                                # the slow one holds a connection
    busy = [r["backend"] for r in (a.requests + b.requests) if r["target"] == "/slow"][0]
    quick = [echoed(s, "/q%d" % i)["backend"] for i in range(6)]
    t.join()
    assert busy not in quick, (busy, quick)


def test_consistent_hash(run, backends, tmp_path, docroot):
    bs = [backends(name=n) for n in "abc"]
    conf = "upstream u { hash $request_uri consistent; %s }\n" + \
           "location / { proxy_pass http://u; }"
    s = run(server=conf % " ".join("server %s;" % b.addr for b in bs))
    uris = ["/k%d" % i for i in range(60)]
    first = {u: echoed(s, u)["backend"] for u in uris}
    assert len(set(first.values())) == 3
    assert {u: echoed(s, u)["backend"] for u in uris} == first     # stable
    s.stop()
    two = (conf % " ".join("server %s;" % b.addr for b in bs[:2])).split("\n")
    s2 = spate_conf(tmp_path, docroot, main=MAIN + two[0], server=two[1])
    try:
        after = {u: echoed(s2, u)["backend"] for u in uris}
    finally:
        s2.stop()
    for u in uris:
        if first[u] != "c":
            assert after[u] == first[u], u        # only c's keys moved
        else:
            assert after[u] in ("a", "b")


def test_max_fails_and_fail_timeout(run, backends):
    bad = backends(pb.reset_at_once, name="bad")
    good = backends(name="good")
    s = run(server="upstream u { server %s max_fails=1 fail_timeout=2s; server %s; }\n" %
            (bad.addr, good.addr) + "location / { proxy_pass http://u; }")
    for i in range(10):
        assert echoed(s, "/%d" % i)["backend"] == "good"   # retried on the next server
    assert bad.connections == 1                            # then skipped
    time.sleep(2.5)
    for i in range(4):
        assert echoed(s, "/%d" % i)["backend"] == "good"
    assert bad.connections == 2                            # tried once after fail_timeout


def test_backup_and_down(run, backends):
    dead = backends(pb.reset_at_once, name="dead")
    off = backends(name="off")
    spare = backends(name="spare")
    s = run(server="upstream u { server %s; server %s down; server %s backup; }\n" %
            (dead.addr, off.addr, spare.addr) + "location / { proxy_pass http://u; }")
    for i in range(4):
        assert echoed(s, "/%d" % i)["backend"] == "spare"  # the primaries are out
    assert off.connections == 0 and dead.connections == 1


def test_unix_socket_upstream(run, backends, tmp_path):
    b = backends(name="ux", unix_path=str(tmp_path / "up.sock"))
    s = run(server="upstream u { server %s; keepalive 2; }\n" % b.addr +
                   "location /g/ { proxy_pass http://u/; %s }\n" % KEEPALIVE +
                   "location /d/ { proxy_pass http://%s:/base/; }" % b.addr)
    info = echoed(s, "/g/x")
    assert info["target"] == "/x" and fields_of(info)["host"] == "u"
    info = echoed(s, "/d/y?z=1")
    assert info["target"] == "/base/y?z=1" and fields_of(info)["host"] == "localhost"
    echoed(s, "/g/again")
    assert b.connections == 2                       # the group's was kept, the other not


def test_no_retry_with_next_upstream_off(run, backends):
    bad = backends(pb.reset_at_once, name="bad")
    good = backends(name="good")
    s = run(server="upstream u { server %s; server %s; }\n" % (bad.addr, good.addr) +
                   "location / { proxy_pass http://u; proxy_next_upstream off; }")
    statuses = sorted(get(s, "/%d" % i)[0] for i in range(2))
    assert statuses == [200, 502]


# ---------------------------------------------------------------- keep-alive

def test_keepalive_reuse(run, backends):
    b = backends()
    s = run(server="upstream u { server %s; keepalive 4; }\n" % b.addr +
                   "location /ka/ { proxy_pass http://u/; %s }\n" % KEEPALIVE +
                   "location /no/ { proxy_pass http://u/; }")
    for i in range(20):
        info = echoed(s, "/ka/%d" % i)
        assert "connection" not in fields_of(info) and info["version"] == "HTTP/1.1"
    assert b.connections == 1
    for i in range(5):
        echoed(s, "/no/%d" % i)                   # Connection: close, HTTP/1.0
    assert b.connections == 5                      # the idle one carried the first of them


def test_pooled_connection_closed_by_backend(run, backends):
    b = backends(lambda c, srv: pb.echo(c, srv, close_after_ms=100))
    s = run(server="upstream u { server %s; keepalive 4; }\n" % b.addr +
                   "location / { proxy_pass http://u; %s }" % KEEPALIVE)
    for i in range(5):
        echoed(s, "/%d" % i)
        time.sleep(0.3)                            # the backend closed the idle connection
    assert b.connections == 5


def test_reload_switches_groups_and_pools(run, backends, tmp_path):
    a, b = backends(name="a"), backends(name="b")
    s = run(server="upstream u { server %s; keepalive 4; }\n" % a.addr +
                   "location / { proxy_pass http://u; %s }" % KEEPALIVE)
    for i in range(3):
        assert echoed(s, "/%d" % i)["backend"] == "a"
    conf = tmp_path / "spate.conf"
    conf.write_text(conf.read_text().replace(a.addr, b.addr))
    s.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while echoed(s, "/x")["backend"] != "b":
        assert time.monotonic() < deadline, "the reload did not take"
        time.sleep(0.1)
    for i in range(3):
        assert echoed(s, "/%d" % i)["backend"] == "b"
    assert a.connections == 1 and b.connections == 1   # each generation its own pool


def test_concurrent_keepalive_clients(run, backends):
    a, b = backends(name="a"), backends(name="b")
    s = run(workers=2,
            server="upstream u { server %s; server %s; keepalive 8; }\n" % (a.addr, b.addr) +
                   "location / { proxy_pass http://u; %s }" % KEEPALIVE)
    errors = []

    def client(k):
        c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=20)
        try:
            for i in range(40):
                st, _, body = request(s, "GET", "/c%d/%d" % (k, i), conn=c)
                info = json.loads(body)
                if st != 200 or info["target"] != "/c%d/%d" % (k, i):
                    errors.append((st, info["target"]))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))
        finally:
            c.close()
    ts = [threading.Thread(target=client, args=(k,)) for k in range(16)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors, errors[:5]
    assert len(a.requests) + len(b.requests) == 16 * 40
    assert a.connections + b.connections <= 2 * 16  # connections were reused


def test_client_goes_away(run, backends):
    stalled = backends(pb.stall, name="stall")
    flooding = backends(pb.flood(64 << 20), name="flood")
    good = backends(name="good")
    s = run(server="location /s { proxy_pass http://%s; }\n" % stalled.addr +
                   "location /f { proxy_pass http://%s; }\n" % flooding.addr +
                   "location /g { proxy_pass http://%s; }" % good.addr)
    for path in ("/s", "/f"):
        for _ in range(3):
            c = s.connect()
            c.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path.encode())
            if path == "/f":
                c.recv(1000)                       # the body is streaming
            time.sleep(0.3)
            c.close()                              # while waiting, or mid-body
    time.sleep(0.5)
    assert echoed(s, "/g")["backend"] == "good"   # and the fixture checks a clean exit


# ---------------------------------------------------------------- backpressure

def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def test_slow_client_does_not_make_spate_buffer(run, backends):
    total = 200 << 20
    b = backends(pb.flood(total))
    s = run(server="location / { proxy_pass http://%s; }" % b.addr)
    c = s.connect()
    c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    c.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
    c.recv(100)                                    # the head has come
    time.sleep(1.5)                                # the client stops reading
    sent1 = b.sent
    time.sleep(1.0)
    sent2 = b.sent
    assert sent2 == sent1, "the backend kept sending while the client read nothing"
    assert sent2 < 40 << 20, sent2                 # socket buffers and one spate buffer
    # reading again drains it all, in order
    got = 100
    while got < total:
        d = c.recv(1 << 20)
        assert d
        got += len(d)
    c.close()


# ---------------------------------------------------------------- configuration

@pytest.mark.parametrize("text,msg", [
    ("upstream u { }\nserver { listen 127.0.0.1:0; root /tmp; location / { proxy_pass http://u; } }",
     "has no server"),
    ("server { listen 127.0.0.1:0; root /tmp; location ~ x { proxy_pass http://127.0.0.1:1/a; } }",
     "URI part"),
    ("server { listen 127.0.0.1:0; location / { proxy_pass https://127.0.0.1:1; } }",
     "https"),
    ("server { listen 127.0.0.1:0; root /tmp;\n location / { proxy_pass http://no.such.host.invalid; } }",
     "host not found"),
    ("upstream u { server 127.0.0.1:1 weight=0; }", "invalid weight"),
    ("upstream u { server 127.0.0.1:1; frob; }", "invalid \"frob\""),
    ("server { location / { proxy_next_upstream sometimes; } }", "invalid proxy_next_upstream"),
])
def test_config_errors(tmp_path, text, msg):
    conf = tmp_path / "bad.conf"
    conf.write_text(text + "\n")
    p = subprocess.run([BIN, "-t", "-c", str(conf)], capture_output=True, text=True, timeout=30)
    assert p.returncode != 0
    assert msg in p.stderr and "bad.conf:" in p.stderr, p.stderr
