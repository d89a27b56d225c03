"""CGI (RFC 3875): real shell and Python scripts (tests/integration/cgi/) run by spate.

Every test runs with the default sandbox and seccomp filter. After each failure case the
script's process must be gone (no child of the spawner left, no zombie) and spate must hold
as many descriptors as before.
"""
import base64
import hashlib
import os
import shutil
import socket
import subprocess
import threading
import time

import pytest

from conftest import Spate, read_until_close, status_line

CGI_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cgi")


def start(tmp_path, docroot, loc="", main="", server="", workers=1):
    """spate with /cgi-bin/ aliased to the scripts (`cgi on`) and the error log in tmp_path."""
    log = tmp_path / "error.log"
    conf = tmp_path / "spate.conf"
    conf.write_text(
        "workers %d;\nuser root;\nerror_log %s info;\nclient_max_body_size 20m;\n%s\n"
        "server {\n  listen 127.0.0.1:0;\n  root %s;\n%s\n"
        "  location /cgi-bin/ { alias %s/; cgi on; cgi_param TEST_DIR %s; %s }\n}\n"
        % (workers, log, main, docroot, server, CGI_DIR, tmp_path, loc))
    s = Spate(["-c", str(conf)]).start()
    s.log = log
    return s


def stop(s):
    rc, err = s.stop()
    assert rc == 0, "spate exited %s: %s" % (rc, err)
    assert "AddressSanitizer" not in err and "runtime error" not in err, err


def proc_stat(pid):
    with open("/proc/%d/stat" % pid) as f:
        data = f.read()
    comm = data[data.index("(") + 1:data.rindex(")")]
    rest = data[data.rindex(")") + 2:].split()
    return comm, rest[0], int(rest[1])  # comm, state, ppid


def children(pid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                comm, state, ppid = proc_stat(int(d))
            except (OSError, ValueError):
                continue
            if ppid == pid:
                out.append((int(d), comm, state))
    return out


def spawner(s):
    kids = [p for p, comm, _ in children(s.proc.pid) if comm == "spate-cgi"]
    assert len(kids) == 1, children(s.proc.pid)
    return kids[0]


def snapshot(s):
    """(spate's descriptors, the spawner's children, zombies under spate)."""
    sp = spawner(s)
    fds = 0
    for fd in os.listdir("/proc/%d/fd" % s.proc.pid):
        try:
            # the helper threads' rings come with the first path walk: not the scripts'
            fds += os.readlink("/proc/%d/fd/%s" % (s.proc.pid, fd)) != "anon_inode:[io_uring]"
        except OSError:
            pass
    scripts = children(sp)
    zombies = [k for k in children(s.proc.pid) + scripts if k[2] == "Z"]
    return fds, scripts, zombies


def settled(s, before, wait=15.0):
    """Waits until no script runs and spate holds before's descriptors; asserts it."""
    deadline = time.monotonic() + wait
    while True:
        now = snapshot(s)
        if now[0] == before[0] and not now[1] and not now[2]:
            return
        if time.monotonic() > deadline:
            assert now[1] == [], "scripts left: %s" % (now[1],)
            assert now[2] == [], "zombies: %s" % (now[2],)
            assert now[0] == before[0], "descriptors: %d before, %d after" % (before[0], now[0])
        time.sleep(0.05)


def request(s, data, timeout=30):
    c = s.connect(timeout=timeout)
    c.sendall(data)
    out = read_until_close(c)
    c.close()
    return out


def get(s, path, headers="", method="GET"):
    return request(s, ("%s %s HTTP/1.1\r\nHost: t\r\n%sConnection: close\r\n\r\n"
                       % (method, path, headers)).encode())


def parse(resp):
    head, _, body = resp.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    fields = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        fields[k.strip().lower()] = v.strip()
    if fields.get("transfer-encoding") == "chunked" and body:
        out, rest = b"", body
        while True:
            size, _, rest = rest.partition(b"\r\n")
            n = int(size, 16)
            if n == 0:
                break
            out, rest = out + rest[:n], rest[n + 2:]
        body = out
    return int(lines[0].split()[1]), fields, body


def env_of(body):
    return dict(line.split("=", 1) for line in body.decode().splitlines() if "=" in line)


def log_text(s):
    return s.log.read_text() if s.log.exists() else ""


def wait_log(s, needle, wait=10.0):
    deadline = time.monotonic() + wait
    while needle not in log_text(s) and time.monotonic() < deadline:
        time.sleep(0.05)
    return needle in log_text(s)


@pytest.fixture
def srv(tmp_path, docroot):
    s = start(tmp_path, docroot, loc="cgi_timeout 2s;")
    yield s
    stop(s)


# ---------------------------------------------------------------- the environment


def test_meta_variables(srv):
    st, f, body = parse(get(srv, "/cgi-bin/env.sh/extra/p%20q?a=1&b=%41",
                            "X-Custom: v1\r\nX-Custom: v2\r\nProxy: http://evil:1/\r\n"
                            "X_Under: no\r\nContent-Type: text/x-test\r\n"))
    assert st == 200 and f["content-type"] == "text/plain"
    e = env_of(body)
    assert e["GATEWAY_INTERFACE"] == "CGI/1.1"
    assert e["REQUEST_METHOD"] == "GET"
    assert e["QUERY_STRING"] == "a=1&b=%41"
    assert e["SCRIPT_NAME"] == "/cgi-bin/env.sh"
    assert e["PATH_INFO"] == "/extra/p q"
    assert e["PATH_TRANSLATED"].endswith("/www/extra/p q")
    assert e["SCRIPT_FILENAME"] == os.path.join(CGI_DIR, "env.sh")
    assert e["REQUEST_URI"] == "/cgi-bin/env.sh/extra/p%20q?a=1&b=%41"
    assert e["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert e["SERVER_PORT"] == str(srv.port)
    assert e["SERVER_NAME"] == "t"
    assert e["SERVER_SOFTWARE"].startswith("spate/")
    assert e["REMOTE_ADDR"] == "127.0.0.1" and int(e["REMOTE_PORT"]) > 0
    assert e["REDIRECT_STATUS"] == "200" and e["REQUEST_SCHEME"] == "http"
    assert e["DOCUMENT_ROOT"] == CGI_DIR
    assert e["PATH"] == "/usr/local/bin:/usr/bin:/bin"
    assert e["CONTENT_TYPE"] == "text/x-test"
    assert e["HTTP_X_CUSTOM"] == "v1, v2"
    assert e["HTTP_HOST"] == "t"
    assert e["TEST_DIR"]  # cgi_param
    assert "HTTP_PROXY" not in e  # httpoxy
    assert "HTTP_X_UNDER" not in e and "HTTP_CONTENT_TYPE" not in e
    assert "CONTENT_LENGTH" not in e and "REMOTE_USER" not in e and "PATH_INFO" in e
    # nothing of spate's own environment leaks in
    assert "HOME" not in e and "ASAN_OPTIONS" not in e


def test_no_path_info_and_post_length(srv):
    st, _, body = parse(request(srv, b"POST /cgi-bin/env.sh HTTP/1.1\r\nHost: t\r\n"
                                     b"Content-Length: 3\r\nConnection: close\r\n\r\nabc"))
    e = env_of(body)
    assert st == 200 and e["REQUEST_METHOD"] == "POST" and e["CONTENT_LENGTH"] == "3"
    assert "PATH_INFO" not in e and "PATH_TRANSLATED" not in e and e["QUERY_STRING"] == ""


def test_argv_cwd_and_descriptors(srv):
    st, _, body = parse(get(srv, "/cgi-bin/args.py"))
    assert st == 200
    lines = dict(line.split("=", 1) for line in body.decode().splitlines())
    assert lines["argv"] == repr([os.path.join(CGI_DIR, "args.py")])
    assert lines["cwd"] == CGI_DIR
    fds = eval(lines["fds"])  # the listing's own descriptor is the one past 2
    assert fds[:3] == [0, 1, 2] and len(fds) == 4, fds


def test_remote_user(tmp_path, docroot):
    pw = tmp_path / "htpasswd"
    pw.write_text("alice:{SHA}%s\n" % base64.b64encode(hashlib.sha1(b"secret").digest()).decode())
    s = start(tmp_path, docroot, loc='auth_basic "x"; auth_basic_user_file %s;' % pw)
    try:
        st, _, body = parse(get(s, "/cgi-bin/env.sh", "Authorization: Basic YWxpY2U6c2VjcmV0\r\n"))
        e = env_of(body)
        assert st == 200 and e["REMOTE_USER"] == "alice" and e["AUTH_TYPE"] == "Basic"
        assert "HTTP_AUTHORIZATION" not in e
    finally:
        stop(s)


# ---------------------------------------------------------------- bodies


def test_post_body_checksum(srv):
    data = os.urandom(5 << 20)
    st, f, body = parse(request(srv, b"POST /cgi-bin/echo.py HTTP/1.1\r\nHost: t\r\n"
                                     b"Content-Length: %d\r\nConnection: close\r\n\r\n"
                                % len(data) + data))
    assert st == 200 and f["x-length"] == str(len(data))
    assert body.decode().strip() == hashlib.sha256(data).hexdigest()


def test_chunked_body(srv):
    data = os.urandom(300000)
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(data[i:i + 7000]), data[i:i + 7000])
                      for i in range(0, len(data), 7000))
    st, f, body = parse(request(srv, b"POST /cgi-bin/echo.py HTTP/1.1\r\nHost: t\r\n"
                                     b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                                + chunks + b"0\r\n\r\n"))
    assert st == 200 and f["x-length"] == str(len(data))
    assert body.decode().strip() == hashlib.sha256(data).hexdigest()


def test_expect_100_continue(srv):
    data = b"x" * 100000
    c = srv.connect(timeout=30)
    c.sendall(b"POST /cgi-bin/echo.py HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
              b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(data))
    interim = c.recv(4096)
    assert interim.startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
    c.sendall(data)
    rest = interim[len(b"HTTP/1.1 100 Continue\r\n\r\n"):] + read_until_close(c)
    c.close()
    st, _, body = parse(rest)
    assert st == 200 and body.decode().strip() == hashlib.sha256(data).hexdigest()


def test_script_not_reading_large_body(srv):
    before = snapshot(srv)
    data = os.urandom(5 << 20)
    c = srv.connect(timeout=30)
    c.sendall(b"POST /cgi-bin/noread.sh HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n"
              b"Connection: close\r\n\r\n" % len(data))
    try:
        c.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        pass
    st, _, body = parse(read_until_close(c))
    c.close()
    assert st == 200 and body == b"not reading\n"
    settled(srv, before)


# ---------------------------------------------------------------- responses


def test_head_request(srv):
    resp = get(srv, "/cgi-bin/env.sh", method="HEAD")
    st, f, body = parse(resp)
    assert st == 200 and f["content-type"] == "text/plain" and body == b""


def test_status_from_script(srv):
    st, f, body = parse(get(srv, "/cgi-bin/status404.sh"))
    assert st == 404 and f["x-script"] == "yes" and body == b"no such thing\n"


def test_content_length_from_script(srv):
    st, f, body = parse(get(srv, "/cgi-bin/length.sh"))
    assert st == 200 and f.get("content-length") == "6" and "transfer-encoding" not in f
    assert body == b"hello\n"


def test_local_redirect(srv):
    st, _, body = parse(get(srv, "/cgi-bin/redirect_local.sh"))
    assert st == 200 and body == b"hello, world\n"


def test_client_redirect(srv):
    st, f, _ = parse(get(srv, "/cgi-bin/redirect_client.sh"))
    assert st == 302 and f["location"] == "http://example.com/elsewhere"


def test_missing_and_not_executable(srv):
    assert parse(get(srv, "/cgi-bin/nosuch.sh"))[0] == 404
    assert parse(get(srv, "/cgi-bin/nosuch.sh/more"))[0] == 404
    assert parse(get(srv, "/cgi-bin/noexec.sh"))[0] == 403
    assert parse(get(srv, "/cgi-bin/"))[0] == 403  # a directory is no script


def test_keepalive_after_cgi(srv):
    c = srv.connect(timeout=30)
    c.sendall(b"GET /cgi-bin/length.sh HTTP/1.1\r\nHost: t\r\n\r\n"
              b"GET /cgi-bin/length.sh HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    out = read_until_close(c)
    c.close()
    assert out.count(b"HTTP/1.1 200 OK") == 2 and out.count(b"hello\n") == 2


# ---------------------------------------------------------------- failures


@pytest.mark.parametrize("script,status,logged", [
    ("crash.sh", 502, "killed by signal 11"),
    ("silent.sh", 502, "premature end of script headers: exited with status 0"),
    ("stderr.sh", 502, "cgi-test-complaint: something broke"),
    ("malformed.sh", 502, "malformed header from script"),
    ("flood_head.sh", 502, "header from script too long"),
])
def test_broken_scripts(srv, script, status, logged):
    before = snapshot(srv)
    st, _, _ = parse(get(srv, "/cgi-bin/" + script))
    assert st == status
    assert wait_log(srv, logged), log_text(srv)
    assert script in log_text(srv)
    settled(srv, before)


@pytest.mark.parametrize("script", ["hang.sh", "hang_term.sh"])
def test_timeout_kills_and_reaps(srv, script):
    before = snapshot(srv)
    st, _, _ = parse(get(srv, "/cgi-bin/" + script))
    assert st == 504
    assert wait_log(srv, "cgi_timeout"), log_text(srv)
    settled(srv, before)


def test_max_output_cuts(tmp_path, docroot):
    s = start(tmp_path, docroot, loc="cgi_max_output 1m;")
    try:
        before = snapshot(s)
        c = s.connect(timeout=30)
        c.sendall(b"GET /cgi-bin/flood.sh HTTP/1.1\r\nHost: t\r\n\r\n")
        out = read_until_close(c)
        c.close()
        assert status_line(out) == b"HTTP/1.1 200 OK"
        assert 100000 < len(out) < (1 << 20) + 65536
        assert wait_log(s, "cgi_max_output"), log_text(s)
        settled(s, before)
        # past the limit before the head is complete: 502
        assert parse(get(s, "/cgi-bin/flood_head.sh"))[0] == 502
        settled(s, before)
    finally:
        stop(s)


def test_client_goes_away_mid_response(srv):
    before = snapshot(srv)
    c = srv.connect(timeout=30)
    c.sendall(b"GET /cgi-bin/flood.sh HTTP/1.1\r\nHost: t\r\n\r\n")
    got = b""
    while len(got) < 200000:
        got += c.recv(65536)
    c.close()
    settled(srv, before)


def test_client_goes_away_before_head(srv):
    """A client that closes before the script's head: the script is killed and reaped."""
    before = snapshot(srv)
    c = srv.connect(timeout=30)
    c.sendall(b"GET /cgi-bin/hang.sh HTTP/1.1\r\nHost: t\r\n\r\n")
    deadline = time.monotonic() + 10
    while not snapshot(srv)[1] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert snapshot(srv)[1], "the script never ran"
    c.close()
    settled(srv, before)


def test_client_close_seen_before_cgi_timeout(tmp_path, docroot):
    """The client's close is seen while the answer waits for the script (as nginx sees it),
    not at cgi_timeout: with 60s of it, the script is gone within seconds."""
    s = start(tmp_path, docroot, loc="cgi_timeout 60s;")
    try:
        before = snapshot(s)
        c = s.connect(timeout=30)
        c.sendall(b"GET /cgi-bin/hang.sh HTTP/1.1\r\nHost: t\r\n\r\n")
        deadline = time.monotonic() + 10
        while not snapshot(s)[1] and time.monotonic() < deadline:
            time.sleep(0.02)
        assert snapshot(s)[1], "the script never ran"
        c.close()
        settled(s, before, wait=8.0)  # SIGTERM at once, SIGKILL 2s later at the most
        # a client that half-closes after a complete request is still answered
        c = s.connect(timeout=30)
        c.sendall(b"GET /cgi-bin/length.sh HTTP/1.1\r\nHost: t\r\n\r\n"
                  b"GET /cgi-bin/length.sh HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        c.shutdown(socket.SHUT_WR)
        out = read_until_close(c)
        c.close()
        assert out.count(b"HTTP/1.1 200 ") == 2, out[:300]
    finally:
        stop(s)


def test_straggler_killed(srv):
    before = snapshot(srv)
    st, _, body = parse(get(srv, "/cgi-bin/straggler.sh"))
    assert st == 200 and body == b"left one behind\n"
    settled(srv, before)


def test_concurrency_limit(tmp_path, docroot):
    s = start(tmp_path, docroot, loc="cgi_limit 2; cgi_timeout 2s;")
    try:
        before = snapshot(s)
        conns = []
        for _ in range(2):
            c = s.connect(timeout=30)
            c.sendall(b"GET /cgi-bin/started.sh HTTP/1.1\r\nHost: t\r\n\r\n")
            conns.append(c)
        deadline = time.monotonic() + 10
        while (len([f for f in os.listdir(tmp_path) if f.startswith("started.")]) < 2
               and time.monotonic() < deadline):
            time.sleep(0.02)
        assert parse(get(s, "/cgi-bin/length.sh"))[0] == 503
        assert wait_log(s, "cgi_limit")
        for c in conns:
            c.close()
        settled(s, before)
        assert parse(get(s, "/cgi-bin/length.sh"))[0] == 200
    finally:
        stop(s)


def test_many_in_parallel(tmp_path, docroot):
    s = start(tmp_path, docroot, workers=2)
    try:
        before = snapshot(s)
        results = []

        def one(i):
            data = os.urandom(20000 + i)
            st, f, body = parse(request(s, b"POST /cgi-bin/echo.py?%d HTTP/1.1\r\nHost: t\r\n"
                                           b"Content-Length: %d\r\nConnection: close\r\n\r\n"
                                        % (i, len(data)) + data))
            results.append(st == 200 and body.decode().strip() == hashlib.sha256(data).hexdigest())

        threads = [threading.Thread(target=one, args=(i,)) for i in range(24)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results == [True] * 24
        settled(s, before)
    finally:
        stop(s)


# ---------------------------------------------------------------- cgi_extension


def test_extension_runs_matching_serves_others(tmp_path, docroot):
    (docroot / "app").mkdir()
    script = docroot / "app" / "run.cgi"
    script.write_text("#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nran %s\\n' \"$PATH_INFO\"\n")
    script.chmod(0o755)
    (docroot / "app" / "page.txt").write_text("static page\n")
    s = start(tmp_path, docroot,
              server="  location /app/ { cgi_extension .cgi .py; index index.html run.cgi; }")
    try:
        st, _, body = parse(get(s, "/app/run.cgi/tail"))
        assert st == 200 and body == b"ran /tail\n"
        st, f, body = parse(get(s, "/app/page.txt"))
        assert st == 200 and body == b"static page\n" and f["content-type"].startswith("text/")
        assert parse(get(s, "/app/page.txt", method="DELETE"))[0] == 405
        assert parse(get(s, "/app/missing.cgi"))[0] == 404
        # the directory's index may be a script
        st, _, body = parse(get(s, "/app/"))
        assert st == 200 and body == b"ran \n"
    finally:
        stop(s)


# ---------------------------------------------------------------- configuration


@pytest.mark.parametrize("text,message", [
    ("location /x/ { cgi_extension cgi; }", "an ending such as .cgi"),
    ("location /x/ { cgi on; cgi_timeout 0; }", "cgi_timeout"),
    ("location /x/ { cgi on; cgi_limit 0; }", "cgi_limit"),
    ("location /x/ { cgi_param 1BAD x; cgi on; }", "cgi_param \"1BAD\""),
    ("location /x/ { cgi_param A $nosuchvar; cgi on; }", "nosuchvar"),
    ("location /x/ { cgi on; return 200; test_stream 1k; }", "already has a handler"),
    ("location /x/ { cgi on; %s }" % " ".join("cgi_param P%d x;" % i for i in range(65)),
     "at most 64"),
    ("location /x/ { cgi on; cgi_param A 1; cgi_param A 2; }", "given twice"),
])
def test_config_errors(tmp_path, text, message):
    conf = tmp_path / "bad.conf"
    conf.write_text("server {\n  listen 127.0.0.1:0;\n  root %s;\n  %s\n}\n" % (tmp_path, text))
    r = subprocess.run([os.environ.get("SPATE_BIN", "spate"), "-t", "-c", str(conf)],
                       capture_output=True, text=True)
    assert r.returncode != 0
    assert "bad.conf:4:" in r.stderr and message in r.stderr, r.stderr


def test_print_config_round_trip(tmp_path):
    conf = tmp_path / "c.conf"
    conf.write_text("server {\n  listen 127.0.0.1:0;\n  root %s;\n  location /c/ { cgi on; "
                    "cgi_timeout 5s; cgi_limit 3; cgi_max_output 1m; cgi_rlimit_cpu 10s; "
                    "cgi_rlimit_as 1g; cgi_rlimit_nofile 64; cgi_param SITE $host; }\n"
                    "  location /d/ { cgi_extension .cgi .pl; }\n}\n" % tmp_path)
    out = subprocess.run([os.environ.get("SPATE_BIN", "spate"), "--print-config", "-c",
                          str(conf)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    for piece in ["cgi on;", "cgi_timeout 5s;", "cgi_limit 3;", "cgi_max_output 1m;",
                  "cgi_rlimit_cpu 10s;", "cgi_rlimit_as 1g;", "cgi_rlimit_nofile 64;",
                  "cgi_param SITE $host;", "cgi_extension .cgi .pl;"]:
        assert piece in out.stdout, out.stdout


# ---------------------------------------------------------------- limits and the spawner


def test_rlimits(tmp_path, docroot):
    s = start(tmp_path, docroot, loc="cgi_rlimit_cpu 1s; cgi_rlimit_nofile 37; cgi_timeout 20s;")
    try:
        before = snapshot(s)
        st, _, body = parse(get(s, "/cgi-bin/limits.sh"))
        assert st == 200 and b"nofile=37\n" in body and b"cpu=1\n" in body
        assert parse(get(s, "/cgi-bin/cpu.sh"))[0] == 502  # SIGXCPU before any head
        assert wait_log(s, "killed by signal"), log_text(s)
        settled(s, before)
    finally:
        stop(s)


def test_stderr_lines_are_bounded(srv):
    st, _, body = parse(get(srv, "/cgi-bin/chatty.sh"))
    assert st == 200 and body == b"done\n"
    assert wait_log(srv, "200 more lines on stderr were not logged"), log_text(srv)
    text = log_text(srv)
    assert "chatty line 0" in text and "chatty line 99" in text and "chatty line 100" not in text


def test_http10_close_delimited(srv):
    resp = request(srv, b"GET /cgi-bin/env.sh HTTP/1.0\r\nHost: t\r\n\r\n")
    head, _, body = resp.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"chunked" not in head.lower()
    assert b"GATEWAY_INTERFACE=CGI/1.1" in body and b"SERVER_PROTOCOL=HTTP/1.0" in body


def test_spawner_gone(srv):
    sp = spawner(srv)
    os.kill(sp, 9)
    deadline = time.monotonic() + 10
    while proc_stat(sp)[1] != "Z" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert parse(get(srv, "/cgi-bin/env.sh"))[0] == 502
    assert wait_log(srv, "spawner process"), log_text(srv)
    # static files are still served
    assert parse(get(srv, "/hello.txt"))[0] == 200


def test_local_redirect_to_a_script(srv):
    before = snapshot(srv)
    st, _, body = parse(request(srv, b"POST /cgi-bin/redirect_script.sh HTTP/1.1\r\nHost: t\r\n"
                                     b"Content-Length: 0\r\nConnection: close\r\n\r\n"))
    e = env_of(body)
    assert st == 200 and e["SCRIPT_NAME"] == "/cgi-bin/env.sh" and e["PATH_INFO"] == "/x"
    assert e["REQUEST_METHOD"] == "GET" and e["QUERY_STRING"] == "q=1"
    settled(srv, before)


def test_output_after_a_redirect_is_bounded(srv):
    before = snapshot(srv)
    st, _, body = parse(get(srv, "/cgi-bin/redirect_flood.sh"))
    assert st == 200 and body == b"hello, world\n"
    settled(srv, before)


def test_cgi_param_variables_and_replacing(tmp_path, docroot):
    s = start(tmp_path, docroot, loc="cgi_param SERVER_NAME canonical.example; "
                                     "cgi_param FROM_URI \"$uri|$arg_x\";")
    try:
        st, _, body = parse(get(s, "/cgi-bin/env.sh/more?x=7"))
        e = env_of(body)
        assert st == 200 and e["SERVER_NAME"] == "canonical.example"
        assert e["FROM_URI"] == "/cgi-bin/env.sh/more|7"
        assert e["TEST_DIR"] == str(tmp_path)
    finally:
        stop(s)


def test_no_spawner_without_cgi_and_a_reload_adding_one(tmp_path, docroot):
    conf = tmp_path / "spate.conf"
    log = tmp_path / "error.log"
    base = ("workers 1;\nuser root;\nerror_log %s info;\nserver {\n  listen 127.0.0.1:0;\n"
            "  root %s;\n%s}\n")
    conf.write_text(base % (log, docroot, ""))
    s = Spate(["-c", str(conf)]).start()
    s.log = log
    try:
        assert [k for k in children(s.proc.pid) if k[1] == "spate-cgi"] == []
        # a script beneath the root (the sandbox allows no new directory on a reload)
        (docroot / "cgi-bin").mkdir()
        shutil.copy2(os.path.join(CGI_DIR, "env.sh"), str(docroot / "cgi-bin" / "env.sh"))
        conf.write_text(base % (log, docroot, "  location /cgi-bin/ { cgi on; }\n"))
        s.proc.send_signal(1)  # SIGHUP: reload
        assert wait_log(s, "configuration 2 in force"), log_text(s)
        assert parse(get(s, "/cgi-bin/env.sh"))[0] == 502
        assert wait_log(s, "no spawner process"), log_text(s)
    finally:
        stop(s)
