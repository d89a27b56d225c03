"""auth_basic / auth_basic_user_file (issue 12): files written by the real htpasswd and openssl
passwd, 401 with WWW-Authenticate, wrong and unknown users, malformed Authorization fields,
inheritance and `auth_basic off`, the file changing while spate runs, plaintext refused (at
start and while running), a missing file, $remote_user in the access log, config errors."""
import base64
import os
import shutil
import socket
import subprocess
import threading
import time

import pytest

from conftest import BIN, Spate

pytestmark = pytest.mark.skipif(not shutil.which("htpasswd") or not shutil.which("openssl"),
                                reason="needs htpasswd (apache2-utils) and openssl")


def user_root_line(tmp_path):
    """`user root;` where this build has the directive and runs as root (so that the password
    file in a private temporary directory can be read again after start)."""
    if os.geteuid() != 0:
        return ""
    conf = tmp_path / "probe.conf"
    conf.write_text("user root;\nserver { listen 127.0.0.1:0; root %s; }\n" % tmp_path)
    r = subprocess.run([BIN, "-c", str(conf), "-t"], capture_output=True)
    return "user root;\n" if r.returncode == 0 else ""


def start(tmp_path, docroot, server, main="", port=0):
    conf = tmp_path / "spate.conf"
    conf.write_text("workers 2;\n%s%serror_log %s/error.log info;\n"
                    "server {\n  listen 127.0.0.1:%d;\n  root %s;\n%s\n}\n"
                    % (user_root_line(tmp_path), main, tmp_path, port, docroot, server))
    return Spate(["-c", str(conf)]).start()


def stop_ok(s):
    rc, err = s.stop()
    assert rc == 0, err
    assert "ERROR: AddressSanitizer" not in err and "runtime error" not in err, err
    return err


def request(port, path="/hello.txt", auth=None, creds=None):
    """GET on a fresh connection: (status, headers dict of lists, body)."""
    lines = ["GET %s HTTP/1.1" % path, "Host: x", "Connection: close"]
    if creds is not None:
        auth = "Basic " + base64.b64encode(creds.encode()).decode()
    if auth is not None:
        lines.append("Authorization: " + auth)
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    out = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        out += d
    s.close()
    head, _, body = out.partition(b"\r\n\r\n")
    hl = head.decode(errors="replace").split("\r\n")
    headers = {}
    for line in hl[1:]:
        k, _, v = line.partition(":")
        headers.setdefault(k.strip().lower(), []).append(v.strip())
    return int(hl[0].split()[1]), headers, body


def status(port, path="/hello.txt", **kw):
    return request(port, path, **kw)[0]


def htpasswd(path, user, password, *flags, create=False):
    args = ["htpasswd", "-b"] + (["-c"] if create else []) + list(flags) + [str(path), user,
                                                                           password]
    subprocess.run(args, check=True, capture_output=True)


def htpasswd_has(flag):
    r = subprocess.run(["htpasswd", "-nb", flag, "u", "p"], capture_output=True, text=True)
    return r.returncode == 0 and r.stdout.startswith("u:")


def openssl_hash(flag, password):
    return subprocess.run(["openssl", "passwd", flag, password], check=True, capture_output=True,
                          text=True).stdout.strip()


def until(fn, want, timeout=10):
    """Polls fn() until it returns want (a change is seen within about two seconds)."""
    deadline = time.monotonic() + timeout
    got = fn()
    while got != want and time.monotonic() < deadline:
        time.sleep(0.2)
        got = fn()
    return got


def settled(fn, want, n=8, timeout=10):
    """Polls until n answers in a row are want (each worker checks the file on its own)."""
    deadline = time.monotonic() + timeout
    run = 0
    while run < n and time.monotonic() < deadline:
        run = run + 1 if fn() == want else 0
        if run == 0:
            time.sleep(0.2)
    return run == n


def test_every_hash_kind(tmp_path, docroot):
    pw = tmp_path / "users"
    kinds = [("apr1", "-m"), ("bcrypt", "-B"), ("sha1", "-s"), ("crypt", "-d")]
    kinds += [(n, f) for n, f in (("sha256", "-2"), ("sha512", "-5")) if htpasswd_has(f)]
    # passwords of 7 characters: crypt (-d) reads only 8, so "PWx" must still differ
    htpasswd(pw, "default", "p-deflt", create=True)  # htpasswd's default: apr1
    users = {"default": "p-deflt"}
    for name, flag in kinds:
        users[name] = "p-" + name[:5]
        htpasswd(pw, name, users[name], flag)
    with open(pw, "a") as f:
        for flag in ("-1", "-5", "-6", "-apr1"):
            users["openssl" + flag] = "o" + flag
            f.write("openssl%s:%s\n" % (flag, openssl_hash(flag, "o" + flag)))
    text = pw.read_text()
    assert "$apr1$" in text and "$2y$" in text and "{SHA}" in text and "$6$" in text
    s = start(tmp_path, docroot, 'auth_basic "Kinds";\nauth_basic_user_file %s;' % pw)
    try:
        for u, pwd in users.items():
            assert status(s.port, creds="%s:%s" % (u, pwd)) == 200, u
            assert status(s.port, creds="%s:%s" % (u, pwd)) == 200, u  # remembered
            assert status(s.port, creds="%s:%sx" % (u, pwd)) == 401, u
            assert status(s.port, creds="%s:" % u) == 401, u
            assert status(s.port, creds="%s:%s" % (u, pwd[:-1])) == 401, u
    finally:
        stop_ok(s)


@pytest.fixture
def site(tmp_path, docroot):
    pw = tmp_path / "users"
    htpasswd(pw, "alice", "wonder land", "-B", "-C", "5", create=True)
    htpasswd(pw, "bob", "b:o:b", "-m")
    log = tmp_path / "access.log"
    s = start(tmp_path, docroot, """
  access_log %s combined;
  auth_basic "Staff \\"only\\"";
  auth_basic_user_file %s;
  location /pub/ { auth_basic off; alias %s/; }
  location /other/ { auth_basic "Other"; alias %s/;
    location /other/open/ { auth_basic off; alias %s/; } }
""" % (log, pw, docroot, docroot, docroot))
    s.log = log
    s.pw = pw
    yield s
    stop_ok(s)


def test_challenge_and_credentials(site):
    st, h, body = request(site.port)
    assert st == 401
    assert h["www-authenticate"] == ['Basic realm="Staff \\"only\\"", charset="UTF-8"']
    assert b"401" in body
    assert status(site.port, creds="alice:wonder land") == 200
    assert request(site.port, creds="alice:wonder land")[2] == b"hello, world\n"
    assert status(site.port, creds="alice:wonder") == 401
    assert status(site.port, creds="bob:b:o:b") == 200  # the password may hold colons
    assert status(site.port, creds="bob:b") == 401
    st, h, _ = request(site.port, creds="mallory:wonder land")  # unknown user
    assert st == 401 and "www-authenticate" in h
    assert status(site.port, creds="Alice:wonder land") == 401  # names are case-sensitive


@pytest.mark.parametrize("auth", [
    "Basic", "Basic ", "Basic !!!!", "Basic YWxpY2U=",  # no colon
    "Basic " + base64.b64encode(b":wonder land").decode(),  # no user
    "Basic " + base64.b64encode(b"alice:wonder land").decode()[:-3],  # cut
    "Basic " + base64.b64encode(b"alice:wonder land").decode() + "==",
    "Basic " + base64.b64encode(b"alice:wonder\0land").decode(),
    "Bearer abc.def", "Digest username=\"alice\"", "basic", "Basicx YWxpY2U6eA==",
    "Basic " + "A" * 5000,
])
def test_malformed_authorization(site, auth):
    st, h, _ = request(site.port, auth=auth)
    assert st == 401, auth
    assert h["www-authenticate"][0].startswith('Basic realm=')


def test_scheme_case_and_spaces(site):
    tok = base64.b64encode(b"alice:wonder land").decode()
    assert status(site.port, auth="basic " + tok) == 200
    assert status(site.port, auth="BASIC   " + tok) == 200
    # unpadded base64 is accepted too
    tok = base64.b64encode(b"bob:b:o:b").decode()
    assert status(site.port, auth="Basic " + tok.rstrip("=")) == 200


def test_off_and_inheritance(site):
    assert status(site.port, "/pub/hello.txt") == 200  # auth_basic off
    st, h, _ = request(site.port, "/other/hello.txt")
    assert st == 401  # the realm changes, the server's file stays
    assert h["www-authenticate"] == ['Basic realm="Other", charset="UTF-8"']
    assert status(site.port, "/other/hello.txt", creds="alice:wonder land") == 200
    assert status(site.port, "/other/open/hello.txt") == 200  # off in a nested location
    assert status(site.port, "/missing", creds="alice:wonder land") == 404
    assert status(site.port, "/missing") == 401  # nothing is told before the password


def test_main_context_inheritance(tmp_path, docroot):
    pw = tmp_path / "users"
    htpasswd(pw, "carol", "c", "-s", create=True)
    s = start(tmp_path, docroot, "location /x/ { alias %s/; }" % docroot,
              main='auth_basic "Main";\nauth_basic_user_file %s;\n' % pw)
    try:
        assert status(s.port, "/x/hello.txt") == 401
        assert status(s.port, "/x/hello.txt", creds="carol:c") == 200
        assert status(s.port, "/hello.txt", creds="carol:c") == 200
    finally:
        stop_ok(s)


def test_remote_user_in_access_log(site):
    assert status(site.port, creds="alice:wonder land") == 200
    assert status(site.port, creds="bob:nope") == 401
    assert status(site.port, "/pub/hello.txt") == 200

    def lines():
        return site.log.read_text().splitlines() if site.log.exists() else []
    assert until(lambda: len(lines()) >= 3, True)
    log = lines()
    ok = [l for l in log if '"GET /hello.txt' in l and '" 200 ' in l]
    assert ok and ok[0].split(" ")[2] == "alice", log  # CLF field 3
    bad = [l for l in log if '" 401 ' in l]
    assert bad and bad[0].split(" ")[2] == "-", log  # only a user who got in is named
    pub = [l for l in log if "/pub/" in l]
    assert pub and pub[0].split(" ")[2] == "-", log


def test_same_pair_at_once(site):
    """Many connections with the same new pair: each gets its answer (one hash for all)."""
    results = []

    def one():
        results.append(status(site.port, creds="alice:wonder land"))
    ts = [threading.Thread(target=one) for _ in range(24)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert results == [200] * 24


def test_file_changes_while_running(site, tmp_path):
    assert status(site.port, creds="alice:wonder land") == 200
    assert status(site.port, creds="dave:d") == 401
    htpasswd(site.pw, "dave", "d", "-B", "-C", "5")
    assert until(lambda: status(site.port, creds="dave:d"), 200) == 200
    # a removed user is refused, even with a pair a worker remembered
    subprocess.run(["htpasswd", "-D", str(site.pw), "alice"], check=True, capture_output=True)
    assert settled(lambda: status(site.port, creds="alice:wonder land"), 401)
    # a changed password: the old one no longer works, the new one does
    htpasswd(site.pw, "dave", "e", "-m")
    assert settled(lambda: status(site.port, creds="dave:e"), 200)
    assert settled(lambda: status(site.port, creds="dave:d"), 401)
    # replaced by rename (as editors and config management write files)
    new = tmp_path / "users.new"
    htpasswd(new, "erin", "x", "-s", create=True)
    os.rename(new, site.pw)
    assert settled(lambda: status(site.port, creds="erin:x"), 200)
    assert settled(lambda: status(site.port, creds="dave:e"), 401)


def test_plaintext_refused_at_start(tmp_path, docroot):
    pw = tmp_path / "users"
    htpasswd(pw, "alice", "a", "-B", "-C", "4", create=True)
    htpasswd(pw, "bob", "plain", "-p")  # htpasswd -p: no hash
    assert "bob:plain" in pw.read_text()
    conf = tmp_path / "t.conf"
    conf.write_text("server {\n listen 127.0.0.1:0;\n root %s;\n auth_basic x;\n"
                    " auth_basic_user_file %s;\n}\n" % (docroot, pw))
    r = subprocess.run([BIN, "-c", str(conf), "-t"], capture_output=True, text=True)
    assert r.returncode != 0
    assert "%s:2:" % pw in r.stderr and "plaintext" in r.stderr, r.stderr
    assert "t.conf:5" in r.stderr, r.stderr
    r = subprocess.run([BIN, "-c", str(conf)], capture_output=True, text=True, timeout=20)
    assert r.returncode != 0 and "%s:2:" % pw in r.stderr


def test_plaintext_and_missing_while_running(tmp_path, docroot):
    pw = tmp_path / "users"
    htpasswd(pw, "alice", "a", "-m", create=True)
    s = start(tmp_path, docroot, "auth_basic x;\nauth_basic_user_file %s;" % pw)
    try:
        assert status(s.port, creds="alice:a") == 200
        with open(pw, "a") as f:
            f.write("# a comment\nbob:plain\n")
        assert until(lambda: status(s.port, creds="alice:a"), 500) == 500
        assert settled(lambda: status(s.port), 500)  # the file is not used at all
        line = "%s:3: the password of \"bob\" is not a hash" % pw
        assert until(lambda: line in (tmp_path / "error.log").read_text(), True)
        assert "plaintext" in (tmp_path / "error.log").read_text()
        htpasswd(pw, "bob", "b", "-m")  # replaces bob's line with a hash
        assert settled(lambda: status(s.port, creds="bob:b"), 200)  # on every worker
        assert status(s.port, creds="alice:a") == 200
        os.unlink(pw)
        assert settled(lambda: status(s.port, creds="alice:a"), 500)
        missing = 'open() "%s" failed (2: No such file or directory)' % pw
        assert until(lambda: missing in (tmp_path / "error.log").read_text(), True)
        htpasswd(pw, "carol", "c", "-m", create=True)
        assert until(lambda: status(s.port, creds="carol:c"), 200) == 200
    finally:
        stop_ok(s)


def test_missing_at_start(tmp_path, docroot):
    pw = tmp_path / "later"
    s = start(tmp_path, docroot, "auth_basic x;\nauth_basic_user_file %s;" % pw)
    try:
        assert status(s.port, creds="alice:a") == 500
        assert status(s.port) == 500
        htpasswd(pw, "alice", "a", "-m", create=True)
        assert until(lambda: status(s.port, creds="alice:a"), 200) == 200
    finally:
        err = stop_ok(s)
    assert "requests there get 500" in err + (tmp_path / "error.log").read_text()


def test_satisfy_any_with_address_rules(tmp_path, docroot):
    pw = tmp_path / "users"
    htpasswd(pw, "alice", "a", "-m", create=True)
    s = start(tmp_path, docroot, """
  auth_basic x; auth_basic_user_file %s;
  location /lan/ { satisfy any; allow 127.0.0.1; deny all; alias %s/; }
  location /wan/ { satisfy any; allow 10.0.0.0/8; deny all; alias %s/; }
  location /both/ { satisfy all; deny 127.0.0.1; alias %s/; }
""" % (pw, docroot, docroot, docroot))
    try:
        assert status(s.port, "/lan/hello.txt") == 200  # the address is enough
        assert status(s.port, "/wan/hello.txt") == 401  # else the password
        assert status(s.port, "/wan/hello.txt", creds="alice:a") == 200
        assert status(s.port, "/both/hello.txt", creds="alice:a") == 403
    finally:
        stop_ok(s)


def test_config_errors(tmp_path, docroot):
    conf = tmp_path / "t.conf"
    conf.write_text("server {\n listen 127.0.0.1:0;\n root %s;\n auth_basic on_but_no_file;\n"
                    "}\n" % docroot)
    r = subprocess.run([BIN, "-c", str(conf), "-t"], capture_output=True, text=True)
    assert r.returncode != 0
    assert "t.conf:4:" in r.stderr and "auth_basic_user_file" in r.stderr, r.stderr
    conf.write_text("server {\n listen 127.0.0.1:0;\n root %s;\n auth_basic \"a\nb\";\n"
                    " auth_basic_user_file x;\n}\n" % docroot)
    r = subprocess.run([BIN, "-c", str(conf), "-t"], capture_output=True, text=True)
    assert r.returncode != 0 and "t.conf:4:" in r.stderr and "control" in r.stderr, r.stderr
    # off with no file is fine; a file alone asks for nothing
    conf.write_text("server {\n listen 127.0.0.1:0;\n root %s;\n auth_basic off;\n"
                    " location /a/ { auth_basic_user_file nowhere; }\n}\n" % docroot)
    r = subprocess.run([BIN, "-c", str(conf), "-t"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_flood_of_wrong_passwords(site):
    """Many connections, each pair new and wrong: they wait for their hash in the worker's line
    (401 each; 503 with Retry-After only past the line's length), while the good pair a
    worker remembers is answered throughout."""
    flood, legit, errors = [], [], []

    def flooder(i):
        try:
            for k in range(3):
                st, h, _ = request(site.port, creds="alice:wrong-%d-%d" % (i, k))
                flood.append(st)
                if st == 503:
                    assert h["retry-after"] == ["1"]
        except Exception as e:  # noqa: BLE001 (reported below)
            errors.append(repr(e))

    def legitimate():
        for _ in range(20):
            legit.append(status(site.port, creds="bob:b:o:b"))
    assert settled(lambda: status(site.port, creds="bob:b:o:b"), 200, n=4)
    ts = [threading.Thread(target=flooder, args=(i,)) for i in range(48)]
    ts.append(threading.Thread(target=legitimate))
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors, errors
    assert len(flood) == 48 * 3 and set(flood) <= {401, 503}, sorted(set(flood))
    assert legit == [200] * 20


def test_reload(tmp_path, docroot):
    """SIGHUP: a new realm, a new file and auth_basic lifted take effect; a reload whose file
    holds a plaintext password is refused and the old configuration goes on."""
    import re
    import signal
    pw1, pw2 = tmp_path / "one", tmp_path / "two"
    htpasswd(pw1, "alice", "a", "-m", create=True)
    htpasswd(pw2, "bob", "b", "-s", create=True)
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    s = start(tmp_path, docroot, 'auth_basic "One"; auth_basic_user_file %s;' % pw1, port=port)
    conf = tmp_path / "spate.conf"
    log = tmp_path / "error.log"

    def done():
        return len(re.findall(r"reloaded .*: configuration \d+ in force", log.read_text()))

    def reload(server):
        n = done()
        text = conf.read_text()
        text = text[:text.index("server {")] + ("server {\n  listen 127.0.0.1:%d;\n  root %s;\n"
                                                "%s\n}\n" % (port, docroot, server))
        tmp = tmp_path / "spate.conf.tmp"
        tmp.write_text(text)
        os.replace(tmp, conf)
        s.proc.send_signal(signal.SIGHUP)
        return n
    try:
        assert status(s.port, creds="alice:a") == 200
        n = reload('auth_basic "Two"; auth_basic_user_file %s;' % pw2)
        assert until(lambda: done() > n, True), log.read_text()
        assert settled(lambda: request(s.port)[1].get("www-authenticate"),
                       ['Basic realm="Two", charset="UTF-8"'])
        assert settled(lambda: status(s.port, creds="bob:b"), 200)
        assert status(s.port, creds="alice:a") == 401
        with open(pw1, "a") as f:
            f.write("carol:plain\n")
        reload('auth_basic "Three"; auth_basic_user_file %s;' % pw1)
        assert until(lambda: "%s:2:" % pw1 in log.read_text(), True)  # refused, logged
        assert status(s.port, creds="bob:b") == 200  # the old configuration goes on
        n = reload("auth_basic off;")
        assert until(lambda: done() > n, True), log.read_text()
        assert settled(lambda: status(s.port), 200)
    finally:
        stop_ok(s)
