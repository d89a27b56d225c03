"""limit_rate / limit_rate_after: a response body paced by a timer, without a busy loop."""
import os
import subprocess
import time

from conftest import BIN
from limits_util import connections, head_of, log_lines, proc_cpu_seconds, request, start, stop

BIG = os.urandom(300000)


def site(docroot):
    (docroot / "big.bin").write_bytes(BIG)
    return ("location /slow/ { limit_rate 100k; alias %s/; }\n"
            "location /after/ { limit_rate 100k; limit_rate_after 200k; alias %s/; }\n"
            % (docroot, docroot))


def download(s, path, extra=b""):
    c = s.connect(timeout=60)
    t0 = time.monotonic()
    c.sendall(request(path)[:-2] + extra + b"\r\n")
    st, body = head_of(c)
    t = time.monotonic() - t0
    c.close()
    return st, body, t


def test_paced_and_no_busy_loop(tmp_path, docroot):
    s, log = start(tmp_path, docroot, server=site(docroot))
    try:
        cpu0 = proc_cpu_seconds(s.proc.pid)
        st, body, t = download(s, "/slow/big.bin")
        cpu = proc_cpu_seconds(s.proc.pid) - cpu0
        st2, body2, t2 = download(s, "/hello.txt")
    finally:
        stop(s)
    assert st == 200 and body == BIG
    # 300000 bytes at 102400 B/s, less the first tick's worth: 2.8 s at least (lower bound)
    assert t >= 2.0, t
    # a few wake-ups a second: the process slept through the download
    assert cpu < 0.5 * t, (cpu, t)
    assert st2 == 200 and body2 == b"hello, world\n"


def test_rate_after(tmp_path, docroot):
    s, log = start(tmp_path, docroot, server=site(docroot))
    try:
        st, body, t = download(s, "/after/big.bin")
        # a range past the first 200k: all of it is paced (the count is per response)
        st_r, body_r, t_r = download(s, "/after/big.bin", b"Range: bytes=0-99999\r\n")
        head = subprocess.run(["curl", "-sI", s.url("/after/big.bin")], capture_output=True)
    finally:
        stop(s)
    assert st == 200 and body == BIG
    assert t >= 0.6, t  # 100000 bytes past the first 200k at 100k/s
    assert st_r == 206 and body_r == BIG[:100000]
    assert b"Content-Length: 300000" in head.stdout


def test_many_paced_on_both_workers(tmp_path, docroot):
    s, log = start(tmp_path, docroot, server=site(docroot))
    try:
        socks = connections(s, 16)  # over both workers (all on one: 1 in 32,768)
        t0 = time.monotonic()
        for c in socks:
            c.sendall(request("/after/big.bin"))
        got = [head_of(c) for c in socks]
        t = time.monotonic() - t0
        for c in socks:
            c.close()
    finally:
        stop(s)
    assert all(st == 200 and body == BIG for st, body in got)
    assert t >= 0.6, t  # each response is paced on its own
    assert {w for w, _, _ in log_lines(log)} == {1, 2}


def test_client_goes_away_mid_download(tmp_path, docroot):
    s, log = start(tmp_path, docroot, server=site(docroot))
    try:
        for _ in range(5):
            c = s.connect()
            c.sendall(request("/slow/big.bin"))
            assert c.recv(100).startswith(b"HTTP/1.1 200")
            c.close()
        st, body, _ = download(s, "/hello.txt")
    finally:
        stop(s)  # ASan: nothing leaked, no timer completed into freed memory
    assert st == 200


def test_config_errors(tmp_path, docroot):
    conf = tmp_path / "bad.conf"
    conf.write_text("workers 1;\nserver {\n  listen 127.0.0.1:0;\n  root %s;\n"
                    "  limit_rate fast;\n}\n" % docroot)
    p = subprocess.run([BIN, "-t", "-c", str(conf)], capture_output=True, text=True)
    assert p.returncode != 0 and "bad.conf:5:" in p.stderr and "limit_rate" in p.stderr, p.stderr
