"""Shared fixtures: a temporary docroot and a running spate binary on an ephemeral port.

The binary comes from $SPATE_BIN (set by ctest); tests talk to it over real sockets with
curl, http.client and raw sockets.
"""
import os
import re
import select
import signal
import socket
import subprocess
import time

import pytest

BIN = os.environ.get("SPATE_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "spate")

LISTEN_RE = re.compile(rb"listening on https?://(\S+):(\d+) ")


class Spate:
    """A spate process. Start with start(); the address is read from its stdout."""

    def __init__(self, args, cwd=None, env=None):
        self.args = [BIN] + list(args)
        self.cwd = cwd
        self.env = dict(os.environ, **(env or {}))
        # sanitizer builds: leak reports and any error must fail the test via the exit code
        self.env.setdefault("ASAN_OPTIONS", "abort_on_error=0:detect_leaks=1:exitcode=66")
        self.proc = None
        self.host = self.port = None
        self.out = b""

    def start(self, timeout=20):
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     cwd=self.cwd, env=self.env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r, _, _ = select.select([self.proc.stdout], [], [], 0.1)
            if r:
                line = self.proc.stdout.readline()
                self.out += line
                m = LISTEN_RE.search(line)
                if m:
                    self.host = m.group(1).decode().strip("[]")
                    self.port = int(m.group(2))
                    return self
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace")
                raise RuntimeError("spate exited with %s: %s" % (self.proc.returncode, err))
        raise RuntimeError("spate did not report its address in %ss" % timeout)

    def url(self, path="/"):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def connect(self, timeout=10):
        return socket.create_connection(("127.0.0.1", self.port), timeout=timeout)

    def stop(self, sig=signal.SIGTERM, timeout=30):
        """Sends sig, waits, returns (returncode, stderr)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise
        err = self.proc.stderr.read().decode(errors="replace")
        return self.proc.returncode, err


def make_docroot(root):
    """A small site: files of known types and sizes, nested dirs, an index, a symlink out."""
    os.makedirs(root / "dir" / "sub", exist_ok=True)
    os.makedirs(root / "noindex", exist_ok=True)
    (root / "index.html").write_bytes(b"<!DOCTYPE html><title>home</title>\n")
    (root / "hello.txt").write_bytes(b"hello, world\n")
    (root / "style.css").write_bytes(b"body { color: red }\n")
    (root / "app.js").write_bytes(b"console.log(1)\n")
    (root / "data.json").write_bytes(b'{"a": 1}\n')
    (root / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    (root / "blob").write_bytes(b"\x00\x01\x02")
    (root / "empty.txt").write_bytes(b"")
    (root / "dir" / "index.html").write_bytes(b"<p>dir index</p>\n")
    (root / "dir" / "sub" / "file.txt").write_bytes(b"deep file\n")
    (root / "space name.txt").write_bytes(b"spaced\n")
    (root / "medium.bin").write_bytes(os.urandom(200 * 1024))
    outside = root.parent / (root.name + "-outside")
    outside.mkdir(exist_ok=True)
    (outside / "secret.txt").write_bytes(b"TOP SECRET\n")
    os.symlink(str(outside / "secret.txt"), str(root / "escape.txt"))
    os.symlink(str(outside), str(root / "escape-dir"))
    os.symlink("hello.txt", str(root / "link-inside.txt"))
    return root


@pytest.fixture
def docroot(tmp_path):
    return make_docroot(tmp_path / "www")


@pytest.fixture
def spate(docroot):
    s = Spate(["--root", str(docroot), "--listen", "127.0.0.1:0", "--workers", "2"]).start()
    yield s
    rc, err = s.stop()
    assert rc == 0, "spate exited %s: %s" % (rc, err)
    assert "ERROR: AddressSanitizer" not in err and "runtime error" not in err, err


def raw(server, data, timeout=5, shut=True):
    """Sends raw bytes on a fresh connection and returns everything read until EOF/timeout."""
    s = server.connect(timeout=timeout)
    s.sendall(data)
    if shut:
        s.shutdown(socket.SHUT_WR)
    out = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            out += d
    except socket.timeout:
        pass
    s.close()
    return out


def split_responses(data):
    """Splits concatenated HTTP/1.1 responses (Content-Length framed) into (status, headers, body)."""
    out = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            raise AssertionError("incomplete response head: %r" % data[:200])
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(b":")
            headers.setdefault(k.strip().lower().decode(), []).append(v.strip().decode())
        n = int(headers.get("content-length", ["0"])[0])
        body, data = rest[:n], rest[n:]
        out.append((status, headers, body))
    return out


def spate_conf(tmp_path, docroot, main="", server="", workers=1, extra_args=()):
    """Starts spate from a generated config: `main` and `server` are directive text."""
    conf = tmp_path / "spate.conf"
    conf.write_text("workers %d;\n%s\nserver {\n  listen 127.0.0.1:0;\n  root %s;\n%s\n}\n"
                    % (workers, main, docroot, server))
    return Spate(["-c", str(conf)] + list(extra_args)).start()


def read_until_close(sock, limit=1 << 26):
    """Reads until EOF (or limit bytes); returns the bytes."""
    parts, n = [], 0
    while n < limit:
        d = sock.recv(1 << 20)
        if not d:
            break
        parts.append(d)
        n += len(d)
    return b"".join(parts)


def status_line(data):
    return data.split(b"\r\n", 1)[0]


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes more than a minute (ctest and tools/test "
                            "still run it; `-m 'not slow'` skips it by hand)")
