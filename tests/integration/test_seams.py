"""The seams, end to end: a handler streaming a body of unknown length (chunked for HTTP/1.1,
close-delimited for HTTP/1.0, with backpressure from a slow reader), configured fields
replacing generated ones, --print-config fed back to -t and to a start, -t running the checks
of a start, thread names, SIGUSR1, and the counters printed at exit."""
import http.client
import os
import re
import signal
import socket
import subprocess
import time

import pytest

from conftest import BIN, Spate, read_until_close, spate_conf

TEST_HANDLERS = os.environ.get("SPATE_TEST_HANDLERS", "0").lower() in ("1", "on", "true")
needs_test_handlers = pytest.mark.skipif(not TEST_HANDLERS,
                                         reason="spate built without SPATE_TEST_HANDLERS")


def pattern(n, start=0):
    return bytes((i % 251) for i in range(start, start + n))


def dechunk(data):
    out, i = b"", 0
    while True:
        j = data.index(b"\r\n", i)
        size = int(data[i:j].split(b";")[0], 16)
        i = j + 2
        if size == 0:
            assert data[i:i + 2] == b"\r\n", data[i:i + 20]
            return out, data[i + 2:]
        out += data[i:i + size]
        assert data[i + size:i + size + 2] == b"\r\n"
        i += size + 2


@needs_test_handlers
def test_stream_chunked_http11(tmp_path, docroot):
    s = spate_conf(tmp_path, docroot,
                   server="location /stream { test_stream 1m 16k 1ms; }\n"
                          "location /empty { test_stream 0; }")
    try:
        c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)
        c.request("GET", "/stream")
        r = c.getresponse()
        assert r.status == 200
        assert r.getheader("Transfer-Encoding") == "chunked"
        assert r.getheader("Content-Length") is None
        assert r.read() == pattern(1 << 20)
        # the connection stays usable after a chunked body
        c.request("GET", "/hello.txt")
        r = c.getresponse()
        assert r.status == 200 and r.read() == b"hello, world\n"
        c.request("GET", "/empty")
        r = c.getresponse()
        assert r.status == 200 and r.read() == b""
        c.close()
        out = subprocess.run(["curl", "-s", "--raw", s.url("/stream")], capture_output=True,
                             timeout=60).stdout
        body, rest = dechunk(out)
        assert body == pattern(1 << 20) and rest == b""
    finally:
        rc, err = s.stop()
    assert rc == 0, err


@needs_test_handlers
def test_stream_http10_head_and_pipeline(tmp_path, docroot):
    s = spate_conf(tmp_path, docroot, server="location /stream { test_stream 100k 4k; }")
    try:
        sock = s.connect()
        sock.sendall(b"GET /stream HTTP/1.0\r\n\r\n")
        data = read_until_close(sock)
        head, _, body = data.partition(b"\r\n\r\n")
        assert b"Transfer-Encoding" not in head and b"Content-Length" not in head
        assert b"Connection: close" in head
        assert body == pattern(100 << 10)  # close-delimited: the end of the body is the EOF
        sock.close()
        sock = s.connect()
        sock.sendall(b"HEAD /stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = read_until_close(sock)
        assert data.startswith(b"HTTP/1.1 200") and data.endswith(b"\r\n\r\n")
        assert b"Transfer-Encoding: chunked" in data
        sock.close()
        # a request pipelined behind a stream waits for it, then is answered in order
        sock = s.connect()
        sock.sendall(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n"
                     b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = read_until_close(sock)
        head, _, rest = data.partition(b"\r\n\r\n")
        body, rest = dechunk(rest)
        assert body == pattern(100 << 10)
        assert rest.startswith(b"HTTP/1.1 200") and rest.endswith(b"hello, world\n")
        sock.close()
    finally:
        rc, err = s.stop()
    assert rc == 0, err


def rss_kib(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


@needs_test_handlers
def test_stream_slow_reader_and_vanishing_client(tmp_path, docroot):
    s = spate_conf(tmp_path, docroot, server="location /big { test_stream 64m 64k; }")
    try:
        before = rss_kib(s.proc.pid)
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        sock.connect(("127.0.0.1", s.port))
        sock.settimeout(10)
        sock.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        got = 0
        for _ in range(40):  # a slow reader: backpressure, not buffering, in the server
            got += len(sock.recv(8192))
            time.sleep(0.01)
        grown = rss_kib(s.proc.pid) - before
        assert grown < 16 * 1024, "server grew by %d KiB for a slow stream" % grown
        sock.close()  # the client goes away mid-body
        time.sleep(0.3)
        c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
        c.request("GET", "/hello.txt")
        assert c.getresponse().read() == b"hello, world\n"
        c.close()
    finally:
        rc, err = s.stop()
    assert rc == 0, err
    assert "ERROR: AddressSanitizer" not in err


def test_configured_field_replaces_generated(tmp_path, docroot):
    s = spate_conf(tmp_path, docroot,
                   server="location / { add_header Content-Type text/x-spate; "
                          "add_header X-Frame-Options DENY always; }")
    try:
        for path, status in (("/hello.txt", 200), ("/nope", 404)):
            sock = s.connect()
            sock.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                         % path.encode())
            head = read_until_close(sock).partition(b"\r\n\r\n")[0].decode()
            sock.close()
            assert head.startswith("HTTP/1.1 %d" % status)
            types = re.findall(r"(?im)^content-type: (.*)$", head)
            assert len(types) == 1, head
            assert types[0].strip() == ("text/x-spate" if status == 200 else "text/html"), head
            assert "X-Frame-Options: DENY" in head  # always: on the 404 too
    finally:
        rc, err = s.stop()
    assert rc == 0, err


def test_print_config_round_trip_and_start(tmp_path, docroot):
    conf = tmp_path / "in.conf"
    conf.write_text("workers 1;\nlog_format edge escape=json '{\"s\":$status}';\n"
                    "access_log %s/access.log edge;\n"
                    "server {\n  listen 127.0.0.1:0;\n  root site;\n  allow_encoded_slashes on;\n"
                    "  location / { add_header X-A \"b c\"; expires 1h; }\n}\n" % tmp_path)
    os.symlink(str(docroot), str(tmp_path / "site"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # printed from another directory: paths must come out absolute
    once = subprocess.run([BIN, "-c", str(conf), "--print-config"], capture_output=True,
                          cwd=str(elsewhere), timeout=30)
    assert once.returncode == 0, once.stderr
    text = once.stdout.decode()
    for want in ("root %s/site;" % tmp_path, "add_header X-A \"b c\";",
                 "allow_encoded_slashes on;", "log_format edge escape=json",
                 "access_log %s/access.log edge;" % tmp_path):
        assert want in text, text
    printed = tmp_path / "printed.conf"
    printed.write_text(text)
    t = subprocess.run([BIN, "-t", "-c", str(printed)], capture_output=True, timeout=30)
    assert t.returncode == 0, t.stderr
    twice = subprocess.run([BIN, "-c", str(printed), "--print-config"], capture_output=True,
                           timeout=30)
    assert twice.stdout.decode().split("\n", 1)[1] == text.split("\n", 1)[1]
    s = Spate(["-c", str(printed)]).start()
    try:
        c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
        c.request("GET", "/hello.txt")
        r = c.getresponse()
        assert r.status == 200 and r.read() == b"hello, world\n"
        assert r.getheader("X-A") == "b c" and r.getheader("Cache-Control") == "max-age=3600"
        c.close()
    finally:
        rc, err = s.stop()
    assert rc == 0, err


def check(tmp_path, text):
    conf = tmp_path / "t.conf"
    conf.write_text(text)
    return subprocess.run([BIN, "-t", "-c", str(conf)], capture_output=True, timeout=30)


def test_t_runs_the_checks_of_a_start(tmp_path, docroot):
    base = "server {\n  listen 127.0.0.1:0;\n  root %s;\n" % docroot
    r = check(tmp_path, base + "  access_log %s/a.log fancy;\n}\n" % tmp_path)
    assert r.returncode == 1 and b't.conf:4: unknown log format "fancy"' in r.stderr, r.stderr
    r = check(tmp_path, "log_format x '$nosuchvar';\n" + base + "}\n")
    assert r.returncode == 1 and b"t.conf:1:" in r.stderr and b"nosuchvar" in r.stderr
    r = check(tmp_path, base + "  access_log /nonexistent/dir/a.log;\n}\n")
    assert r.returncode == 1 and b"t.conf:4: cannot open access log" in r.stderr
    r = check(tmp_path, "error_log /nonexistent/dir/e.log;\n" + base + "}\n")
    assert r.returncode == 1 and b"t.conf:1: cannot open error log" in r.stderr
    two = ("server {\n listen 127.0.0.1:9999 default_server;\n root %s;\n}\n"
           "server {\n listen 127.0.0.1:9999 default_server;\n root %s;\n}\n" % (docroot, docroot))
    r = check(tmp_path, two)
    assert r.returncode == 1 and b"t.conf:6: a duplicate default server for 127.0.0.1:9999" \
        in r.stderr, r.stderr
    names = ("server {\n listen 127.0.0.1:9999;\n server_name a.example;\n root %s;\n}\n"
             "server {\n listen 127.0.0.1:9999;\n server_name a.example;\n root %s;\n}\n"
             % (docroot, docroot))
    r = check(tmp_path, names)
    assert r.returncode == 0, r.stderr
    assert b't.conf:6: conflicting server name "a.example" on 127.0.0.1:9999' in r.stderr


def threads(pid):
    names = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
            names[f.read().strip()] = int(tid)
    return names


def test_threads_named_sigusr1_and_stats(tmp_path, docroot):
    log = tmp_path / "access.log"
    errlog = tmp_path / "error.log"
    s = Spate(["--root", str(docroot), "--listen", "127.0.0.1:0", "--workers", "2",
               "--access-log", str(log), "--error-log", str(errlog), "--stats-on-exit"]).start()
    try:
        names = threads(s.proc.pid)
        assert {"spate-w1", "spate-w2", "spate-log"} <= set(names), names
        c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
        for i in range(10):
            c.request("GET", "/hello.txt?i=%d" % i)
            assert c.getresponse().read() == b"hello, world\n"
        s.proc.send_signal(signal.SIGUSR1)  # reopen the logs: not fatal, no line lost
        time.sleep(0.5)
        assert s.proc.poll() is None
        for i in range(10, 15):
            c.request("GET", "/nope?i=%d" % i)
            c.getresponse().read()
        c.close()
    finally:
        rc, err = s.stop()
    assert rc == 0, err
    assert "reopening logs" in errlog.read_text()  # (binary upgrade: test_upgrade_drain.py)
    lines = log.read_text().splitlines()
    assert len(lines) == 15  # every request logged, across the signal
    total = re.search(r"spate: stats worker=total (.*)", err).group(1)
    stats = dict(kv.split("=") for kv in total.split())
    assert stats["requests"] == "15"
    assert stats["responses_2xx"] == "10" and stats["responses_4xx"] == "5"
    assert stats["log_lines"] == "15" and stats["log_dropped"] == "0"
    assert int(stats["accepted"]) >= 1 and stats["conns_open"] == "0"
    assert int(stats["bytes_out"]) > 15 * 100
    assert len(re.findall(r"spate: stats worker=\d ", err)) == 2


def ctxt_switches(pid, tid):
    with open("/proc/%d/task/%d/status" % (pid, tid)) as f:
        for line in f:
            if line.startswith("voluntary_ctxt_switches"):
                return int(line.split()[1])
    return 0


@pytest.mark.parametrize("logged", [False, True])
def test_log_writer_sleeps_when_idle(tmp_path, docroot, logged):
    args = ["--root", str(docroot), "--listen", "127.0.0.1:0", "--workers", "1"]
    if logged:
        args += ["--access-log", str(tmp_path / "access.log")]
    s = Spate(args).start()
    try:
        c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
        c.request("GET", "/hello.txt")
        c.getresponse().read()
        c.close()
        time.sleep(0.5)
        tid = threads(s.proc.pid)["spate-log"]
        before = ctxt_switches(s.proc.pid, tid)
        time.sleep(2)
        woke = ctxt_switches(s.proc.pid, tid) - before
        assert woke <= 2, "the log writer woke %d times in 2 s with nothing to do" % woke
    finally:
        rc, err = s.stop()
    assert rc == 0, err
    if logged:
        assert len((tmp_path / "access.log").read_text().splitlines()) == 1
