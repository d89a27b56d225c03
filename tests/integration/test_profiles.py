"""The bundled configurations validate and serve: profiles/*.conf and examples/spate.conf."""
import glob
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


def test_profile_serves(tmp_path):
    (tmp_path / "x.txt").write_bytes(b"profile ok\n")
    p = os.path.join(SRC, "profiles", "latency-bench.conf")
    s = Spate(["-c", p, "--root", str(tmp_path), "--listen", "127.0.0.1:0", "--workers", "1"])
    s.start()
    try:
        c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
        c.request("GET", "/x.txt")
        r = c.getresponse()
        assert r.status == 200 and r.read() == b"profile ok\n"
    finally:
        rc, err = s.stop()
    assert rc == 0, err


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
