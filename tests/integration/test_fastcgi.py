"""FastCGI (fastcgi_pass) against real application servers started here on private sockets:
php-fpm (a unix-socket pool and a TCP one, pm static) and fcgiwrap running shell CGI scripts.

A PHP page's CGI variables (SCRIPT_FILENAME, QUERY_STRING, REQUEST_METHOD, PATH_INFO from
fastcgi_split_path_info, nginx's fastcgi.conf included from examples/), a POSTed form, an
8 MiB upload, statuses and fields from header(), a Location redirect, a slow script with a
short fastcgi_read_timeout (504), keep-alive reuse (FCGI_KEEP_CONN: one connection for many
requests, counted with ss), php-fpm killed (502) and started again (200), a client that goes
away mid-answer, a server that dies mid-body (the client sees the body cut), STDERR in the
error log, and configuration errors with file:line.
"""
import hashlib
import http.client
import os
import shutil
import signal
import socket
import subprocess
import time

import pytest

from conftest import BIN, make_docroot, spate_conf

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("SPATE_SRC") or os.path.dirname(os.path.dirname(HERE))
PHP_DIR = os.path.join(HERE, "php")
FCGI_CONF = os.path.join(SRC, "examples", "fastcgi.conf")
FCGI_PARAMS = os.path.join(SRC, "examples", "fastcgi_params")

PHP_FPM = shutil.which("php-fpm8.2") or shutil.which("php-fpm")
FCGIWRAP = shutil.which("fcgiwrap")

pytestmark = pytest.mark.skipif(
    not PHP_FPM or not FCGIWRAP,
    reason="php-fpm8.2 and fcgiwrap are needed (tools/deps installs them)")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_listening(addr, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if isinstance(addr, str):
                s = socket.socket(socket.AF_UNIX)
                s.connect(addr)
            else:
                s = socket.create_connection(addr, timeout=1)
            s.close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nothing listens on %r" % (addr,))


class Fpm:
    """php-fpm in the foreground: a pool on a unix socket and one on a TCP port."""

    def __init__(self, d, children=2):
        self.dir = d
        self.sock = str(d / "fpm.sock")
        self.port = free_port()
        self.children = children
        self.proc = None

    def start(self):
        conf = self.dir / "fpm.conf"
        pool = ("pm = static\npm.max_children = %d\ncatch_workers_output = yes\n"
                "php_admin_value[post_max_size] = 64M\n"
                "php_admin_value[upload_max_filesize] = 64M\n"
                "php_admin_value[output_buffering] = 0\n" % self.children)
        conf.write_text("[global]\nerror_log = %s\ndaemonize = no\n"
                        "[unix]\nlisten = %s\n%s"
                        "[tcp]\nlisten = 127.0.0.1:%d\n%s"
                        % (self.dir / "fpm.log", self.sock, pool, self.port, pool))
        if os.path.exists(self.sock):
            os.unlink(self.sock)
        args = [PHP_FPM, "-n", "-F", "-y", str(conf)]
        if os.geteuid() == 0:
            args.insert(1, "-R")  # php-fpm refuses to run as root without it
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        wait_listening(self.sock)
        wait_listening(("127.0.0.1", self.port))
        return self

    def kill(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)  # the master and its children at once
            self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture(scope="module")
def fpm(tmp_path_factory):
    f = Fpm(tmp_path_factory.mktemp("fpm")).start()
    yield f
    f.stop()


@pytest.fixture(scope="module")
def fcgiwrap(tmp_path_factory):
    d = tmp_path_factory.mktemp("fcgiwrap")
    sock = str(d / "wrap.sock")
    p = subprocess.Popen([FCGIWRAP, "-c", "2", "-s", "unix:" + sock], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
    wait_listening(sock)
    yield sock
    os.killpg(p.pid, signal.SIGTERM)
    p.wait(timeout=10)


def site(tmp_path):
    root = make_docroot(tmp_path / "www")
    for name in os.listdir(PHP_DIR):
        src = os.path.join(PHP_DIR, name)
        if os.path.isfile(src):
            shutil.copy(src, root / name)
    shutil.copytree(os.path.join(PHP_DIR, "cgi"), root / "cgi")
    for name in os.listdir(root / "cgi"):
        os.chmod(root / "cgi" / name, 0o755)
    return root


def php_location(pass_to, extra=""):
    return ("location ~ [^/]\\.php(/|$) {\n"
            "  fastcgi_split_path_info ^(.+?\\.php)(/.*)$;\n"
            "  fastcgi_pass %s;\n"
            "  fastcgi_index index.php;\n"
            "  include %s;\n"
            "  fastcgi_param PATH_INFO $fastcgi_path_info;\n"
            "  %s\n"
            "}\n" % (pass_to, FCGI_CONF, extra))


def start(tmp_path, server, workers=1, main=""):
    root = site(tmp_path)
    return spate_conf(tmp_path, root, workers=workers,
                      main="user root;\nhttp { client_max_body_size 64m; }\n" + main,
                      server=server), root


def finish(s):
    rc, err = s.stop()
    assert rc == 0, err
    assert "AddressSanitizer" not in err and "runtime error" not in err, err
    return err


def get(s, path, method="GET", body=None, headers=None, timeout=20):
    c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=timeout)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r, data


def info(data):
    out = {}
    for line in data.decode().splitlines():
        k, _, v = line.partition("=")
        out[k] = v
    return out


@pytest.fixture
def php(tmp_path, fpm):
    s, root = start(tmp_path, php_location("unix:" + fpm.sock, "fastcgi_keep_conn on;"))
    s.root = root
    yield s
    finish(s)


def test_php_variables(php):
    r, data = get(php, "/info.php/extra/path?a=1&b=two",
                  headers={"X-Custom": "c1", "Proxy": "http://evil", "Cookie": "k=v"})
    assert r.status == 200, data
    assert r.getheader("Content-Type").startswith("text/html")
    v = info(data)
    assert v["SCRIPT_FILENAME"] == str(php.root / "info.php")
    assert v["SCRIPT_NAME"] == "/info.php"
    assert v["PATH_INFO"] == "/extra/path"
    assert v["QUERY_STRING"] == "a=1&b=two"
    assert v["REQUEST_METHOD"] == "GET"
    assert v["REQUEST_URI"] == "/info.php/extra/path?a=1&b=two"
    assert v["DOCUMENT_URI"] == "/info.php/extra/path"
    assert v["DOCUMENT_ROOT"] == str(php.root)
    assert v["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert v["SERVER_ADDR"] == "127.0.0.1"
    assert v["SERVER_PORT"] == str(php.port)
    assert v["GATEWAY_INTERFACE"] == "CGI/1.1"
    assert v["SERVER_SOFTWARE"].startswith("spate/")
    assert v["REMOTE_ADDR"] == "127.0.0.1"
    assert v["REQUEST_SCHEME"] == "http"
    assert v["HTTPS"] == "(unset)"  # if_not_empty: no TLS, no HTTPS at all
    assert v["REDIRECT_STATUS"] == "200"
    assert v["HTTP_HOST"] == "127.0.0.1:%d" % php.port
    assert v["HTTP_X_CUSTOM"] == "c1"
    assert v["HTTP_COOKIE"] == "k=v"
    assert v["HTTP_PROXY"] == "(unset)"  # httpoxy


def test_php_plain_uri_and_head(php):
    r, data = get(php, "/info.php")
    v = info(data)
    assert v["PATH_INFO"] == "" and v["SCRIPT_NAME"] == "/info.php"
    assert v["QUERY_STRING"] == ""
    r, data = get(php, "/info.php", method="HEAD")
    assert r.status == 200 and data == b""


def test_php_post_form(php):
    r, data = get(php, "/form.php", method="POST", body="name=spate&x=%C3%A9",
                  headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status == 200
    assert data.decode() == "method=POST\npost:name=spate\npost:x=\u00e9\n"


def test_php_large_upload(php):
    body = os.urandom(8 << 20)
    r, data = get(php, "/upload.php", method="POST", body=body,
                  headers={"Content-Type": "application/octet-stream"}, timeout=60)
    assert r.status == 200
    assert data.decode().split() == [str(len(body)), hashlib.md5(body).hexdigest()]


def test_php_chunked_upload_streams(php):
    # no Content-Length: the body streams as STDIN records as it comes (as nginx with
    # fastcgi_request_buffering off); PHP reads php://input to its end
    body = os.urandom(300000)
    s = php.connect(timeout=20)
    req = b"POST /upload.php HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n" \
          b"Content-Type: application/octet-stream\r\nConnection: close\r\n\r\n"
    for i in range(0, len(body), 70000):
        piece = body[i:i + 70000]
        req += b"%x\r\n" % len(piece) + piece + b"\r\n"
    s.sendall(req + b"0\r\n\r\n")
    out = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        out += d
    s.close()
    assert out.startswith(b"HTTP/1.1 200"), out[:200]
    assert hashlib.md5(body).hexdigest().encode() in out


def test_php_status_and_fields(php):
    r, data = get(php, "/status.php?code=201")
    assert r.status == 201
    assert r.getheader("X-From-Php") == "yes"
    cookies = [v for k, v in r.getheaders() if k.lower() == "set-cookie"]
    assert cookies == ["a=1", "b=2"]
    assert data == b"code 201\n"
    r, data = get(php, "/status.php?code=404")
    assert r.status == 404 and data == b"code 404\n"
    r, data = get(php, "/status.php?code=503")
    assert r.status == 503


def test_php_redirect(php):
    r, data = get(php, "/redirect.php")
    assert r.status == 302
    assert r.getheader("Location") == "http://example.com/elsewhere"


def test_php_content_length_and_stream(php):
    r, data = get(php, "/length.php")
    assert r.getheader("Content-Length") == "12" and data == b"hello world\n"
    r, data = get(php, "/stream.php?n=64")  # 4 MiB through the client queue, chunked
    assert r.status == 200 and r.getheader("Transfer-Encoding") == "chunked"
    assert data == b"0123456789abcdef" * 4096 * 64


def test_php_stderr_logged(php):
    r, data = get(php, "/stderr.php")
    assert data == b"ok\n"
    r, data = get(php, "/flood.php?n=500")
    assert data == b"flooded\n"
    err = finish(php)
    assert 'fastcgi stderr (script "/stderr.php"): PHP message: message from stderr.php' in err
    flood = [line for line in err.splitlines() if 'script "/flood.php"' in line]
    # PHP joins its messages with "; " into few long records: each is cut at 1000 bytes, and
    # one request writes at most 8 lines
    assert 0 < len(flood) <= 8 and all(len(line) < 1300 for line in flood), flood
    php.stop = lambda: (0, "")  # stopped already


def test_php_client_leaves_mid_answer(php):
    for _ in range(3):
        s = php.connect()
        s.sendall(b"GET /stream.php?n=400 HTTP/1.1\r\nHost: x\r\n\r\n")
        got = 0
        while got < 200000:
            got += len(s.recv(65536))
        s.close()  # 25 MiB not read: spate must stop reading php-fpm and close its connection
    r, data = get(php, "/hi.php")
    assert r.status == 200 and data == b"hi"


def test_php_pipelined(php):
    # three requests in one write: each answered in order, the FastCGI connection reused
    s = php.connect()
    s.sendall(b"GET /hi.php HTTP/1.1\r\nHost: x\r\n\r\n"
              b"GET /length.php HTTP/1.1\r\nHost: x\r\n\r\n"
              b"GET /hi.php HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    out = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        out += d
    s.close()
    assert out.count(b"HTTP/1.1 200 OK") == 3
    assert b"hello world\n" in out and out.endswith(b"2\r\nhi\r\n0\r\n\r\n")


def test_php_tcp(tmp_path, fpm):
    s, _ = start(tmp_path, php_location("127.0.0.1:%d" % fpm.port))
    try:
        r, data = get(s, "/info.php?q=tcp")
        assert r.status == 200 and info(data)["QUERY_STRING"] == "q=tcp"
    finally:
        finish(s)


def established(port):
    out = subprocess.run(["ss", "-Htn", "state", "established", "( dport = :%d )" % port],
                         capture_output=True, text=True, check=True).stdout
    return len([line for line in out.splitlines() if line.strip()])


def test_keep_conn_reuses_one_connection(tmp_path, fpm):
    s, _ = start(tmp_path, php_location("php", "fastcgi_keep_conn on;"),
                 main="upstream php { server 127.0.0.1:%d; keepalive 1; }\n" % fpm.port)
    try:
        assert established(fpm.port) == 0
        for i in range(40):
            r, data = get(s, "/hi.php")
            assert r.status == 200 and data == b"hi"
            assert established(fpm.port) == 1, "request %d opened another connection" % i
    finally:
        finish(s)
    assert established(fpm.port) == 0


def test_without_keepalive_each_request_its_own(tmp_path, fpm):
    # an address of its own keeps no idle connection (nginx: only an upstream's keepalive
    # does), even with fastcgi_keep_conn on
    s, _ = start(tmp_path, php_location("127.0.0.1:%d" % fpm.port, "fastcgi_keep_conn on;"))
    try:
        for _ in range(5):
            r, data = get(s, "/hi.php")
            assert r.status == 200 and data == b"hi"
        assert established(fpm.port) == 0  # each closed after its answer
    finally:
        finish(s)


def test_upstream_group_next_server_and_keepalive(tmp_path, fpm):
    # the first server is not there: its requests go to the next one (fastcgi_next_upstream
    # error), and the group's keepalive keeps the one connection to php-fpm's TCP pool
    s, _ = start(tmp_path, php_location("php", "fastcgi_keep_conn on;"),
                 main="upstream php { server unix:%s/none.sock; server 127.0.0.1:%d; "
                      "keepalive 4; }\n" % (tmp_path, fpm.port))
    try:
        for i in range(10):
            r, data = get(s, "/hi.php")
            assert r.status == 200 and data == b"hi", i
        assert established(fpm.port) == 1
    finally:
        finish(s)


def test_read_timeout_gives_504(tmp_path, fpm):
    s, _ = start(tmp_path, php_location("unix:" + fpm.sock, "fastcgi_read_timeout 500ms;"))
    try:
        r, data = get(s, "/slow.php?s=2")
        assert r.status == 504
        r, data = get(s, "/hi.php")
        assert r.status == 200
    finally:
        err = finish(s)
    assert "read timed out" in err


def test_server_down_gives_502(tmp_path):
    s, _ = start(tmp_path, php_location("unix:%s/nothing.sock" % tmp_path) +
                 "location /tcp/ { fastcgi_pass 127.0.0.1:%d; }\n" % free_port())
    try:
        r, _ = get(s, "/info.php")
        assert r.status == 502
        r, _ = get(s, "/tcp/x")
        assert r.status == 502
    finally:
        finish(s)


def own_fpm(tmp_path):
    d = tmp_path / "own-fpm"
    d.mkdir()
    return Fpm(d).start()


def test_fpm_killed_and_restarted(tmp_path):
    f = own_fpm(tmp_path)
    s, _ = start(tmp_path, php_location("unix:" + f.sock, "fastcgi_keep_conn on;"))
    try:
        r, data = get(s, "/hi.php")
        assert r.status == 200
        f.kill()
        r, data = get(s, "/hi.php")
        assert r.status == 502
        f.start()
        for _ in range(3):
            r, data = get(s, "/hi.php")
            assert r.status == 200 and data == b"hi"
    finally:
        f.stop()
        finish(s)


def test_fpm_dies_mid_body_cuts_the_answer(tmp_path):
    f = own_fpm(tmp_path)
    s, _ = start(tmp_path, php_location("unix:" + f.sock))
    try:
        c = s.connect(timeout=5)
        c.sendall(b"GET /stream.php?n=100&ms=100 HTTP/1.1\r\nHost: x\r\n\r\n")
        out = b""
        while len(out) < 100000:
            out += c.recv(65536)
        f.kill()
        try:
            while True:
                d = c.recv(65536)
                if not d:
                    break
                out += d
        except ConnectionResetError:
            pass  # the abort: what was queued, then a reset
        c.close()
        assert out.startswith(b"HTTP/1.1 200")
        assert b"Transfer-Encoding: chunked" in out
        assert not out.endswith(b"\r\n0\r\n\r\n"), "a broken answer must not end like a whole one"
    finally:
        f.stop()
        finish(s)


def test_fcgiwrap_shell_cgi(tmp_path, fcgiwrap, fpm):
    s, _ = start(tmp_path, "location /cgi/ {\n  fastcgi_pass unix:%s;\n  include %s;\n"
                 "  fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;\n}\n"
                 % (fcgiwrap, FCGI_PARAMS) + php_location("unix:" + fpm.sock))
    try:
        r, data = get(s, "/cgi/hello.sh?x=1")
        assert r.status == 200 and r.getheader("Content-Type") == "text/plain"
        assert data == b"hello from sh: GET x=1 /cgi/hello.sh\n"
        r, data = get(s, "/cgi/local.sh")  # a local redirect: the static file
        assert r.status == 200 and data == b"hello, world\n"
        r, data = get(s, "/cgi/tophp.sh")  # a local redirect to a FastCGI location
        assert r.status == 200 and data == b"hi"
        body = os.urandom(1 << 20)
        r, data = get(s, "/cgi/echo.sh", method="POST", body=body)
        assert r.status == 200 and data.split()[0] == hashlib.md5(body).hexdigest().encode()
        c = s.connect()
        c.sendall(b"GET /cgi/short.sh HTTP/1.1\r\nHost: x\r\n\r\n")
        out = b""
        while True:
            d = c.recv(65536)
            if not d:
                break
            out += d
        c.close()
        assert b"Content-Length: 1000" in out and out.endswith(b"\r\n\r\n0123456789")
    finally:
        finish(s)


def check(tmp_path, server):
    conf = tmp_path / "bad.conf"
    conf.write_text("server {\n  listen 127.0.0.1:0; root /tmp;\n%s\n}\n" % server)
    r = subprocess.run([BIN, "-t", "-c", str(conf)], capture_output=True, text=True, timeout=60)
    return r.returncode, r.stderr.strip()


def test_config_errors(tmp_path):
    rc, err = check(tmp_path, "location / { fastcgi_pass php_backend; }")
    assert rc != 0 and "bad.conf:3:" in err and "no upstream" in err, err
    rc, err = check(tmp_path, "location / { fastcgi_pass no.such.host.invalid:9000; }")
    assert rc != 0 and "bad.conf:3:" in err, err
    rc, err = check(tmp_path, "location / { fastcgi_pass unix:relative.sock; }")
    assert rc != 0 and "bad.conf:3:" in err and "absolute" in err, err
    rc, err = check(tmp_path, "location / { fastcgi_pass unix:/x.sock;\n"
                    "fastcgi_split_path_info ^(.+\\.php)$; }")
    assert rc != 0 and "bad.conf:4:" in err and "two captures" in err, err
    rc, err = check(tmp_path, "location / { fastcgi_pass unix:/x.sock;\n"
                    "fastcgi_param A $no_such_var; }")
    assert rc != 0 and "bad.conf:4:" in err, err
    rc, err = check(tmp_path, "location / { fastcgi_pass unix:/x.sock;\n"
                    "fastcgi_param A b if_empty; }")
    assert rc != 0 and "bad.conf:4:" in err and "if_not_empty" in err, err
    rc, err = check(tmp_path, "fastcgi_pass unix:/x.sock;")
    assert rc != 0 and "bad.conf:3:" in err, err
    rc, err = check(tmp_path, "location / { fastcgi_pass unix:/x.sock; include %s; }"
                    % FCGI_CONF)
    assert rc == 0, err
    rc, err = check(tmp_path, "location / { fastcgi_pass unix:/x.sock;\n"
                    "include /etc/nginx/fastcgi_params; }")
    assert rc == 0 or not os.path.exists("/etc/nginx/fastcgi_params"), err
