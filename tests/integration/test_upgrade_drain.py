"""Binary upgrade (SIGUSR2, spate -s upgrade) and drain (SIGWINCH, spate -s drain).

Upgrade: the new binary takes the listening sockets; under continuous load from several clients
ten upgrades in a row lose no connection and no access-log line. A new binary that fails leaves
the old one serving, with its pid file. Drain: health; answers 503 for drain_delay while the rest
is served, then spate stops accepting and exits; HAProxy in front of two spates takes the
draining one out of rotation with no failed request.
"""
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time

import pytest

from conftest import BIN

HAPROXY = shutil.which("haproxy") or ("/usr/sbin/haproxy" if os.path.exists("/usr/sbin/haproxy")
                                      else None)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (the launcher has not reaped it yet) has exited
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


def answers(port):
    """True when GET / on port is answered 200."""
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        c.request("GET", "/")
        ok = c.getresponse().status == 200
        c.close()
        return ok
    except OSError:
        return False


def wait_for(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


class Site:
    """A spate run from a copy of the binary (so a test can replace the file), with a pid file,
    an error log and an access log; stderr of every process that follows goes to one file."""

    def __init__(self, tmp, port=None, server="", main="", name="s", env=None, workers=2):
        self.tmp = tmp
        self.port = port or free_port()
        self.bin = tmp / ("spate-" + name)
        shutil.copy(BIN, self.bin)
        self.conf = tmp / (name + ".conf")
        self.pid = tmp / (name + ".pid")
        self.errlog = tmp / (name + ".error.log")
        self.access = tmp / (name + ".access.log")
        self.stderr = tmp / (name + ".stderr")
        root = tmp / (name + "-root")
        root.mkdir(exist_ok=True)
        (root / "index.html").write_text("hello from %s\n" % name)
        (root / "big.bin").write_bytes(os.urandom(300000))
        # `user root;`: the new binary reads pytest's directories (root's, 0700) again
        self.conf.write_text(
            "user root;\nworkers %d;\npid %s;\nerror_log %s info;\n%s\n"
            "log_format up '$request_uri $status';\n"
            "http {\n  access_log %s up;\n  server {\n    listen 127.0.0.1:%d;\n    root %s;\n"
            "    location = /healthz { health; }\n    location = /metrics { metrics; }\n%s\n"
            "  }\n}\n" % (workers, self.pid, self.errlog, main, self.access, self.port, root, server))
        env = dict(os.environ, **(env or {}))
        env.setdefault("ASAN_OPTIONS", "abort_on_error=0:detect_leaks=1:exitcode=66")
        self.err = open(self.stderr, "wb")
        self.proc = subprocess.Popen([str(self.bin), "-c", str(self.conf)],
                                     stdout=subprocess.DEVNULL, stderr=self.err, env=env)
        wait_for(lambda: self.pid.exists() and self.pid.read_text().strip(), 20,
                 "spate did not write its pid file:\n" + self.log())
        wait_for(self.answers, 20, "spate does not answer")

    def log(self):
        return self.errlog.read_text(errors="replace") if self.errlog.exists() else ""

    def pidnow(self):
        try:
            return int(self.pid.read_text())
        except (FileNotFoundError, ValueError):
            return 0

    def answers(self):
        return answers(self.port)

    def ctl(self, name):
        r = subprocess.run([str(self.bin), "-s", name, "-c", str(self.conf)],
                           capture_output=True, timeout=30)
        assert r.returncode == 0, r.stderr.decode()

    def stop(self):
        if self.err.closed:
            return
        pid = self.pidnow()
        if pid and alive(pid):
            os.kill(pid, signal.SIGQUIT)
            wait_for(lambda: not alive(pid), 30, "spate %d did not exit" % pid)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            self.proc.wait(timeout=30)
        self.err.close()
        err = self.stderr.read_text(errors="replace")
        assert "AddressSanitizer" not in err and "runtime error" not in err, err[-3000:]


class Load:
    """Clients in threads until stopped: keep-alive ones (a request that finds its reused
    connection closed before any byte of an answer is sent again, as RFC 9112 9.3.1 lets an
    idempotent one be) and one-connection-per-request ones. Every answer is checked."""

    def __init__(self, port, nkeep=2, nclose=2, path="/"):
        self.port, self.path = port, path
        self.stop_ev = threading.Event()
        self.ok, self.failures, self.retries = [], [], 0
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(k, i))
                        for i, k in enumerate([True] * nkeep + [False] * nclose)]
        for t in self.threads:
            t.start()

    def one(self, conn, uri):
        conn.request("GET", uri)
        r = conn.getresponse()
        body = r.read()
        if r.status != 200 or not body.startswith(b"hello"):
            raise RuntimeError("status %d body %r" % (r.status, body[:60]))
        return r

    def run(self, keep, tid):
        n = 0
        conn = None
        while not self.stop_ev.is_set():
            n += 1
            uri = "%s?t=%d&n=%d" % (self.path, tid, n)
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                    fresh = True
                else:
                    fresh = False
                try:
                    r = self.one(conn, uri)
                except (http.client.RemoteDisconnected, BrokenPipeError,
                        ConnectionResetError) as e:
                    # a reused connection the server closed while idle: send again, once
                    if fresh or not keep:
                        raise
                    conn.close()
                    with self.lock:
                        self.retries += 1
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                    r = self.one(conn, uri)
                with self.lock:
                    self.ok.append(uri)
                if not keep or r.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except Exception as e:  # every other failure counts
                with self.lock:
                    self.failures.append("%s: %r" % (uri, e))
                if conn:
                    conn.close()
                conn = None
                time.sleep(0.01)

    def finish(self):
        self.stop_ev.set()
        for t in self.threads:
            t.join(timeout=30)


def test_ten_upgrades_under_load_lose_nothing(tmp_path):
    site = Site(tmp_path)
    load = None
    try:
        load = Load(site.port)
        time.sleep(0.5)
        pids = [site.pidnow()]
        for i in range(10):
            old = site.pidnow()
            site.ctl("upgrade")
            wait_for(lambda: site.pidnow() not in (0, old), 60,
                     "upgrade %d: no new pid\n%s" % (i, site.log()[-3000:]))
            new = site.pidnow()
            # the old one keeps its pid in PIDFILE.oldbin until it exits, as nginx's does
            wait_for(lambda: not alive(old), 30, "old %d did not exit" % old)
            oldbin = site.pid.with_name(site.pid.name + ".oldbin")
            wait_for(lambda: not oldbin.exists(), 10, "%s stays" % oldbin)
            assert alive(new)
            pids.append(new)
            time.sleep(0.3)
        load.finish()
        assert len(set(pids)) == 11
        assert not load.failures, load.failures[:10]
        assert len(load.ok) > 100
        assert "upgrade failed" not in site.log()
        assert site.log().count("took 2 listening socket(s) from the old process") == 10
    finally:
        if load:
            load.finish()
        site.stop()
    # every answer a client got is in the access log, once; nothing else is
    logged = [l.split()[0] for l in site.access.read_text().splitlines()]
    got = [u for u in load.ok]
    assert sorted(l for l in logged if "?t=" in l) == sorted(got)
    print("answered %d, resent on a closed idle connection %d" % (len(got), load.retries))


def test_upgrades_to_fewer_and_more_workers_lose_nothing(tmp_path):
    """The new binary may run fewer workers than the old (the configuration changed): the
    sockets it does not need one per worker are still in the address's SO_REUSEPORT group, and
    the kernel goes on handing them connections, so it accepts on those too."""
    site = Site(tmp_path, workers=4)
    load = None
    try:
        load = Load(site.port, nkeep=1, nclose=3)
        time.sleep(0.3)
        for workers in (2, 1, 3, 1):
            old = site.pidnow()
            site.conf.write_text(re.sub(r"workers \d+;", "workers %d;" % workers,
                                        site.conf.read_text()))
            site.ctl("upgrade")
            wait_for(lambda: site.pidnow() not in (0, old), 60, site.log()[-3000:])
            wait_for(lambda: not alive(old), 30, "old %d did not exit" % old)
            time.sleep(0.5)  # the old one's sockets, if it left any behind, are closed now
        load.finish()
        assert not load.failures, load.failures[:10]
        assert len(load.ok) > 100
        log = site.log()
        # every socket passes on: 4 from the first, then 4 (2 of them shared), ...
        assert log.count("took 4 listening socket(s) from the old process") == 4, log[-3000:]
    finally:
        if load:
            load.finish()
        site.stop()


def test_a_failed_new_binary_leaves_the_old_serving(tmp_path):
    site = Site(tmp_path)
    try:
        old = site.pidnow()
        good = tmp_path / "spate-good"
        shutil.copy(site.bin, good)
        bad = tmp_path / "bad"
        bad.write_text("#!/bin/sh\necho 'broken on purpose' >&2\nexit 3\n")
        bad.chmod(0o755)
        os.replace(bad, site.bin)  # what a broken package would install
        os.kill(old, signal.SIGUSR2)
        wait_for(lambda: "upgrade failed" in site.log(), 30, site.log()[-2000:])
        assert re.search(r"upgrade failed: the new binary .* exited with status 3", site.log())
        assert site.pidnow() == old and alive(old)
        assert not site.pid.with_name(site.pid.name + ".oldbin").exists()
        assert site.answers()
        # a binary that never says ready is as bad: here one that just sleeps is killed in
        # UPGRADE_READY_MS (60 s), too long for a test; the exit path above is the same one
        os.replace(good, site.bin)
        os.kill(old, signal.SIGUSR2)
        wait_for(lambda: site.pidnow() not in (0, old), 60, site.log()[-2000:])
        wait_for(lambda: not alive(old), 30, "old did not exit")
        assert site.answers()
    finally:
        site.stop()


def test_drain_fails_health_then_exits(tmp_path):
    site = Site(tmp_path, main="drain_delay 1500ms;")
    try:
        pid = site.pidnow()
        c = http.client.HTTPConnection("127.0.0.1", site.port, timeout=5)
        c.request("GET", "/healthz")
        r = c.getresponse()
        assert (r.status, r.read()) == (200, b"ok\n")
        c.close()
        t0 = time.monotonic()
        site.ctl("drain")
        wait_for(lambda: "SIGWINCH: draining" in site.log(), 10, site.log())
        c = http.client.HTTPConnection("127.0.0.1", site.port, timeout=5)
        c.request("GET", "/healthz")
        r = c.getresponse()
        assert r.status == 503 and r.read() == b"draining\n"
        assert r.getheader("Retry-After") and r.getheader("Connection") == "close"
        c.close()
        # everything else is still served during the delay
        assert site.answers()
        c = http.client.HTTPConnection("127.0.0.1", site.port, timeout=5)
        c.request("GET", "/metrics")
        assert re.search(rb"^spate_draining 1$", c.getresponse().read(), re.M)
        c.close()
        wait_for(lambda: not alive(pid), 20, "spate did not exit after the drain")
        took = time.monotonic() - t0
        assert took >= 1.4, took
        assert "drain: the delay is over" in site.log() and "exited" in site.log()
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", site.port), timeout=2).recv(1)
    finally:
        site.stop()


def test_bad_signal_name_lists_them():
    r = subprocess.run([BIN, "-s", "bogus", "-c", "/nonexistent"], capture_output=True)
    assert r.returncode != 0
    assert b"reload, reopen, stop, quit, drain or upgrade" in r.stderr


@pytest.mark.skipif(HAPROXY is None, reason="haproxy is not installed (apt-get install haproxy)")
def test_haproxy_drains_one_of_two_with_no_failed_request(tmp_path):
    a = Site(tmp_path, name="a", main="drain_delay 2s;")
    b = Site(tmp_path, name="b")
    front = free_port()
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text("""
global
  maxconn 200
defaults
  mode http
  timeout connect 2s
  timeout client 10s
  timeout server 10s
  retries 0
frontend fe
  bind 127.0.0.1:%d
  default_backend spates
backend spates
  balance roundrobin
  option httpchk GET /healthz
  http-check expect status 200
  default-server inter 200ms fall 1 rise 2
  server a 127.0.0.1:%d check
  server b 127.0.0.1:%d check
""" % (front, a.port, b.port))
    hp = subprocess.Popen([HAPROXY, "-f", str(cfg), "-db"], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE)
    load = None
    try:
        wait_for(lambda: answers(front), 20, "haproxy does not answer")
        time.sleep(1)  # both servers up (rise 2)
        load = Load(front, nkeep=2, nclose=2)
        time.sleep(1)
        apid = a.pidnow()
        a.ctl("drain")
        wait_for(lambda: not alive(apid), 30, "a did not exit")
        time.sleep(0.5)
        load.finish()
        assert not load.failures, load.failures[:10]
        assert load.retries == 0  # haproxy keeps its own connections to the servers
        b.stop()  # its log writer has written every line once it has exited
        served = [l.split()[0] for l in a.access.read_text().splitlines() if "?t=" in l]
        servedb = [l.split()[0] for l in b.access.read_text().splitlines() if "?t=" in l]
        assert served and servedb
        assert len(served) + len(servedb) == len(load.ok)
    finally:
        if load:
            load.finish()
        hp.terminate()
        hp.wait(timeout=10)
        a.stop()
        b.stop()


def test_sd_notify_ready_reload_stop_and_upgrade(tmp_path):
    """What a Type=notify unit hears (packaging/spate.service.in), from a socket of our own."""
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    os.chmod(path, 0o777)  # spate runs as nobody by then, as systemd's socket allows
    sock.settimeout(20)

    def hear():
        return dict(l.split("=", 1) for l in sock.recv(4096).decode().splitlines())

    site = Site(tmp_path, env={"NOTIFY_SOCKET": path})
    try:
        first = site.pidnow()
        m = hear()
        assert m["READY"] == "1" and "serving: 2 workers" in m["STATUS"] and "MAINPID" not in m
        os.kill(first, signal.SIGHUP)
        m = hear()
        assert m["RELOADING"] == "1" and int(m["MONOTONIC_USEC"]) > 0
        m = hear()
        assert m["READY"] == "1" and "reloaded" in m["STATUS"]
        site.ctl("upgrade")
        m = hear()  # from the new process: it is the service now
        wait_for(lambda: site.pidnow() not in (0, first), 30, site.log()[-2000:])
        assert m["READY"] == "1" and int(m["MAINPID"]) == site.pidnow() != first
        wait_for(lambda: not alive(first), 30, "old did not exit")
        sock.settimeout(0.5)
        with pytest.raises(socket.timeout):
            sock.recv(4096)  # the old one says nothing: no STOPPING=1 for the service
        sock.settimeout(20)
        os.kill(site.pidnow(), signal.SIGQUIT)
        m = hear()
        assert m["STOPPING"] == "1"
    finally:
        site.stop()
        sock.close()
