"""File-cache misses through io_uring (http/cache_fill.c): requests wait for their file, in
order, joined per path, bounded, and never outlive their connection."""
import os
import re
import signal
import socket
import struct
import threading
import time

from conftest import Spate, raw, split_responses


def make_tree(root, n=400):
    """n files: most small (kept in memory), every 25th large (kept as a descriptor)."""
    os.makedirs(root / "d", exist_ok=True)
    paths = []
    for i in range(n):
        size = 150 * 1024 + i if i % 25 == 0 else 1 + (i * 997) % 9000
        p = "/d/f%04d.bin" % i
        data = (p.encode() + b"\n" + bytes([i % 251]) * size)[:size]
        (root / p.lstrip("/")).write_bytes(data)
        paths.append((p, data))
    return paths


def start(tmp_path, root, main=""):
    conf = tmp_path / "s.conf"
    conf.write_text("workers 1;\n%s\nserver { listen 127.0.0.1:0; root %s; }\n" % (main, root))
    return Spate(["-c", str(conf), "--stats-on-exit"]).start()


def stop_stats(s):
    rc, err = s.stop()
    assert rc == 0, err
    assert "ERROR: AddressSanitizer" not in err and "runtime error" not in err, err
    total = re.search(r"spate: stats worker=total (.*)", err).group(1)
    return {k: int(v) for k, v in (kv.split("=") for kv in total.split())}


def test_pipelined_misses_answered_in_order(tmp_path):
    """400 different files pipelined on one connection, each a miss: every response in
    order, every body exact, with a cache small enough that entries are evicted meanwhile."""
    root = tmp_path / "www"
    paths = make_tree(root)
    s = start(tmp_path, root, "open_file_cache_bytes 512k; open_file_cache_loads 8;")
    try:
        for _ in range(2):
            req = b"".join(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % p.encode() for p, _ in paths)
            req += b"GET /d/f0001.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            resps = split_responses(raw(s, req, shut=False, timeout=30))
            assert len(resps) == len(paths) + 1
            for (p, data), (status, _, body) in zip(paths, resps):
                assert status == 200, p
                assert body == data, p
    finally:
        stats = stop_stats(s)
    assert stats["fcache_misses"] >= len(paths)  # they were misses, not served some other way
    assert stats["fcache_evictions"] + stats["fcache_rejected"] > 0  # and the cache was full
    assert stats["responses_2xx"] == 2 * (len(paths) + 1)


def test_one_load_per_path(tmp_path):
    """1000 pipelined requests and 40 simultaneous connections for one file: one load."""
    root = tmp_path / "www"
    make_tree(root, 3)
    s = start(tmp_path, root)
    try:
        go = threading.Barrier(40)
        bad = []

        def client():
            c = socket.create_connection((s.host, s.port), timeout=10)
            go.wait()
            c.sendall(b"GET /d/f0001.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = b""
            while True:
                d = c.recv(65536)
                if not d:
                    break
                data += d
            c.close()
            if not data.startswith(b"HTTP/1.1 200"):
                bad.append(data[:100])

        ts = [threading.Thread(target=client) for _ in range(40)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert not bad, bad
        req = b"GET /d/f0002.bin HTTP/1.1\r\nHost: x\r\n\r\n" * 999
        req += b"GET /d/f0002.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        resps = split_responses(raw(s, req, shut=False, timeout=30))
        assert len(resps) == 1000 and all(r[0] == 200 for r in resps)
    finally:
        stats = stop_stats(s)
    assert stats["fcache_misses"] == 2, stats  # one per path, however many asked at once
    assert stats["fcache_hits"] >= 999


def test_changed_and_deleted_files_seen(tmp_path):
    """Rechecks go through the ring too: a rewritten file is served new after the interval,
    a deleted one is a 404, a created one appears."""
    root = tmp_path / "www"
    make_tree(root, 2)
    s = start(tmp_path, root, "open_file_cache_valid 200ms; open_file_cache_negative 200ms;")
    try:
        def get(p):
            return split_responses(raw(s, b"GET %s HTTP/1.1\r\nHost: x\r\n"
                                          b"Connection: close\r\n\r\n" % p))[0]
        assert get(b"/d/f0001.bin")[0] == 200
        (root / "d/f0001.bin").write_bytes(b"rewritten")
        time.sleep(0.35)
        assert get(b"/d/f0001.bin")[2] == b"rewritten"
        os.unlink(root / "d/f0001.bin")
        time.sleep(0.35)
        assert get(b"/d/f0001.bin")[0] == 404
        (root / "d/f0001.bin").write_bytes(b"back")
        time.sleep(0.35)
        assert get(b"/d/f0001.bin")[2] == b"back"
    finally:
        stats = stop_stats(s)
    assert stats["fcache_rechecks"] >= 2


def test_client_gone_while_its_file_loads(tmp_path):
    """Connections reset right after sending a request for a file not yet cached: the load
    ends with nobody to wake, nothing leaks (ASan), and the server keeps serving."""
    root = tmp_path / "www"
    paths = make_tree(root, 300)
    s = start(tmp_path, root, "open_file_cache_loads 4;")
    try:
        socks = []
        for p, _ in paths:
            c = socket.create_connection((s.host, s.port), timeout=10)
            c.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % p.encode())
            socks.append(c)
        for c in socks:
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            c.close()  # RST: the request may still be waiting for its file
        for p, data in paths[:20]:
            r = split_responses(raw(s, b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                                    % p.encode()))
            assert r[0][0] == 200 and r[0][2] == data
    finally:
        stats = stop_stats(s)
    assert stats["conns_open"] == 0


def test_stop_while_loads_wait(tmp_path):
    """SIGTERM with hundreds of requests waiting for loads: the drain answers them, exit 0."""
    root = tmp_path / "www"
    paths = make_tree(root, 300)
    s = start(tmp_path, root, "open_file_cache_loads 2;")
    req = b"".join(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % p.encode() for p, _ in paths)
    c = socket.create_connection((s.host, s.port), timeout=10)
    c.sendall(req)
    data = c.recv(1 << 20)  # the connection is accepted and its requests are being answered
    assert data
    s.proc.send_signal(signal.SIGTERM)
    while True:
        d = c.recv(1 << 20)
        if not d:
            break
        data += d
    c.close()
    resps = split_responses(data)
    assert len(resps) >= 1 and all(r[0] == 200 for r in resps)
    assert resps[0][2] == paths[0][1]
    stats = stop_stats(s)
    assert stats["conns_open"] == 0


def test_loads_on_the_thread_still_work(tmp_path):
    """open_file_cache_loads 0 (every miss loaded on the worker's thread), and the cache off."""
    root = tmp_path / "www"
    paths = make_tree(root, 50)
    for main in ("open_file_cache_loads 0;", "open_file_cache off;"):
        s = start(tmp_path, root, main)
        try:
            req = b"".join(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % p.encode() for p, _ in paths)
            req += b"GET /d/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            resps = split_responses(raw(s, req, shut=False, timeout=30))
            assert [r[2] for r in resps[:-1]] == [d for _, d in paths]
            assert resps[-1][0] == 404  # a directory without an index file
        finally:
            stop_stats(s)
