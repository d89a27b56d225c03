"""Live reload: SIGHUP and `spate -s reload` read the configuration again; each worker switches
between two loop turns. Under continuous load nothing is refused or reset and no response mixes
two configurations; a broken file leaves the running one in force (file:line in the error log);
addresses come and go; a streamed response finishes under the configuration it began with, which
is freed after it; descriptors and memory do not grow (ASan checks the exit)."""
import http.client
import os
import re
import signal
import socket
import subprocess
import threading
import time

import pytest

from conftest import BIN, Spate

SMALL = {g: (g * 64 + "\n").encode() * 8 for g in "ABC"}  # 520 bytes: kept in memory
BIG = {g: g.encode() * (200 * 1024) for g in "ABC"}        # over 64k: sent from its fd


def supports(tmp_path, directive):
    """Whether this build knows a location directive (return is new; test_stream test-only)."""
    conf = tmp_path / ("probe-%s.conf" % directive.split()[0])
    conf.write_text("server {\n listen 127.0.0.1:0;\n root %s;\n location /x { %s; }\n}\n"
                    % (tmp_path, directive))
    r = subprocess.run([BIN, "-t", "-c", str(conf)], capture_output=True, timeout=30)
    return r.returncode == 0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Site:
    """Two (or three) generations of one site: roots with distinct contents, a config each."""

    def __init__(self, tmp_path, port, with_return):
        self.tmp = tmp_path
        self.port = port
        self.with_return = with_return
        self.conf = tmp_path / "spate.conf"
        self.pid = tmp_path / "spate.pid"
        self.errlog = tmp_path / "error.log"
        self.access = tmp_path / "access.log"
        for g in "ABC":
            root = tmp_path / ("root" + g)
            root.mkdir()
            (root / "small.txt").write_bytes(SMALL[g])
            (root / "big.bin").write_bytes(BIG[g])

    def text(self, gen, extra_port=None, main="", server=""):
        ret = ('  location /health { add_header X-Gen %s; return 200 "gen %s\\n"; }\n'
               % (gen, gen)) if self.with_return else ""
        # `user root;`: spate started as root drops to nobody, who cannot read pytest's
        # directories (root's, 0700) again at a reload (docs/security.md)
        t = ("user root;\nworkers 2;\npid %s;\nerror_log %s info;\n"
             "log_format rl '$worker_id $status $request_uri';\naccess_log %s rl;\n%s\n"
             "server {\n  listen 127.0.0.1:%d;\n  root %s;\n  add_header X-Gen %s;\n%s%s}\n"
             % (self.pid, self.errlog, self.access, main, self.port, self.tmp / ("root" + gen),
                gen, ret, server))
        if extra_port:
            t += ("server {\n  listen 127.0.0.1:%d;\n  root %s;\n  add_header X-Gen C;\n}\n"
                  % (extra_port, self.tmp / "rootC"))
        return t

    def write(self, gen, **kw):
        tmp = self.conf.with_suffix(".tmp")
        tmp.write_text(self.text(gen, **kw))
        os.replace(tmp, self.conf)  # a reload never reads a half-written file

    def start(self, gen="A"):
        self.write(gen)
        self.spate = Spate(["-c", str(self.conf), "--stats-on-exit"]).start()
        return self.spate

    def log(self):
        return self.errlog.read_text(errors="replace") if self.errlog.exists() else ""

    def reloads_done(self):
        return len(re.findall(r"reloaded .*: configuration \d+ in force", self.log()))

    def reload(self, with_s=False):
        n = self.reloads_done()
        if with_s:
            r = subprocess.run([BIN, "-s", "reload", "-c", str(self.conf)], capture_output=True,
                               timeout=30)
            assert r.returncode == 0, r.stderr
        else:
            self.spate.proc.send_signal(signal.SIGHUP)
        return n

    def wait_reloaded(self, n, timeout=10):
        deadline = time.monotonic() + timeout
        while self.reloads_done() <= n:
            assert time.monotonic() < deadline, "no reload logged:\n" + self.log()[-2000:]
            time.sleep(0.02)

    def fds(self):
        return len(os.listdir("/proc/%d/fd" % self.spate.proc.pid))


@pytest.fixture
def make_site(tmp_path):
    """Site(tmp_path, port, with_return), killed at the end if a failed test left it running."""
    made = []

    def make(with_return=False):
        site = Site(tmp_path, free_port(), with_return)
        made.append(site)
        return site
    yield make
    for site in made:
        proc = getattr(site, "spate", None) and site.spate.proc
        if proc and proc.poll() is None:
            proc.kill()
            proc.wait()


def judge(path, status, gen, body):
    """'' when the response is wholly one generation's, else what is wrong with it."""
    if status != 200:
        return "status %d" % status
    if gen not in ("A", "B"):
        return "X-Gen %r" % gen
    want = {"/small.txt": SMALL, "/big.bin": BIG}.get(path)
    want = want[gen] if want else ("gen %s\n" % gen).encode()
    return "" if body == want else "body of %s is not %s's (%d bytes)" % (path, gen, len(body))


class Load:
    """Clients in threads, keep-alive and one connection per request, until stopped."""

    def __init__(self, port, paths, keepalive=3, fresh=2):
        self.port, self.paths = port, paths
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.ok, self.errors, self.mixed, self.seen = 0, [], [], {"A": 0, "B": 0}
        self.threads = [threading.Thread(target=self.run, args=(i, i < keepalive))
                        for i in range(keepalive + fresh)]

    def record(self, path, resp, body):
        gen = resp.getheader("X-Gen")
        bad = judge(path, resp.status, gen, body)
        with self.lock:
            if bad:
                self.mixed.append(bad)
            else:
                self.ok += 1
                self.seen[gen] += 1

    def run(self, i, keepalive):
        conn, k = None, i
        while not self.stop.is_set():
            path = self.paths[k % len(self.paths)]
            k += 1
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                conn.request("GET", path, headers={} if keepalive else {"Connection": "close"})
                resp = conn.getresponse()
                body = resp.read()
                self.record(path, resp, body)
                if not keepalive or resp.will_close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as e:
                with self.lock:
                    self.errors.append("%s %s: %r" % ("keep-alive" if keepalive else "new", path, e))
                if conn:
                    conn.close()
                conn = None
        if conn:
            conn.close()

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(30)


def get(port, path):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.request("GET", path, headers={"Connection": "close"})
        r = c.getresponse()
        return r.status, r.getheader("X-Gen"), r.read()
    finally:
        c.close()


def wait_gen(port, gen, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        status, g, body = get(port, "/small.txt")
        if g == gen:
            assert body == SMALL[gen]
            return
        assert time.monotonic() < deadline, "generation %s not in force (got %s)" % (gen, g)
        time.sleep(0.02)


def stop_clean(site):
    rc, err = site.spate.stop()
    assert rc == 0, "spate exited %s: %s" % (rc, err[-3000:])
    assert "AddressSanitizer" not in err and "runtime error" not in err, err[-3000:]
    assert not site.pid.exists(), "the pid file outlived the process"
    return err


def test_reload_storm_under_load(tmp_path, make_site):
    site = make_site(supports(tmp_path, 'return 200 "x"'))
    site.start("A")
    assert int(site.pid.read_text()) == site.spate.proc.pid
    paths = ["/small.txt", "/big.bin"] + (["/health"] if site.with_return else [])
    # warm both workers' caches, then count descriptors: later ones must come back to this
    for _ in range(20):
        for p in paths:
            assert judge(p, *get(site.port, p)) == ""
    fds_before = site.fds()
    t0 = time.monotonic()
    with Load(site.port, paths) as load:
        time.sleep(0.5)
        for i in range(20):
            n = site.reloads_done()
            site.write("B" if i % 2 == 0 else "A")
            site.reload(with_s=(i % 4 == 3))  # every fourth through `spate -s reload`
            site.wait_reloaded(n)
            time.sleep(0.1)
        time.sleep(0.3)
    elapsed = time.monotonic() - t0
    assert not load.errors, "%d errors, first: %s" % (len(load.errors), load.errors[:5])
    assert not load.mixed, "%d mixed or wrong responses, first: %s" % (len(load.mixed),
                                                                       load.mixed[:5])
    assert load.seen["A"] > 50 and load.seen["B"] > 50, load.seen
    print("reload storm: %d responses in %.1f s, none failed or mixed (A %d, B %d; return %s)"
          % (load.ok, elapsed, load.seen["A"], load.seen["B"],
             "included" if site.with_return else "not in this build"))
    wait_gen(site.port, "A")
    if site.with_return:
        assert get(site.port, "/health") == (200, "A", b"gen A\n")
    log = site.log()
    assert "reload failed" not in log, log[-3000:]
    # every older configuration is freed once the workers are done with it, descriptors too;
    # the file caches stay (the roots are the same directories each time), so each of the two
    # workers may also hold root B's big.bin open: at most one more descriptor per worker
    deadline = time.monotonic() + 10
    while len(re.findall(r"configuration \d+ freed", site.log())) < 20 or \
            site.fds() > fds_before + 2:
        assert time.monotonic() < deadline, "fds %d > %d before, or configurations kept:\n%s" % (
            site.fds(), fds_before, site.log()[-3000:])
        time.sleep(0.05)
    err = stop_clean(site)
    # both workers served, and every response has exactly one access-log line
    workers = re.findall(r"stats worker=(\d+) requests=(\d+)", err)
    assert len([w for w, n in workers if w != "total" and int(n) > 0]) == 2, workers
    lines = site.access.read_text().splitlines()
    assert {l.split()[0] for l in lines} == {"1", "2"}
    m = re.search(r"stats worker=total requests=(\d+)", err)
    assert m and len(lines) == int(m.group(1)), (len(lines), m and m.group(1))


def test_broken_reload_keeps_the_running_configuration(tmp_path, make_site):
    site = make_site()
    site.start("A")
    good = site.text("B")
    cases = [  # what is appended, the word on the faulty line, the message
        ("server {\n  rooot /x;\n}\n", "rooot", r"spate\.conf:(\d+): unknown directive \"rooot\""),
        ("server {\n  listen 127.0.0.1:%d;\n  root %s/missing;\n}\n" % (free_port(), tmp_path),
         "missing", r"spate\.conf:(\d+): document root .*missing.* is not usable"),
        ("server {\n  listen 127.0.0.1:%d;\n  root %s;\n  access_log %s/other.log;\n}\n"
         % (free_port(), tmp_path / "rootB", tmp_path), "other.log",
         r"spate\.conf:(\d+): access_log .*other\.log.* is not open in the running server"),
    ]
    for tail, word, pattern in cases:
        text = good + tail
        site.conf.write_text(text)
        before = site.log().count("reload failed")
        site.spate.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while site.log().count("reload failed") == before:
            assert time.monotonic() < deadline, site.log()[-2000:]
            time.sleep(0.02)
        line = [l for l in site.log().splitlines() if "reload failed" in l][-1]
        m = re.search(pattern, line)
        assert m, line
        bad_line = next(n for n, l in enumerate(text.splitlines(), 1) if word in l)
        assert int(m.group(1)) == bad_line, (line, bad_line)
        assert "the running configuration stays" in line
        assert get(site.port, "/small.txt") == (200, "A", SMALL["A"])
    # and the next good file goes through
    site.write("B")
    n = site.reload()
    site.wait_reloaded(n)
    wait_gen(site.port, "B")
    stop_clean(site)


def test_reload_adds_and_removes_an_address(tmp_path, make_site):
    site = make_site()
    site.start("A")
    extra = free_port()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", extra), timeout=2).close()
    site.write("A", extra_port=extra)
    site.wait_reloaded(site.reload())
    assert get(extra, "/small.txt") == (200, "C", SMALL["C"])
    # every worker accepts on the new address: new connections spread over both
    for _ in range(40):
        assert get(extra, "/big.bin")[1] == "C"
    # one idle keep-alive connection on each address, then the extra one goes away
    keep_main = http.client.HTTPConnection("127.0.0.1", site.port, timeout=10)
    keep_extra = socket.create_connection(("127.0.0.1", extra), timeout=10)
    keep_main.request("GET", "/small.txt")
    assert keep_main.getresponse().read() == SMALL["A"]
    keep_extra.sendall(b"GET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n")
    got = b""
    while not got.endswith(SMALL["C"]):
        got += keep_extra.recv(65536)
    site.write("A")
    site.wait_reloaded(site.reload())
    deadline = time.monotonic() + 5
    while True:  # refused once every worker has closed its socket
        try:
            socket.create_connection(("127.0.0.1", extra), timeout=1).close()
        except ConnectionRefusedError:
            break
        assert time.monotonic() < deadline, "the removed address still accepts"
        time.sleep(0.05)
    # its idle connection is closed with a FIN (no RST), the other goes on
    keep_extra.settimeout(5)
    assert keep_extra.recv(100) == b""
    keep_extra.close()
    keep_main.request("GET", "/small.txt")
    r = keep_main.getresponse()
    assert (r.getheader("X-Gen"), r.read()) == ("A", SMALL["A"])
    keep_main.close()
    assert "reload: listening on http://127.0.0.1:%d" % extra in site.log()
    stop_clean(site)


def test_stream_finishes_under_its_configuration(tmp_path, make_site):
    if not supports(tmp_path, "test_stream 1k"):
        pytest.skip("test handlers not built (SPATE_TEST_HANDLERS)")
    site = make_site()
    stream = "  location /stream { test_stream 256k 8k 10ms; }\n"
    site.conf.write_text(site.text("A", server=stream))
    site.spate = Spate(["-c", str(site.conf)]).start()
    s = socket.create_connection(("127.0.0.1", site.port), timeout=10)
    s.sendall(b"GET /stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    got = s.recv(4096)
    assert got.startswith(b"HTTP/1.1 200")
    site.conf.write_text(site.text("B", server=stream))
    site.wait_reloaded(site.reload())
    wait_gen(site.port, "B")
    # the stream is still going: the configuration it was routed under is still there
    assert "configuration 1 freed" not in site.log()
    while True:
        d = s.recv(65536)
        if not d:
            break
        got += d
    s.close()
    head, _, body = got.partition(b"\r\n\r\n")
    assert b"X-Gen: A" in head  # routed before the reload
    data, rest = b"", body
    while True:  # de-chunk
        size, _, rest = rest.partition(b"\r\n")
        n = int(size, 16)
        if n == 0:
            break
        data, rest = data + rest[:n], rest[n + 2:]
    assert data == bytes(i % 251 for i in range(256 * 1024))
    deadline = time.monotonic() + 5
    while "configuration 1 freed" not in site.log():
        assert time.monotonic() < deadline, site.log()[-2000:]
        time.sleep(0.05)
    stop_clean(site)


def test_timeouts_follow_a_reload(tmp_path, make_site):
    """An idle keep-alive connection armed under keepalive_timeout 60s closes about 1 s after
    a reload to 1s: armed timers take the new duration, counted from when they were armed."""
    site = make_site()
    site.conf.write_text(site.text("A", main="keepalive_timeout 60s;"))
    site.spate = Spate(["-c", str(site.conf)]).start()
    c = socket.create_connection(("127.0.0.1", site.port), timeout=10)
    c.sendall(b"GET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n")
    got = b""
    while not got.endswith(SMALL["A"]):
        got += c.recv(65536)
    site.conf.write_text(site.text("A", main="keepalive_timeout 1s;"))
    t = time.monotonic()
    site.wait_reloaded(site.reload())
    assert c.recv(100) == b""  # closed by the idle timer, not at the 60 s it was armed with
    assert time.monotonic() - t < 5
    c.close()
    stop_clean(site)


def test_signal_option(tmp_path, make_site):
    site = make_site()
    r = subprocess.run([BIN, "-s", "bogus", "-c", "x"], capture_output=True, text=True)
    assert r.returncode != 0 and "reload, reopen, stop, quit, drain or upgrade" in r.stderr
    r = subprocess.run([BIN, "-s", "reload"], capture_output=True, text=True)
    assert r.returncode != 0 and "-c FILE" in r.stderr
    nopid = tmp_path / "nopid.conf"
    nopid.write_text("server {\n listen 127.0.0.1:0;\n root %s;\n}\n" % tmp_path)
    r = subprocess.run([BIN, "-s", "reload", "-c", str(nopid)], capture_output=True, text=True)
    assert r.returncode != 0 and "names no pid file" in r.stderr
    site.write("A")
    r = subprocess.run([BIN, "-s", "reload", "-c", str(site.conf)], capture_output=True,
                       text=True)
    assert r.returncode != 0 and "spate.pid" in r.stderr  # nothing runs yet
    site.start("A")
    site.write("B")
    site.wait_reloaded(site.reload(with_s=True))
    wait_gen(site.port, "B")
    r = subprocess.run([BIN, "-s", "quit", "-c", str(site.conf)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert site.spate.proc.wait(timeout=20) == 0
    assert not site.pid.exists()


def test_file_cache_stays_warm_for_unchanged_roots(tmp_path, make_site):
    """A reload keeps the cache of a root that names the same directory (a file rewritten in
    place is still the cached one within open_file_cache_valid), and a root whose path now
    names another directory (a symlink switched to a new release) is never answered from it."""
    site = make_site()
    releases = tmp_path / "releases"
    for rel, body in (("r1", b"release one\n"), ("r2", b"release two\n")):
        (releases / rel).mkdir(parents=True)
        (releases / rel / "app.txt").write_bytes(body)
    current = tmp_path / "current"
    os.symlink(releases / "r1", current)
    main = "open_file_cache_valid 60s;"
    server = "  location /app/ { alias %s/; }\n" % current
    # one worker: the request after the reload must meet the cache the first one filled
    site.conf.write_text(site.text("A", main=main, server=server).replace("workers 2;",
                                                                         "workers 1;"))
    site.spate = Spate(["-c", str(site.conf)]).start()
    try:
        assert get(site.port, "/small.txt")[2] == SMALL["A"]
        assert get(site.port, "/app/app.txt")[2] == b"release one\n"
        # rewritten in place, same size: only a check (60 s away) would see it
        (tmp_path / "rootA" / "small.txt").write_bytes(SMALL["A"].lower())
        n = site.reload()
        site.wait_reloaded(n)
        assert get(site.port, "/small.txt")[2] == SMALL["A"]  # the cache stayed warm
        # the deploy switches the symlink, then reloads: the new release at once
        os.symlink(releases / "r2", tmp_path / "next")
        os.replace(tmp_path / "next", current)
        n = site.reload()
        site.wait_reloaded(n)
        for _ in range(4):  # every worker
            assert get(site.port, "/app/app.txt")[2] == b"release two\n"
    finally:
        stop_clean(site)
