"""Concurrency and big bodies: 200 concurrent clients, a 100 MiB file byte-exact by sha256."""
import hashlib
import os
import subprocess
import threading

from conftest import Spate


def test_200_concurrent_clients(spate, docroot):
    want = (docroot / "medium.bin").read_bytes()
    errors = []

    def client(i):
        try:
            import http.client
            c = http.client.HTTPConnection("127.0.0.1", spate.port, timeout=30)
            for k in range(5):
                path = "/medium.bin" if (i + k) % 3 == 0 else "/hello.txt"
                c.request("GET", path)
                r = c.getresponse()
                body = r.read()
                if r.status != 200 or body != (want if path == "/medium.bin" else b"hello, world\n"):
                    errors.append((i, k, r.status, len(body)))
            c.close()
        except Exception as e:  # noqa: BLE001 - collected and asserted below
            errors.append((i, repr(e)))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(200)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_100mib_sha256(tmp_path):
    root = tmp_path / "big"
    root.mkdir()
    h = hashlib.sha256()
    with open(root / "big.bin", "wb") as f:
        chunk = os.urandom(1 << 20)
        for i in range(100):
            piece = chunk[i:] + chunk[:i]
            f.write(piece)
            h.update(piece)
    s = Spate(["--root", str(root), "--listen", "127.0.0.1:0", "--workers", "2"]).start()
    try:
        out = subprocess.run(["curl", "-sS", "-o", "-", s.url("/big.bin")], capture_output=True,
                             timeout=300)
        assert out.returncode == 0
        assert len(out.stdout) == 100 << 20
        assert hashlib.sha256(out.stdout).hexdigest() == h.hexdigest()
    finally:
        rc, err = s.stop()
    assert rc == 0, err
