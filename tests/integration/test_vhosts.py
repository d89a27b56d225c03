"""Virtual hosts by name, as nginx picks them: an exact name, then the longest wildcard
(`*.example.com` subdomains only, `.example.com` the domain too), else the default server;
case, a port and a trailing dot in Host are ignored; 1,000 servers on one address."""
import http.client

from conftest import Spate


def get(port, host):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", "/", headers={"Host": host})
    r = c.getresponse()
    body = r.read()
    c.close()
    return body.decode()


def start(tmp_path, servers):
    conf = tmp_path / "vh.conf"
    conf.write_text("workers 1;\n" + "".join(
        "server { listen 127.0.0.1:0%s; server_name %s; root %s; return 200 \"%s\"; }\n"
        % (" default_server" if d else "", names, tmp_path, tag) for tag, names, d in servers))
    return Spate(["-c", str(conf)]).start()


def test_name_precedence(tmp_path):
    s = start(tmp_path, [
        ("first", "first.test", False),
        ("exact", "www.example.com", False),
        ("star", "*.example.com", False),
        ("deep", "*.cdn.example.com", False),
        ("dot", ".example.org", False),
        ("dup", "www.example.com", False),  # a duplicate: the first keeps it (with a warning)
        ("def", "default.test", True),
    ])
    try:
        cases = {
            "www.example.com": "exact",
            "WWW.Example.COM:8080": "exact",
            "www.example.com.": "exact",
            "img.example.com": "star",
            "a.b.example.com": "star",
            "x.cdn.example.com": "deep",      # the longest wildcard wins
            "example.com": "def",             # *. is subdomains only
            "example.org": "dot",             # .x is the domain too
            "a.example.org": "dot",
            "nothing.test": "def",
            "": "def",
            "first.test": "first",
        }
        for host, want in cases.items():
            assert get(s.port, host) == want, host
    finally:
        rc, err = s.stop()
        assert rc == 0, err


def test_thousand_hosts(tmp_path):
    s = start(tmp_path, [("h%d" % i, "h%d.example.net" % i, i == 0) for i in range(1000)])
    try:
        for i in (0, 1, 499, 998, 999):
            assert get(s.port, "h%d.example.net" % i) == "h%d" % i
        assert get(s.port, "h1000.example.net") == "h0"
    finally:
        rc, err = s.stop()
        assert rc == 0, err
