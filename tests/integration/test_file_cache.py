"""The open-file cache: freshness after replace/delete, no syscalls per hit, truncation while
sending, flat memory under many slow downloads, fd limits."""
import os
import shutil
import signal
import socket
import subprocess
import threading
import time

import pytest

from conftest import Spate, raw, split_responses, spate_conf


def fetch(s, path):
    data = raw(s, b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path.encode(),
               shut=False)
    return split_responses(data)[0]


def test_replaced_and_deleted_files_are_noticed(tmp_path, docroot):
    s = spate_conf(tmp_path, docroot, main="open_file_cache_valid 300ms;\n"
                                           "open_file_cache_negative 300ms;")
    try:
        (docroot / "v.txt").write_bytes(b"version 1\n")
        assert fetch(s, "/v.txt")[2] == b"version 1\n"
        # replaced by rename (the way deploy tools do it), same size
        (docroot / "v.tmp").write_bytes(b"version 2\n")
        os.rename(docroot / "v.tmp", docroot / "v.txt")
        time.sleep(0.5)
        assert fetch(s, "/v.txt")[2] == b"version 2\n"
        # rewritten in place, different size
        (docroot / "v.txt").write_bytes(b"version three\n")
        time.sleep(0.5)
        st, hd, body = fetch(s, "/v.txt")
        assert body == b"version three\n" and hd["content-length"] == ["14"]
        os.unlink(docroot / "v.txt")
        time.sleep(0.5)
        assert fetch(s, "/v.txt")[0] == 404
        # a file that appears after a 404 is found once the negative entry expires
        (docroot / "late.txt").write_bytes(b"late\n")
        time.sleep(0.5)
        assert fetch(s, "/late.txt")[2] == b"late\n"
    finally:
        rc, err = s.stop()
    assert rc == 0, err


@pytest.mark.skipif(not shutil.which("strace"), reason="strace not installed")
def test_hits_cost_no_open_or_stat(tmp_path, docroot):
    """1000 requests for the same small file: the file is opened and stat'ed once, not 1000
    times (revalidation is at most once per second). Loads on the worker's thread
    (open_file_cache_loads 0), where strace sees them; test_cache_fill.py counts the loads
    made through io_uring."""
    conf = tmp_path / "s.conf"
    conf.write_text("workers 1;\nopen_file_cache_loads 0;\n"
                    "server { listen 127.0.0.1:0; root %s; }\n" % docroot)
    trace = tmp_path / "trace"
    s = Spate(["-c", str(conf)])
    s.args = ["strace", "-f", "-qq", "-o", str(trace), "-e",
              "trace=open,openat,openat2,stat,newfstatat,statx,fstat,read,pread64"] + s.args
    s.start()
    try:
        req = b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n" * 999
        req += b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        t0 = time.monotonic()
        resps = split_responses(raw(s, req, shut=False, timeout=30))
        elapsed = time.monotonic() - t0
        assert len(resps) == 1000 and all(r[2] == b"hello, world\n" for r in resps)
    finally:
        # stop spate itself (strace's child); strace exits with it
        kids = open("/proc/%d/task/%d/children" % (s.proc.pid, s.proc.pid)).read().split()
        os.kill(int(kids[0]), signal.SIGTERM)
        s.proc.wait(timeout=30)
    lines = [l for l in trace.read_text().splitlines() if "hello.txt" in l]
    opens = [l for l in lines if "openat2" in l]
    # one open, plus one revalidation per second of the test
    assert 1 <= len(opens) <= 2 + int(elapsed), opens


def test_truncated_while_sending_closes(tmp_path, docroot):
    big = docroot / "shrinking.bin"
    big.write_bytes(os.urandom(64 << 20))
    s = spate_conf(tmp_path, docroot)
    try:
        c = s.connect(timeout=10)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 256 * 1024)
        c.sendall(b"GET /shrinking.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        got = c.recv(65536)
        assert got.startswith(b"HTTP/1.1 200")
        with open(big, "r+b") as f:
            f.truncate(1 << 20)
        total = len(got)
        c.settimeout(10)
        try:
            while True:
                d = c.recv(1 << 20)
                if not d:
                    break
                total += len(d)
        except ConnectionResetError:
            pass
        c.close()
        # closed early: the client sees a short body, never a padded or garbage one
        assert total < (64 << 20)
        # the server is alive and well
        st, _, body = fetch(s, "/hello.txt")
        assert st == 200 and body == b"hello, world\n"
    finally:
        rc, err = s.stop()
    assert rc == 0, err
    assert "shrank while being sent" in err


def rss_kib(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def test_500_slow_downloads_flat_memory(tmp_path, docroot):
    (docroot / "64m.bin").write_bytes(os.urandom(64 << 20))
    s = spate_conf(tmp_path, docroot, workers=2)
    try:
        assert fetch(s, "/hello.txt")[0] == 200
        rss0 = rss_kib(s.proc.pid)
        conns = []
        for _ in range(500):
            c = s.connect(timeout=20)
            c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
            c.sendall(b"GET /64m.bin HTTP/1.1\r\nHost: x\r\n\r\n")
            conns.append(c)
        # each reads a little, slowly, for a while
        for _ in range(5):
            for c in conns:
                try:
                    c.recv(8192)
                except socket.timeout:
                    pass
            time.sleep(0.2)
        rss1 = rss_kib(s.proc.pid)
        growth = rss1 - rss0
        print("RSS growth with 500 slow 64 MiB downloads: %d KiB" % growth)
        # 500 x 64 MiB = 32 GiB being served: memory must not follow the file size
        assert growth < 128 * 1024
        for c in conns:
            c.close()
        time.sleep(0.5)
        assert fetch(s, "/hello.txt")[0] == 200
    finally:
        rc, err = s.stop()
    assert rc == 0, err


def test_many_files_do_not_exhaust_fds(tmp_path):
    """A tree with more files than the fd limit: small files are cached by content (no fd)."""
    root = tmp_path / "tree"
    root.mkdir()
    for i in range(3000):
        (root / ("f%04d.txt" % i)).write_bytes(b"file %d\n" % i)
    import resource

    def low():
        resource.setrlimit(resource.RLIMIT_NOFILE, (512, 512))

    s = Spate(["--root", str(root), "--listen", "127.0.0.1:0", "--workers", "1"])
    s.proc = subprocess.Popen(s.args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=s.env,
                              preexec_fn=low)
    s.port = int(s.proc.stdout.readline().split(b":")[-1].split()[0])
    try:
        for rnd in range(2):
            req = b"".join(b"GET /f%04d.txt HTTP/1.1\r\nHost: x\r\n\r\n" % i for i in range(3000))
            req += b"GET /f0000.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            resps = split_responses(raw(s, req, shut=False, timeout=60))
            assert len(resps) == 3001
            assert all(r[0] == 200 for r in resps)
            assert resps[1234][2] == b"file 1234\n"
        fds = len(os.listdir("/proc/%d/fd" % s.proc.pid))
        assert fds < 100
    finally:
        rc, err = s.stop()
    assert rc == 0, err


def sha_of_download(s, path, extra=b""):
    import hashlib
    c = s.connect(timeout=30)
    c.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s\r\n" % (path.encode(), extra))
    h = hashlib.sha256()
    head = b""
    while b"\r\n\r\n" not in head:
        head += c.recv(65536)
    head, _, rest = head.partition(b"\r\n\r\n")
    h.update(rest)
    n = len(rest)
    while True:
        d = c.recv(1 << 20)
        if not d:
            break
        h.update(d)
        n += len(d)
    c.close()
    return head, n, h.hexdigest()


@pytest.mark.parametrize("mode", ["cold", "sendfile off"])
def test_large_file_paths_byte_exact(tmp_path, docroot, mode):
    """Uncached ranges (read with io_uring, then sent) and 'sendfile off' deliver the same
    bytes as sendfile, whole and in ranges."""
    import hashlib
    data = os.urandom(40 << 20)
    big = docroot / "big.bin"
    big.write_bytes(data)
    main = "sendfile off;" if mode == "sendfile off" else ""
    s = spate_conf(tmp_path, docroot, main=main)
    try:
        for _ in range(2):
            if mode == "cold":
                fd = os.open(big, os.O_RDONLY)
                os.fdatasync(fd)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                os.close(fd)
            head, n, digest = sha_of_download(s, "/big.bin")
            assert head.startswith(b"HTTP/1.1 200") and n == len(data)
            assert digest == hashlib.sha256(data).hexdigest()
        head, n, digest = sha_of_download(s, "/big.bin", b"Range: bytes=1000000-20000000\r\n")
        assert head.startswith(b"HTTP/1.1 206") and n == 19000001
        assert digest == hashlib.sha256(data[1000000:20000001]).hexdigest()
    finally:
        rc, err = s.stop()
    assert rc == 0, err


def test_truncated_with_sendfile_off(tmp_path, docroot):
    big = docroot / "shrinking.bin"
    big.write_bytes(os.urandom(32 << 20))
    s = spate_conf(tmp_path, docroot, main="sendfile off;")
    try:
        c = s.connect(timeout=10)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 256 * 1024)
        c.sendall(b"GET /shrinking.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        got = len(c.recv(65536))
        with open(big, "r+b") as f:
            f.truncate(1 << 20)
        try:
            while True:
                d = c.recv(1 << 20)
                if not d:
                    break
                got += len(d)
        except ConnectionResetError:
            pass
        c.close()
        assert got < (32 << 20)
        assert fetch(s, "/hello.txt")[0] == 200
    finally:
        rc, err = s.stop()
    assert rc == 0, err
    assert "shrank while being sent" in err
