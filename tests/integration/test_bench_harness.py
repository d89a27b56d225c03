"""bench/e2e/compare.py, the project's side-by-side throughput harness: a one-second smoke run.

It must measure a working server (a row with requests/s above zero), refuse to measure one
that answers wrong (a spate serving a docroot without the files fails the precheck, and the
table says so), and measure nginx beside spate when nginx is installed. No speed is asserted:
the numbers of a one-second run on a test machine mean nothing, only that they are there.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import pytest

from conftest import BIN

SRC = os.environ.get("SPATE_SRC") or os.path.join(os.path.dirname(__file__), "..", "..")
COMPARE = os.path.join(SRC, "bench", "e2e", "compare.py")
LOAD = os.environ.get("SPATE_LOAD") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "tools", "load", "spate-load")


@pytest.fixture
def world_dir():
    """A folder under /tmp that a spate started as root (serving as nobody) can enter:
    pytest's tmp_path is private to root."""
    d = tempfile.mkdtemp(prefix="bench-harness-")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def compare(work, *args):
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("compare.py pins the server and the client to two CPUs; this test may "
                    "use only %s" % sorted(os.sched_getaffinity(0)))
    if not os.access(LOAD, os.X_OK):
        pytest.skip("no spate-load at %s (SPATE_LOAD)" % LOAD)
    out = os.path.join(work, "out.json")
    cmd = [sys.executable, COMPARE, "--spate", BIN, "--client", "spate-load", "--load", LOAD,
           "--scenarios", "small", "--rounds", "1", "--seconds", "1", "--warmup", "0",
           "--docroot", os.path.join(work, "www"), "--json", out,
           "--server-cpu", "0", "--client-cpu", "1"] + list(args)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    with open(out) as f:
        return p.stdout, json.load(f)


def row(table, server):
    """The cells of the table's `small` row for server, or None."""
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[0] == "small" and cells[1] == server:
            return cells
    return None


def test_measures_spate_and_reports_a_failed_precheck(world_dir):
    empty = os.path.join(world_dir, "empty")
    os.mkdir(empty)
    os.chmod(empty, 0o755)
    # a spate whose docroot lacks small.bin: it answers 404, so it must not be measured
    broken = "broken=%s --root %s --listen 127.0.0.1:{PORT} --workers 1" % (BIN, empty)
    table, res = compare(world_dir, "--servers", "spate", "--server", broken)
    spate = row(table, "spate")
    assert spate, table
    assert float(spate[2]) > 0, table  # requests/s
    bad = row(table, "broken")
    assert bad, table
    assert bad[2] == "-" and "precheck failed" in bad[-1] and "status 404" in bad[-1], table
    runs = {r["server"]: r for r in res["runs"]}
    assert runs["spate"]["requests"] > 0 and "failed" not in runs["spate"]
    assert "rps" not in runs["broken"] and "precheck failed" in runs["broken"]["failed"]


def test_spate_beside_nginx(world_dir):
    if not shutil.which("nginx"):
        pytest.skip("nginx is not installed (tools/deps bench installs nginx-light): the "
                    "spate-beside-nginx run is not checked")
    table, res = compare(world_dir, "--servers", "spate,nginx")
    for server in ("spate", "nginx"):
        cells = row(table, server)
        assert cells and float(cells[2]) > 0, table
    # the ratio column is filled against nginx's own median
    assert row(table, "nginx")[5] == "1.00x", table
    assert re.fullmatch(r"\d+\.\d\dx", row(table, "spate")[5]), table
    assert {r["server"] for r in res["summary"]} == {"spate", "nginx"}


sys.path.insert(0, os.path.join(SRC, "bench", "e2e"))
import docroot  # noqa: E402
import servers  # noqa: E402


def test_docroot_is_reused_when_any_tree_will_do(world_dir):
    root = os.path.join(world_dir, "www")
    docroot.build(root, 5)
    with open(os.path.join(root, "tree-paths.txt")) as f:
        assert len(f.read().split()) == 5
    # a run without the tree scenario (tree_files None) keeps what is there
    assert docroot.build(root, None) == root
    with open(os.path.join(root, "tree-paths.txt")) as f:
        assert len(f.read().split()) == 5
    docroot.build(root, 7)  # another size: rebuilt
    with open(os.path.join(root, "tree-paths.txt")) as f:
        assert len(f.read().split()) == 7


def test_group_fds_sees_a_process_at_its_descriptor_limit():
    # a child that fills its (lowered) RLIMIT_NOFILE, then waits to be looked at
    code = ("import resource, os, sys, time\n"
            "resource.setrlimit(resource.RLIMIT_NOFILE, (40, 40))\n"
            "fds = []\n"
            "try:\n"
            "    while True: fds.append(os.open('/dev/null', os.O_RDONLY))\n"
            "except OSError: pass\n"
            "print('full', flush=True); time.sleep(30)\n")
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                         start_new_session=True)
    try:
        assert p.stdout.readline().strip() == "full"
        got = servers.group_fds(p.pid)
        assert [(pid, lim) for pid, _, lim in got] == [(p.pid, 40)], got
        assert got[0][1] == 40, got
    finally:
        p.kill()
        p.wait()
