"""allow / deny / satisfy (issue 12): nginx's rule order per location, inheritance, IPv6 and
IPv4-mapped clients, refusal at accept for servers whose rules decide alone, 10,000 rules,
config errors."""
import re
import socket
import subprocess
import time

import pytest

from conftest import BIN, Spate, spate_conf


def get(port, path="/hello.txt", host="127.0.0.1", method="GET", src=None, auth=None):
    """One request on a fresh connection to host (from src when given): (status, bytes); status
    0 when the server closed without answering."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    if src:
        s.bind((src, 0))
    s.settimeout(10)
    s.connect((host, port))
    h = "Authorization: %s\r\n" % auth if auth else ""
    s.sendall(("%s %s HTTP/1.1\r\nHost: x\r\n%sContent-Length: 0\r\nConnection: close\r\n\r\n"
               % (method, path, h)).encode())
    out = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            out += d
    except (ConnectionResetError, socket.timeout):
        pass
    s.close()
    return int(out.split()[1]) if out else 0, out


def stop_ok(s):
    rc, err = s.stop()
    assert rc == 0, err
    assert "ERROR: AddressSanitizer" not in err and "runtime error" not in err, err
    return err


def test_location_rules_in_order(tmp_path, docroot):
    s = spate_conf(tmp_path, docroot, server="""
  location /first/ { deny 127.0.0.1; allow all; alias %s/; }
  location /second/ { allow all; deny 127.0.0.1; alias %s/; }
  location /net/ { allow 127.0.0.0/8; deny all; alias %s/; }
  location /other/ { allow 10.0.0.0/8; deny all; alias %s/; }
  location /nomatch/ { allow 10.0.0.0/8; alias %s/; }
""" % ((docroot,) * 5))
    try:
        assert get(s.port, "/first/hello.txt")[0] == 403
        assert get(s.port, "/second/hello.txt")[0] == 200
        assert get(s.port, "/net/hello.txt")[0] == 200
        assert get(s.port, "/other/hello.txt")[0] == 403
        assert get(s.port, "/nomatch/hello.txt")[0] == 200  # no rule matches: allowed
        assert get(s.port, "/hello.txt")[0] == 200  # the server level has no rules
        # the refusal says nothing of what is there: no 404, no 405, no Allow
        st, out = get(s.port, "/first/missing")
        assert st == 403
        st, out = get(s.port, "/first/hello.txt", method="OPTIONS")
        assert st == 403 and b"Allow:" not in out
        st, out = get(s.port, "/first/hello.txt", method="DELETE")
        assert st == 403
    finally:
        err = stop_ok(s)
    assert "access forbidden by rule, client: 127.0.0.1" in err


def test_inheritance(tmp_path, docroot):
    """A block with rules of its own replaces its parent's list (nginx); one with none
    inherits it, nested locations included."""
    s = spate_conf(tmp_path, docroot, main="", server="""
  deny 127.0.0.1;
  location /open/ { allow 127.0.0.1; alias %s/;
    location /open/closed/ { deny all; alias %s/; } }
  location /inherits/ { alias %s/; }
""" % ((docroot,) * 3))
    try:
        assert get(s.port, "/open/hello.txt")[0] == 200
        assert get(s.port, "/open/closed/hello.txt")[0] == 403
        assert get(s.port, "/inherits/hello.txt")[0] == 403
        # a location has rules of its own: the server's cannot refuse at accept
        assert get(s.port, "/hello.txt")[0] == 403
    finally:
        stop_ok(s)


def test_http_level_rules(tmp_path, docroot):
    conf = tmp_path / "spate.conf"
    conf.write_text("""workers 1;
error_log %s/error.log info;
http {
  deny 127.0.0.2;
  server { listen 127.0.0.1:0; root %s;
    location /x/ { allow all; alias %s/; } }
}
""" % (tmp_path, docroot, docroot))
    s = Spate(["-c", str(conf)]).start()
    try:
        assert get(s.port, "/hello.txt")[0] == 200  # 127.0.0.1 is not 127.0.0.2
        st, _ = get(s.port, "/hello.txt", host="127.0.0.1")
        assert st == 200
        # from 127.0.0.2 (the loopback /8 answers on every address)
        assert get(s.port, "/hello.txt", src="127.0.0.2")[0] == 403
        assert get(s.port, "/x/hello.txt", src="127.0.0.2")[0] == 200
    finally:
        stop_ok(s)


def refused_at_accept(port, src="127.0.0.1"):
    """True when the server closes the connection without answering a byte."""
    c = socket.socket()
    c.bind((src, 0))
    c.settimeout(5)
    c.connect(("127.0.0.1", port))
    try:
        c.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        out = c.recv(1000)
    except (ConnectionResetError, BrokenPipeError):
        out = b""
    c.close()
    return out == b""


def test_refused_at_accept_on_every_worker(tmp_path, docroot):
    conf = tmp_path / "spate.conf"
    conf.write_text("""workers 2;
error_log %s/error.log info;
server { listen 127.0.0.1:0; root %s; deny 127.0.0.3; deny 127.0.0.0/29; allow all; }
""" % (tmp_path, docroot))
    s = Spate(["-c", str(conf), "--stats-on-exit"]).start()
    try:
        # 40 connections spread by the kernel over both workers' listeners
        for i in range(40):
            assert refused_at_accept(s.port, "127.0.0.%d" % (1 + i % 7))
        assert get(s.port, "/hello.txt", host="127.0.0.1")[0] == 0
        assert get(s.port, src="127.0.0.9")[0] == 200  # outside 127.0.0.0/29: served
    finally:
        err = stop_ok(s)
    per_worker = [int(x) for x in re.findall(r"spate: stats worker=\d .* denied=(\d+)", err)]
    assert sum(per_worker) == 41, err
    assert len(per_worker) == 2 and all(n > 0 for n in per_worker), per_worker
    log = (tmp_path / "error.log").read_text()
    lines = re.findall(r"\[info\] .*refused at accept by the server's rules.*", log)
    # at most one a second per worker, each saying how many it did not log
    assert 1 <= len(lines) <= 2 * 10, lines
    assert "connection from 127.0.0." in lines[0]


def test_vhosts_decide_together_at_accept(tmp_path, docroot):
    """Two servers on one address: a client is refused at accept only if both refuse it;
    otherwise the chosen server's rules answer 403."""
    conf = tmp_path / "spate.conf"
    conf.write_text("""workers 1;
server { listen 127.0.0.1:0; server_name a; root %s; deny 127.0.0.1; }
server { listen 127.0.0.1:0; server_name b; root %s; allow 127.0.0.1; deny all; }
""" % (docroot, docroot))
    s = Spate(["-c", str(conf)]).start()
    try:
        c = s.connect()
        c.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: a\r\n\r\n")
        assert c.recv(1000).startswith(b"HTTP/1.1 403")
        c.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n")
        assert b"HTTP/1.1 200" in c.recv(1000)
        c.close()
    finally:
        stop_ok(s)


def test_ipv6_and_mapped(tmp_path, docroot):
    try:
        t = socket.socket(socket.AF_INET6)
        t.bind(("::1", 0))
        t.close()
    except OSError:
        pytest.skip("no IPv6 loopback here")
    conf = tmp_path / "spate.conf"
    conf.write_text("""workers 1;
server { listen [::1]:0; root %s;
  location /v6/ { deny ::1; alias %s/; }
  location /v6net/ { allow ::/0; deny all; alias %s/; }
  location /v4only/ { allow 127.0.0.0/8; deny all; alias %s/; } }
""" % ((docroot,) * 4))
    s = Spate(["-c", str(conf)]).start()
    try:
        assert get(s.port, "/v6/hello.txt", host="::1")[0] == 403
        assert get(s.port, "/v6net/hello.txt", host="::1")[0] == 200
        assert get(s.port, "/v4only/hello.txt", host="::1")[0] == 403
        assert get(s.port, "/hello.txt", host="::1")[0] == 200
    finally:
        stop_ok(s)
    # a dual-stack listener: an IPv4 client arrives as ::ffff:127.0.0.1 and IPv4 rules apply
    conf.write_text("""workers 1;
server { listen [::]:0 ipv6only=off; root %s;
  location /v4/ { deny 127.0.0.1; alias %s/; }
  location /mapped/ { deny ::ffff:127.0.0.0/104; alias %s/; } }
""" % ((docroot,) * 3))
    s = Spate(["-c", str(conf)]).start()
    try:
        assert get(s.port, "/v4/hello.txt", host="127.0.0.1")[0] == 403
        assert get(s.port, "/mapped/hello.txt", host="127.0.0.1")[0] == 403
        assert get(s.port, "/v4/hello.txt", host="::1")[0] == 200
    finally:
        stop_ok(s)


def test_ten_thousand_rules(tmp_path, docroot):
    rules = "".join("    deny 10.%d.%d.%d;\n" % (i >> 16 & 255, i >> 8 & 255, i & 255)
                    for i in range(10000))
    s = spate_conf(tmp_path, docroot, server="""
  location /many/ {
%s    deny 127.0.0.7;
    allow all;
    alias %s/; }
""" % (rules, docroot))
    try:
        assert get(s.port, "/many/hello.txt")[0] == 200
        assert get(s.port, "/many/hello.txt", src="127.0.0.7")[0] == 403
    finally:
        stop_ok(s)


def check_conf(tmp_path, text):
    conf = tmp_path / "bad.conf"
    conf.write_text(text)
    p = subprocess.run([BIN, "-t", "-c", str(conf)], capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout + p.stderr, str(conf)


@pytest.mark.parametrize("line,msg", [
    ("allow 10.0.0.256;", "invalid address"),
    ("deny 10.0.0.0/33;", "prefix length"),
    ("allow ::/129;", "prefix length"),
    ("deny;", "deny"),
    ("allow host;", "allow"),
    ("allow foo bar;", "host NAME"),
    ("allow host bad_name!;", "invalid host name"),
    ("satisfy some;", "satisfy"),
])
def test_config_errors(tmp_path, docroot, line, msg):
    rc, out, path = check_conf(tmp_path, "server { listen 127.0.0.1:0; root %s;\n"
                                         "  location / { %s } }\n" % (docroot, line))
    assert rc != 0, out
    assert "%s:2:" % path in out and msg in out, out


def test_low_bits_are_a_notice(tmp_path, docroot):
    conf = tmp_path / "spate.conf"
    conf.write_text("""workers 1;
error_log %s/error.log notice;
server { listen 127.0.0.1:0; root %s; location / { deny 127.0.0.1/8; } }
""" % (tmp_path, docroot))
    s = Spate(["-c", str(conf)]).start()
    try:
        assert get(s.port, "/hello.txt")[0] == 403  # 127.0.0.0/8
    finally:
        stop_ok(s)
    log = (tmp_path / "error.log").read_text()
    assert re.search(r"spate.conf:3: low address bits of 127.0.0.1/8 are meaningless", log), log


def test_rules_print_back(tmp_path, docroot):
    """spate --print-config writes the rules back in order, as a configuration that loads again."""
    conf = tmp_path / "spate.conf"
    conf.write_text("""server { listen 127.0.0.1:0; root %s;
  location / { allow 10.0.0.0/8; deny 2001:db8::/32; allow 192.168.0.0/16; deny all;
               satisfy any; } }
""" % docroot)
    p = subprocess.run([BIN, "--print-config", "-c", str(conf)], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    text = p.stdout
    order = [text.index(x) for x in ("allow 10.0.0.0/8", "deny 2001:db8::/32",
                                     "allow 192.168.0.0/16", "deny all")]
    assert order == sorted(order), text
    assert "satisfy any" in text


def basic(user, pw):
    import base64
    return "Basic " + base64.b64encode(("%s:%s" % (user, pw)).encode()).decode()


def req(port, path, auth=None):
    return get(port, path, auth=auth)


def test_satisfy(tmp_path, docroot):
    """satisfy all wants the address and the password; any is content with either, and asks
    for the password (401, not 403) when the address is refused."""
    pw = tmp_path / "htpasswd"
    subprocess.run(["htpasswd", "-bc", str(pw), "alice", "s3cret"], check=True,
                   capture_output=True)
    auth = 'auth_basic "zone"; auth_basic_user_file %s;' % pw
    # `user root;`: started as root, spate would read the file as nobody, who cannot enter
    # pytest's directory (root's, 0700)
    s = spate_conf(tmp_path, docroot, main="user root;", server="""
  location /all-ok/ { allow 127.0.0.1; deny all; %s alias %s/; }
  location /all-denied/ { deny 127.0.0.1; %s alias %s/; }
  location /any-ok/ { satisfy any; allow 127.0.0.1; deny all; %s alias %s/; }
  location /any-denied/ { satisfy any; deny 127.0.0.1; %s alias %s/; }
  location /any-nomatch/ { satisfy any; allow 10.0.0.0/8; %s alias %s/; }
  location /any-norules/ { satisfy any; deny 10.0.0.0/8; alias %s/; }
""" % (auth, docroot, auth, docroot, auth, docroot, auth, docroot, auth, docroot, docroot))
    good, bad = basic("alice", "s3cret"), basic("alice", "nope")
    try:
        st, out = req(s.port, "/all-ok/hello.txt")
        assert st == 401 and b'WWW-Authenticate: Basic realm="zone"' in out
        assert req(s.port, "/all-ok/hello.txt", good)[0] == 200
        assert req(s.port, "/all-ok/hello.txt", bad)[0] == 401
        # the address is refused: no password helps, none is asked for
        st, out = req(s.port, "/all-denied/hello.txt", good)
        assert st == 403 and b"WWW-Authenticate" not in out
        assert req(s.port, "/all-denied/hello.txt")[0] == 403
        # any: the address lets it in without a password
        assert req(s.port, "/any-ok/hello.txt")[0] == 200
        assert req(s.port, "/any-ok/hello.txt", bad)[0] == 200
        # any: refused by address, so the password decides, and is asked for
        st, out = req(s.port, "/any-denied/hello.txt")
        assert st == 401 and b"WWW-Authenticate: Basic" in out
        assert req(s.port, "/any-denied/hello.txt", good)[0] == 200
        assert req(s.port, "/any-denied/hello.txt", bad)[0] == 401
        # any: no address rule matches: the password decides
        assert req(s.port, "/any-nomatch/hello.txt")[0] == 401
        assert req(s.port, "/any-nomatch/hello.txt", good)[0] == 200
        assert req(s.port, "/any-norules/hello.txt")[0] == 200
    finally:
        stop_ok(s)


def from_addr(port, src, method, path):
    return get(port, path, method=method, src=src)[0]


def test_limit_except(tmp_path, docroot):
    """nginx's limit_except: the block's rules for the methods it does not name; GET brings
    HEAD; nested locations keep it; --print-config writes it back."""
    s = spate_conf(tmp_path, docroot, server="""
  location /ro/ { alias %s/;
    limit_except GET { allow 127.0.0.2; deny all; }
    location /ro/dir/ { alias %s/dir/; } }
  location /mixed/ { deny 127.0.0.3; alias %s/;
    limit_except GET POST { deny all; } }
""" % (docroot, docroot, docroot))
    try:
        for src in ("127.0.0.1", "127.0.0.2"):
            assert from_addr(s.port, src, "GET", "/ro/hello.txt") == 200
            assert from_addr(s.port, src, "HEAD", "/ro/hello.txt") == 200
        # other methods: the block's rules (127.0.0.2 passes them, then the method policy)
        assert from_addr(s.port, "127.0.0.1", "DELETE", "/ro/hello.txt") == 403
        assert from_addr(s.port, "127.0.0.1", "POST", "/ro/hello.txt") == 403
        assert from_addr(s.port, "127.0.0.1", "OPTIONS", "/ro/hello.txt") == 403
        assert from_addr(s.port, "127.0.0.2", "DELETE", "/ro/hello.txt") == 405
        assert from_addr(s.port, "127.0.0.1", "PUT", "/ro/dir/index.html") == 403
        assert from_addr(s.port, "127.0.0.1", "GET", "/ro/dir/index.html") == 200
        # named methods keep the location's own rules
        assert from_addr(s.port, "127.0.0.1", "GET", "/mixed/hello.txt") == 200
        assert from_addr(s.port, "127.0.0.3", "GET", "/mixed/hello.txt") == 403
        assert from_addr(s.port, "127.0.0.1", "PUT", "/mixed/hello.txt") == 403
    finally:
        stop_ok(s)
    conf = tmp_path / "spate.conf"
    p = subprocess.run([BIN, "--print-config", "-c", str(conf)], capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 0, p.stderr
    assert re.search(r"limit_except GET \{\s*allow 127\.0\.0\.2/32;\s*deny all;\s*\}", p.stdout), \
        p.stdout
    assert re.search(r"limit_except GET POST \{\s*deny all;\s*\}", p.stdout), p.stdout


@pytest.mark.parametrize("text,msg", [
    ("location / { limit_except FOO { deny all; } }", "invalid method"),
    ("location / { limit_except GET { return 403; } }", "not supported inside limit_except"),
    ("location / { limit_except GET { deny 10.0.0.256; } }", "invalid address"),
    ("location / { limit_except GET { deny all; } limit_except POST { deny all; } }",
     "duplicate"),
    ("limit_except GET { deny all; }", "limit_except"),
])
def test_limit_except_errors(tmp_path, docroot, text, msg):
    rc, out, path = check_conf(tmp_path, "server { listen 127.0.0.1:0; root %s;\n  %s }\n"
                               % (docroot, text))
    assert rc != 0, out
    assert "%s:2:" % path in out and msg in out, out
