"""The bundled configurations validate and serve: profiles/*.conf and examples/spate.conf."""
import glob
import gzip
import http.client
import os
import subprocess

from conftest import BIN, Spate

SRC = os.environ.get("SPATE_SRC") or os.path.join(os.path.dirname(__file__), "..", "..")


def test_profiles_validate(tmp_path):
    profiles = sorted(glob.glob(os.path.join(SRC, "profiles", "*.conf")))
    assert len(profiles) == 3
    for p in profiles:
        r = subprocess.run([BIN, "-t", "-c", p, "--root", str(tmp_path)], capture_output=True,
                           timeout=30)
        assert r.returncode == 0, (p, r.stderr)


def fetch(port, path, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", path, headers=headers or {})
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, r, body


# each profile started, and fetched from: a file, and what the profile adds
PROFILE_CHECKS = {
    "latency-bench.conf": [("/x.txt", 200, b"profile ok\n"), ("/ping", 200, b"ok")],
    "cdn-edge.conf": [("/x.txt", 200, b"profile ok\n"), ("/healthz", 200, b"ok"),
                      ("/.env", 404, None), ("/.well-known/acme-challenge/t", 200, b"token\n")],
    "static-tree.conf": [("/x.txt", 200, b"profile ok\n"), ("/sub/", 200, b"<a href=\"y.txt\">")],
}


def test_profiles_serve(tmp_path):
    (tmp_path / "x.txt").write_bytes(b"profile ok\n")
    (tmp_path / "x.txt.gz").write_bytes(gzip.compress(b"profile ok\n" * 20))
    st = os.stat(tmp_path / "x.txt")
    os.utime(tmp_path / "x.txt.gz", ns=(st.st_atime_ns, st.st_mtime_ns))
    (tmp_path / ".env").write_bytes(b"SECRET\n")
    (tmp_path / ".well-known" / "acme-challenge").mkdir(parents=True)
    (tmp_path / ".well-known" / "acme-challenge" / "t").write_bytes(b"token\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "y.txt").write_bytes(b"y\n")
    os.chmod(tmp_path, 0o755)  # started as root, spate serves it as nobody
    for name, checks in PROFILE_CHECKS.items():
        p = os.path.join(SRC, "profiles", name)
        s = Spate(["-c", p, "--root", str(tmp_path), "--listen", "127.0.0.1:0", "--workers",
                   "1"])
        s.start()
        try:
            for path, status, want in checks:
                st, r, body = fetch(s.port, path)
                assert st == status, (name, path, st)
                if want is not None:
                    assert want in body, (name, path, body[:200])
            st, r, _ = fetch(s.port, "/sub")  # the directory slash redirect, absolute
            assert st == 301 and r.getheader("Location").endswith("/sub/"), name
            if name != "latency-bench.conf":
                # the stored gzip variant for a client that takes it, Vary either way
                st, r, body = fetch(s.port, "/x.txt", {"Accept-Encoding": "gzip"})
                assert st == 200 and r.getheader("Content-Encoding") == "gzip", name
                assert gzip.decompress(body) == b"profile ok\n" * 20, name
                assert r.getheader("Vary") == "Accept-Encoding", name
                st, r, body = fetch(s.port, "/x.txt")
                assert r.getheader("Content-Encoding") is None and r.getheader("Vary"), name
        finally:
            rc, err = s.stop()
        assert rc == 0, (name, err)


def test_example_site(tmp_path):
    conf = os.path.join(SRC, "examples", "spate.conf")
    r = subprocess.run([BIN, "-t", "-c", conf], capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    s = Spate(["-c", conf, "--listen", "127.0.0.1:0", "--workers", "1"]).start()
    try:
        c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
        for path, ctype in [("/", "text/html"), ("/guide/", "text/html"),
                            ("/assets/style.css", "text/css"), ("/favicon.svg", "image/svg+xml")]:
            c.request("GET", path)
            r = c.getresponse()
            body = r.read()
            assert r.status == 200 and r.getheader("Content-Type") == ctype and body, path
        c.request("GET", "/assets/logo.svg")
        r = c.getresponse()
        r.read()
        assert r.getheader("Cache-Control") == "max-age=3600"
        assert r.getheader("Expires")
    finally:
        rc, err = s.stop()
    assert rc == 0, err
