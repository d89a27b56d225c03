"""Load-balancing and affinity redirects (redirect_pool), URL augmentation (augment_arg) and
$request_id, against the real server: round robin and least recently chosen per worker, the
same target for the same client address, a cookie set on the first visit and honoured after."""
import http.client
import socket

from conftest import spate_conf

POOLS = """
redirect_pool rr { target http://a.example; target http://b.example; target http://c.example;
                   target http://d.example; policy round_robin; }
redirect_pool lr { target http://a.example; target http://b.example; policy least_recent; }
redirect_pool hs { target http://a.example; target http://b.example; target http://c.example;
                   target http://d.example; policy hash; }
redirect_pool ck { target http://a.example; target http://b.example; target http://c.example;
                   policy cookie srv; }
"""

SERVER = """
location /rr/ { return 302 $redirect_pool_rr$request_uri; }
location /lr/ { return 302 $redirect_pool_lr$request_uri; }
location /hs/ { return 302 $redirect_pool_hs$request_uri; }
location /ck/ { return 302 $redirect_pool_ck$request_uri; }
location /page { augment_arg lang en; return 200 "lang=$arg_lang"; }
location /sess { augment_arg sid $request_id 307; return 200 "sid=$arg_sid"; }
location = /id { return 200 "$request_id $request_id"; }
"""


def get(port, path, headers=None, source=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10,
                                   source_address=(source, 0) if source else None)
    c.request("GET", path, headers=headers or {})
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, body


def target(h):
    return h["location"].split("/", 3)[2]


def test_round_robin_and_least_recent(tmp_path, docroot):
    s = spate_conf(tmp_path, docroot, main=POOLS, server=SERVER, workers=1)
    try:
        seen = [target(get(s.port, "/rr/f?x=1")[1]) for _ in range(8)]
        assert seen == ["a.example", "b.example", "c.example", "d.example"] * 2
        st, h, _ = get(s.port, "/rr/f?x=1")
        assert st == 302 and h["location"] == "http://a.example/rr/f?x=1"
        seen = [target(get(s.port, "/lr/f")[1]) for _ in range(4)]
        assert seen == ["a.example", "b.example"] * 2
    finally:
        rc, err = s.stop()
        assert rc == 0, err


def test_hash_affinity_by_client_address(tmp_path, docroot):
    s = spate_conf(tmp_path, docroot, main=POOLS, server=SERVER, workers=2)
    try:
        first, counts = {}, {}
        for i in range(200):
            src = "127.0.%d.%d" % (1 + i // 250, 1 + i % 250)
            t = target(get(s.port, "/hs/x", source=src)[1])
            first[src] = t
            counts[t] = counts.get(t, 0) + 1
        assert len(counts) == 4 and min(counts.values()) >= 20, counts  # all targets used
        for src, t in list(first.items())[:50]:  # the same client, the same target, any worker
            for _ in range(2):
                assert target(get(s.port, "/hs/y", source=src)[1]) == t
    finally:
        rc, err = s.stop()
        assert rc == 0, err


def test_cookie_affinity(tmp_path, docroot):
    s = spate_conf(tmp_path, docroot, main=POOLS, server=SERVER, workers=2)
    try:
        st, h, _ = get(s.port, "/ck/x")
        assert st == 302 and "set-cookie" in h
        cookie = h["set-cookie"].split(";")[0]
        assert cookie.startswith("srv=") and "HttpOnly" in h["set-cookie"]
        t = target(h)
        for _ in range(5):
            st, h2, _ = get(s.port, "/ck/y", headers={"Cookie": "other=1; " + cookie})
            assert target(h2) == t and "set-cookie" not in h2
        # a cookie naming no target (removed since) gets a new one, and a new cookie
        st, h3, _ = get(s.port, "/ck/y", headers={"Cookie": "srv=ffffffff"})
        assert st == 302 and "set-cookie" in h3
    finally:
        rc, err = s.stop()
        assert rc == 0, err


def test_augment_and_request_id(tmp_path, docroot):
    s = spate_conf(tmp_path, docroot, main=POOLS, server=SERVER, workers=1)
    try:
        st, h, _ = get(s.port, "/page?q=1")
        assert st == 302 and h["location"] == "http://127.0.0.1:%d/page?q=1&lang=en" % s.port
        assert get(s.port, "/page?q=1&lang=ko")[::2] == (200, b"lang=ko")
        st, h, _ = get(s.port, "/sess")
        assert st == 307
        sid = h["location"].split("sid=")[1]
        assert len(sid) == 32 and all(c in "0123456789abcdef" for c in sid)
        assert get(s.port, "/sess?sid=" + sid)[::2] == (200, ("sid=" + sid).encode())
        a, b = get(s.port, "/id")[2].split()
        assert a == b and len(a) == 32  # one id per request, the same at every use
        assert get(s.port, "/id")[2].split()[0] != a
    finally:
        rc, err = s.stop()
        assert rc == 0, err


def test_pool_config_errors(tmp_path, docroot):
    import subprocess
    from conftest import BIN
    conf = tmp_path / "bad.conf"
    for body, want in [("redirect_pool p { policy hash; }", "has no target"),
                       ("redirect_pool p { target ftp://x; }", "target takes one URL"),
                       ("redirect_pool p { target http://x; policy random; }", "invalid policy"),
                       ("redirect_pool p { weight 3; }", "unknown directive"),
                       ("redirect_pool p { target http://x; policy cookie a.b; }",
                        "invalid cookie name"),
                       ("redirect_pool p { target http://x; policy cookie %s; }" % ("c" * 65),
                        "invalid cookie name")]:
        conf.write_text("%s\nserver { listen 127.0.0.1:0; root %s; }\n" % (body, docroot))
        p = subprocess.run([BIN, "-t", "-c", str(conf)], capture_output=True, text=True)
        assert p.returncode == 1 and "bad.conf:1:" in p.stderr and want in p.stderr, p.stderr
