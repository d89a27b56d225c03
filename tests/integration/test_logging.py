"""Transaction logging: one line per transaction, every format, nothing lost under a slow
sink, across rotation and at shutdown, and no hostile request can forge or split a line."""
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time

import pytest

from conftest import BIN, Spate, raw, spate_conf, read_until_close

LOADGEN = os.environ.get("SPATE_LOADGEN") or os.path.join(
    os.path.dirname(BIN), "tests", "loadgen")

CLF = re.compile(r'^(\S+) (\S+) (\S+) \[(\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4})\] '
                 r'"((?:[^"\\]|\\x[0-9A-F]{2})*)" (\d{3}) (\d+)$')
COMBINED = re.compile(CLF.pattern[:-1] + r' "((?:[^"\\]|\\x[0-9A-F]{2})*)" '
                      r'"((?:[^"\\]|\\x[0-9A-F]{2})*)"$')


def loadgen(port, conns, total, depth=8, path="/hello.txt"):
    r = subprocess.run([LOADGEN, str(port), str(conns), str(total), str(depth), path],
                       capture_output=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout.decode()


def lines_of(path):
    with open(path, "rb") as f:
        data = f.read()
    assert data == b"" or data.endswith(b"\n")
    return data.decode("ascii").splitlines()


def ids_of(lines):
    out = []
    for line in lines:
        m = re.search(r"\?id=(\d+) ", line)
        assert m, line
        out.append(int(m.group(1)))
    return out


def test_one_million_requests_one_million_lines(tmp_path, docroot):
    log = tmp_path / "access.log"
    s = spate_conf(tmp_path, docroot, workers=2, main="access_log %s common;" % log)
    try:
        out = loadgen(s.port, 200, 1000000)
        assert "responses 1000000 status2xx 1000000" in out
    finally:
        rc, err = s.stop()
    assert rc == 0, err
    lines = lines_of(log)
    assert len(lines) == 1000000
    for line in lines[::997]:
        m = CLF.match(line)
        assert m, line
        assert m.group(6) == "200" and m.group(7) == "13"
    ids = ids_of(lines)
    assert len(set(ids)) == 1000000 and min(ids) == 0 and max(ids) == 999999


def test_formats(tmp_path, docroot):
    logs = {n: tmp_path / ("%s.log" % n) for n in ["common", "combined", "json", "custom"]}
    conf = tmp_path / "f.conf"
    conf.write_text(
        "workers 1;\n"
        "log_format custom '$remote_addr:$remote_port $request_method $uri $args $status "
        "$body_bytes_sent/$bytes_sent us=$request_time_us w=$worker_id c=$connection "
        "n=$connection_requests utc=$time_utc iso=$time_iso8601 fwd=$http_x_forwarded_for "
        "host=$host';\n"
        "server { listen 127.0.0.1:0; server_name common.test; root %s; access_log %s; }\n"
        "server { listen 127.0.0.1:0; server_name combined.test; root %s; access_log %s combined; }\n"
        "server { listen 127.0.0.1:0; server_name json.test; root %s; access_log %s json; }\n"
        "server { listen 127.0.0.1:0; server_name custom.test; root %s; access_log %s custom; }\n"
        % (docroot, logs["common"], docroot, logs["combined"], docroot, logs["json"],
           docroot, logs["custom"]))
    s = Spate(["-c", str(conf)]).start()  # one address (port 0), four virtual hosts
    try:
        for host in ["common", "combined", "json", "custom"]:
            raw(s, b"GET /hello.txt?x=1 HTTP/1.1\r\nHost: %s.test\r\nReferer: http://r/\r\n"
                   b"User-Agent: ua/1\r\nX-Forwarded-For: 10.0.0.9\r\n\r\n"
                   b"HEAD /nope HTTP/1.1\r\nHost: %s.test\r\nConnection: close\r\n\r\n"
                % (host.encode(), host.encode()), shut=False)
    finally:
        rc, err = s.stop()
    assert rc == 0, err
    c = lines_of(logs["common"])
    assert len(c) == 2
    m = CLF.match(c[0])
    assert m and m.group(1) == "127.0.0.1" and m.group(2) == "-" and m.group(3) == "-"
    assert m.group(5) == "GET /hello.txt?x=1 HTTP/1.1" and m.group(6) == "200"
    assert m.group(7) == "13"
    m = CLF.match(c[1])
    assert m.group(6) == "404" and m.group(7) == "0"  # HEAD: no body bytes
    cb = lines_of(logs["combined"])
    m = COMBINED.match(cb[0])
    assert m and m.group(8) == "http://r/" and m.group(9) == "ua/1"
    js = [json.loads(x) for x in lines_of(logs["json"])]
    assert js[0]["status"] == 200 and js[0]["method"] == "GET" and js[0]["path"] == "/hello.txt"
    assert js[0]["query"] == "x=1" and js[0]["host"] == "json.test"
    assert js[0]["referer"] == "http://r/" and js[0]["user_agent"] == "ua/1"
    assert js[0]["body_bytes_sent"] == 13 and js[0]["bytes_sent"] > 13
    assert js[0]["remote_addr"] == "127.0.0.1" and js[0]["remote_port"] > 0
    assert js[0]["connection_requests"] == 1 and js[1]["connection_requests"] == 2
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", js[0]["time"])
    assert js[1]["status"] == 404
    cu = lines_of(logs["custom"])
    m = re.match(r"^127\.0\.0\.1:(\d+) GET /hello\.txt x=1 200 13/(\d+) us=(\d+) w=1 c=(\d+) "
                 r"n=1 utc=(\S+Z) iso=(\S+) fwd=10\.0\.0\.9 host=custom\.test$", cu[0])
    assert m, cu[0]
    assert int(m.group(2)) > 13 and int(m.group(3)) < 10000000
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$", m.group(6))


def test_errors_and_timeouts_are_logged(tmp_path, docroot):
    log = tmp_path / "a.log"
    s = spate_conf(tmp_path, docroot, main="access_log %s json;\nclient_header_timeout 1s;" % log)
    try:
        raw(s, b"GET / HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n")             # 400
        raw(s, b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n")                      # 414
        raw(s, b"BREW / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", shut=False)  # 501
        t = s.connect()
        t.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n")                      # 408 later
        t.settimeout(5)
        assert t.recv(100).startswith(b"HTTP/1.1 408")
        t.close()
        idle = s.connect()                                                          # no line
        time.sleep(1.5)
        idle.close()
    finally:
        rc, err = s.stop()
    assert rc == 0, err
    recs = [json.loads(x) for x in lines_of(log)]
    assert sorted(r["status"] for r in recs) == [400, 408, 414, 501]
    by = {r["status"]: r for r in recs}
    assert by[408]["request"] == "GET /hello.txt HTTP/1.1"
    assert by[414]["request"].startswith("GET /aaaa") and by[414]["request"].endswith("...")


HOSTILE = [
    b'GET /a"b\\c HTTP/1.1\r\nHost: x\r\nUser-Agent: x" 200 1 "forged\r\n\r\n',
    b"GET /caf\xc3\xa9/\xff\xfe HTTP/1.1\r\nHost: x\r\nUser-Agent: \xe2\x80\x8b\x80\xff\t\"\r\n\r\n",
    b"GET /x HTTP/1.1\r\nHost: x\r\nReferer: a\\\"}\r\n\r\n",
    b"GET /ok HTTP/1.1\r\nHost: x\r\nUser-Agent: ua\x1b[31m\r\n\r\n",   # control byte: 400
    b"GET /\x00 HTTP/1.1\r\nHost: x\r\n\r\n",                         # NUL: 400
    b"GET /" + b"\"" * 7000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",         # very long and quoted
    b"GET /\r\n\r\n",                                                   # no version: 400
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(32)),  # TLS hello bytes
]


@pytest.mark.parametrize("fmt", ["common", "combined", "json"])
def test_hostile_requests_cannot_forge_lines(tmp_path, docroot, fmt):
    log = tmp_path / "h.log"
    s = spate_conf(tmp_path, docroot, main="access_log %s %s;" % (log, fmt))
    responses = 0
    try:
        for req in HOSTILE:
            data = raw(s, req + b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                       shut=False)
            assert data.startswith(b"HTTP/1.1 ")
            responses += data.count(b"HTTP/1.1 ")
    finally:
        rc, err = s.stop()
    assert rc == 0, err
    with open(log, "rb") as f:
        data = f.read()
    lines = data.split(b"\n")
    assert lines[-1] == b""
    lines = lines[:-1]
    # exactly one line per response sent
    assert len(lines) == responses
    for line in lines:
        assert all(b >= 0x20 and b < 0x7f for b in line) or fmt == "json", line
        if fmt == "json":
            rec = json.loads(line.decode("utf-8"))
            assert isinstance(rec["status"], int)
        elif fmt == "common":
            assert CLF.match(line.decode()), line
        else:
            assert COMBINED.match(line.decode()), line


def test_slow_sink_loses_nothing(tmp_path, docroot):
    fifo = tmp_path / "access.fifo"
    os.mkfifo(fifo)
    got = []
    stop = threading.Event()

    def reader():
        fd = os.open(fifo, os.O_RDONLY)
        buf = b""
        while True:
            d = os.read(fd, 4096)
            if not d:
                break
            buf += d
            time.sleep(0.002)  # a slow disk: about 2 MB/s
        os.close(fd)
        got.append(buf)
        stop.set()

    t = threading.Thread(target=reader)
    t.start()
    errlog = tmp_path / "error.log"
    s = spate_conf(tmp_path, docroot, workers=2,
                   main="access_log %s common;\naccess_log_buffer 64k;\nerror_log %s info;\n"
                   "access_log_wait 120s;  # requests wait for the writer rather than drop lines"
                   % (fifo, errlog))
    try:
        out = loadgen(s.port, 50, 40000, depth=4)
        assert "responses 40000 status2xx 40000" in out  # the server kept answering
    finally:
        rc, err = s.stop(timeout=120)
    assert rc == 0, err
    assert stop.wait(60)
    t.join()
    lines = got[0].decode().splitlines()
    assert len(lines) == 40000
    assert sorted(ids_of(lines)) == list(range(40000))
    assert "access log backpressure" in errlog.read_text()


def test_rotation_loses_nothing(tmp_path, docroot):
    log = tmp_path / "access.log"
    # `user root;`: after the rename, the log is made anew in pytest's directory (root's)
    s = spate_conf(tmp_path, docroot, workers=2, main="user root;\naccess_log %s common;" % log)
    try:
        loadgen(s.port, 20, 5000, path="/hello.txt")
        time.sleep(0.5)
        os.rename(log, tmp_path / "access.log.1")
        s.proc.send_signal(signal.SIGUSR1)
        time.sleep(0.5)
        loadgen(s.port, 20, 3000, path="/index.html")
    finally:
        rc, err = s.stop()
    assert rc == 0, err
    old = lines_of(tmp_path / "access.log.1")
    new = lines_of(log)
    assert len(old) == 5000 and all("/hello.txt?" in x for x in old)
    assert len(new) == 3000 and all("/index.html?" in x for x in new)
    # rotation while requests are in flight: still every line, in one file or the other
    s = spate_conf(tmp_path, docroot, workers=2, main="user root;\naccess_log %s common;" % log)
    try:
        done = []
        th = threading.Thread(target=lambda: done.append(loadgen(s.port, 20, 60000,
                                                                 path="/style.css")))
        th.start()
        for i in range(3):
            time.sleep(0.2)
            os.rename(log, tmp_path / ("rot.%d" % i))
            s.proc.send_signal(signal.SIGUSR1)
        th.join()
    finally:
        rc, err = s.stop()
    assert rc == 0, err
    total = []
    for p in [tmp_path / ("rot.%d" % i) for i in range(3)] + [log]:
        total += [x for x in lines_of(p) if "/style.css?" in x]
    assert sorted(ids_of(total)) == list(range(60000))


def test_shutdown_writes_every_line(tmp_path, docroot):
    log = tmp_path / "access.log"
    s = spate_conf(tmp_path, docroot, workers=2, main="access_log %s common;" % log)
    loadgen(s.port, 50, 20000)
    rc, err = s.stop()  # immediately: lines may still be in the rings
    assert rc == 0, err
    assert len(lines_of(log)) == 20000


def test_access_log_flag_and_error_log(tmp_path, docroot):
    acc = tmp_path / "flag.log"
    err_path = tmp_path / "err.log"
    s = Spate(["--root", str(docroot), "--listen", "127.0.0.1:0", "--workers", "1",
               "--access-log", str(acc), "--error-log", str(err_path)]).start()
    try:
        raw(s, b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", shut=False)
    finally:
        rc, err = s.stop()
    assert rc == 0, err
    assert len(lines_of(acc)) == 1
    text = err_path.read_text()
    assert re.search(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[notice\] \d+#0: spate .* started", text,
                     re.M)
    assert "exited" in text
    r = subprocess.run([BIN, "--root", str(docroot), "--access-log", "/nonexistent/dir/a.log",
                        "--listen", "127.0.0.1:0"], capture_output=True, timeout=30)
    assert r.returncode != 0 and b"cannot open access log" in r.stderr


def test_log_backpressure_keeps_half_closed_requests(tmp_path, docroot):
    """Requests held back by a full log are answered even if the client half-closed."""
    fifo = tmp_path / "stuck.fifo"
    os.mkfifo(fifo)
    rfd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # opened, but not read for now
    s = spate_conf(tmp_path, docroot, main="access_log %s common;\naccess_log_buffer 64k;" % fifo)
    drained = threading.Event()

    def drain():
        while not drained.is_set():
            try:
                if not os.read(rfd, 65536):
                    time.sleep(0.01)
            except BlockingIOError:
                time.sleep(0.01)

    reader = threading.Thread(target=drain)
    load = []
    filler = threading.Thread(target=lambda: load.append(loadgen(s.port, 20, 6000, depth=4)))
    try:
        # fill the pipe (64 KiB) and the ring (256 KiB): the worker stalls, loadgen waits
        filler.start()
        time.sleep(1.5)
        c = s.connect(timeout=30)
        c.sendall(b"GET /hello.txt?a HTTP/1.1\r\nHost: x\r\n\r\n" * 3)
        c.shutdown(socket.SHUT_WR)
        time.sleep(0.5)
        reader.start()  # now the log drains: everything must be answered
        data = read_until_close(c)
        c.close()
        filler.join()
        assert data.count(b"HTTP/1.1 200 OK") == 3
        assert "responses 6000" in load[0]
    finally:
        if not reader.is_alive():
            reader.start()
        rc, err = s.stop(timeout=60)
        drained.set()
        reader.join()
        os.close(rfd)
    assert rc == 0, err


def test_bad_request_after_long_pipeline_keeps_earlier_responses(tmp_path, docroot):
    log = tmp_path / "a.log"
    s = spate_conf(tmp_path, docroot, main="access_log %s combined;" % log)
    try:
        for n in [1, 20, 39, 63]:
            q = b"q" * 300
            req = b"".join(b"GET /hello.txt?%s%d HTTP/1.1\r\nHost: x\r\n\r\n" % (q, i)
                           for i in range(n))
            req += b"GARBAGE " + b"z" * 7000 + b"\r\n\r\n"
            data = raw(s, req, shut=False)
            assert data.count(b"HTTP/1.1 200 OK") == n, n
            assert data.count(b"HTTP/1.1 400") == 1, n
    finally:
        rc, err = s.stop()
    assert rc == 0, err
