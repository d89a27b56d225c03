"""Helpers of test_limit_req, test_limit_conn and test_limit_rate: many connections at once,
spread over the workers by SO_REUSEPORT, and the access log's $worker_id to tell who served."""
import socket
import time

from conftest import Spate

LOG_FORMAT = "log_format lim '$worker_id $status $request_uri';\n"


def start(tmp_path, docroot, main="", server="", workers=2):
    """spate with `workers` workers and an access log of worker id, status and URI."""
    log = tmp_path / "access.log"
    conf = tmp_path / "spate.conf"
    conf.write_text("workers %d;\nerror_log %s info;\n%s%s\nserver {\n  listen 127.0.0.1:0;\n"
                    "  root %s;\n  access_log %s lim;\n%s\n}\n"
                    % (workers, tmp_path / "error.log", LOG_FORMAT, main, docroot, log, server))
    return Spate(["-c", str(conf)]).start(), log


def stop(s):
    rc, err = s.stop()
    assert rc == 0, err
    assert "ERROR: AddressSanitizer" not in err and "runtime error" not in err, err


def log_lines(log):
    """[(worker, status, uri)] of the access log (read after stop: the log is flushed)."""
    out = []
    for line in log.read_text().splitlines():
        w, st, uri = line.split(" ", 2)
        out.append((int(w), int(st), uri))
    return out


def connections(s, n):
    return [s.connect(timeout=30) for _ in range(n)]


def head_of(sock):
    """Reads one response's head and its Content-Length body; returns (status, body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        d = sock.recv(65536)
        if not d:
            raise AssertionError("connection closed before a response: %r" % data[:200])
        data += d
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    n = 0
    for line in lines[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            n = int(v)
    while len(rest) < n:
        d = sock.recv(1 << 20)
        if not d:
            break
        rest += d
    return status, rest[:n]


def request(path, close=False):
    return ("GET %s HTTP/1.1\r\nHost: t\r\n%s\r\n"
            % (path, "Connection: close\r\n" if close else "")).encode()


def all_at_once(s, path, n):
    """n connections, then one request on each as close together as possible; returns
    [(status, seconds from the first send to this response)] in connection order."""
    socks = connections(s, n)
    reqs = request(path)
    t0 = time.monotonic()
    for c in socks:
        c.sendall(reqs)
    out = []
    for c in socks:
        st, _ = head_of(c)
        out.append((st, time.monotonic() - t0))
        c.close()
    return out, t0


def proc_cpu_seconds(pid):
    """utime + stime of a process, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    import os
    hz = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / hz
