"""The access log under faults: a full disk, a log writer stopped (ptrace), and every signal
during both. Serving goes on, requests wait at most access_log_wait, lost lines are counted
exactly and summarized in the log when it recovers, writing resumes by itself, and SIGTERM
always exits within drain_timeout plus a second (a second signal at once)."""
import ctypes
import os
import re
import signal
import subprocess
import time

import pytest

from conftest import BIN, Spate

LOADGEN = os.environ.get("SPATE_LOADGEN") or os.path.join(
    os.path.dirname(BIN), "tests", "loadgen")
SUMMARY = re.compile(r"^# spate: worker \d+ dropped (\d+) access log line\(s\) between ")
CLF = re.compile(r'^\S+ \S+ \S+ \[[^\]]+\] "GET (/hello\.txt|/index\.html)\?id=(\d+) '
                 r'HTTP/1\.1" 200 \d+$')

libc = ctypes.CDLL(None, use_errno=True)
PTRACE_DETACH, PTRACE_SEIZE, PTRACE_INTERRUPT = 17, 0x4206, 0x4207
WALL = 0x40000000  # waitpid(__WALL): the traced task is a thread, not our child


def loadgen(port, conns, total, depth=4, path="/hello.txt"):
    r = subprocess.run([LOADGEN, str(port), str(conns), str(total), str(depth), path],
                       capture_output=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout.decode()


def write_conf(tmp_path, log, errlog, extra=""):
    conf = tmp_path / "spate.conf"
    # `user root;`: the log faults need a log the process can make anew in pytest's directory
    conf.write_text("user root;\nworkers 2;\ndrain_timeout 1s;\naccess_log %s;\n"
                    "error_log %s info;\n"
                    "access_log_buffer 64k;\naccess_log_wait 300ms;\n%s\n"
                    "server {\n  listen 127.0.0.1:0;\n  root %s;\n}\n"
                    % (log, errlog, extra, tmp_path / "www"))
    return conf


def count(log_text):
    """(request lines, lines the summaries say were dropped); every line is one or the other."""
    ids, dropped = [], 0
    for line in log_text.splitlines():
        m = CLF.match(line)
        if m:
            ids.append((m.group(1), int(m.group(2))))
            continue
        m = SUMMARY.match(line)
        assert m, "neither a request nor a summary: %r" % line
        dropped += int(m.group(1))
    assert len(ids) == len(set(ids)), "a line was written twice"
    return len(ids), dropped


def wait_for(pred, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.1)
    return False


class FullDisk:
    """spate in a mount namespace of its own, its log on a 1 MiB tmpfs that is nearly full."""

    def __init__(self, tmp_path, extra=""):
        self.logs = tmp_path / "logs"
        self.logs.mkdir()
        self.errlog = tmp_path / "error.log"
        conf = write_conf(tmp_path, self.logs / "access.log", self.errlog, extra)
        # a sleeper keeps the namespace (and the tmpfs) after spate exits, for reading the log
        self.holder = tmp_path / "holder.pid"
        script = ('mount -t tmpfs -o size=1m tmpfs "$0" && '
                  'head -c 1032192 /dev/zero > "$0/filler" 2>/dev/null; '
                  'sleep 600 </dev/null >/dev/null 2>&1 & echo $! > %s; exec "$@"' % self.holder)
        self.s = Spate(["-c", str(conf)])
        self.s.args = ["unshare", "-m", "--propagation", "private", "sh", "-c", script,
                       str(self.logs), BIN, "-c", str(conf)]

    def start(self):
        if os.geteuid() != 0:
            pytest.skip("needs root for a private tmpfs")
        try:
            self.s.start()
        except RuntimeError as e:
            if "mount" in str(e) or "unshare" in str(e):
                pytest.skip("cannot mount a tmpfs here: %s" % e)
            raise
        return self

    def path(self, name):
        # the test sees spate's tmpfs through the root of a process in its namespace
        return "/proc/%d/root%s/%s" % (int(self.holder.read_text()), self.logs, name)

    def release(self):
        try:
            os.kill(int(self.holder.read_text()), signal.SIGKILL)
        except (OSError, ValueError):
            pass

    def log_text(self):
        with open(self.path("access.log"), "rb") as f:
            return f.read().decode()


def test_full_disk_serving_goes_on_drops_are_exact_writing_resumes(tmp_path, docroot):
    fd = FullDisk(tmp_path).start()
    try:
        out = loadgen(fd.s.port, 40, 20000)
        assert "responses 20000 status2xx 20000" in out  # nobody waited for the disk
        time.sleep(1)
        assert "No space left on device" in fd.errlog.read_text()
        os.unlink(fd.path("filler"))  # space again: the log goes on by itself
        assert wait_for(lambda: "dropped" in fd.log_text()), "no summary line after recovery"
        before = len(fd.log_text())
        out = loadgen(fd.s.port, 4, 400, depth=1, path="/index.html")
        assert "responses 400 status2xx 400" in out
        assert wait_for(lambda: len(fd.log_text()) > before + 400 * 50), "writing did not resume"
        rc, err = fd.s.stop(timeout=30)
        assert rc == 0, err
        text = fd.log_text()  # every line written at exit is in it now
    finally:
        if fd.s.proc.poll() is None:
            fd.s.stop(timeout=30)
        fd.release()
    written, dropped = count(text)
    assert dropped > 0
    assert written + dropped == 20400, (written, dropped)
    assert "line(s) dropped" in fd.errlog.read_text()  # reported by the main thread too


def ptrace(op, tid):
    if libc.ptrace(op, tid, None, None) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def log_thread(pid):
    # the thread names itself once it runs, which on a loaded machine can come a little
    # after spate says it listens
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                if f.read().strip() == "spate-log":
                    return int(tid)
        time.sleep(0.02)
    raise AssertionError("no spate-log thread")


class Stopped:
    """The log writer thread of s, stopped with ptrace until release()."""

    def __init__(self, s):
        self.tid = log_thread(s.proc.pid)
        try:
            ptrace(PTRACE_SEIZE, self.tid)
        except OSError as e:
            pytest.skip("ptrace not permitted: %s" % e)
        ptrace(PTRACE_INTERRUPT, self.tid)
        os.waitpid(self.tid, WALL)
        self.attached = True

    def reap(self):
        try:
            os.waitpid(self.tid, WALL | os.WNOHANG)
        except ChildProcessError:
            pass

    def release(self):
        if self.attached:
            self.attached = False
            try:
                ptrace(PTRACE_DETACH, self.tid)
            except OSError:
                pass  # the process is gone


def test_stalled_writer_requests_wait_at_most_the_wait(tmp_path, docroot):
    log, errlog = tmp_path / "access.log", tmp_path / "error.log"
    s = Spate(["-c", str(write_conf(tmp_path, log, errlog))]).start()
    stopped = None
    try:
        stopped = Stopped(s)
        t0 = time.monotonic()
        out = loadgen(s.port, 40, 20000)
        took = time.monotonic() - t0
        assert "responses 20000 status2xx 20000" in out
        assert took < 20, "requests waited %.1f s for a stopped log writer" % took
        stopped.release()
        assert wait_for(lambda: "dropped" in log.read_text())
        text = log.read_text()
    finally:
        if stopped:
            stopped.release()
        rc, err = s.stop(timeout=30)
    assert rc == 0, err
    text = log.read_text()  # all of it: the writer may still have been at it above
    written, dropped = count(text)
    assert dropped > 0 and written + dropped == 20000, (written, dropped)
    # the workers' own messages went the way of their lines (through the stopped writer):
    # the main thread's report is what an operator sees
    assert "line(s) dropped since the last report" in errlog.read_text()


def stop_timed(s, signals, gap=0.3, stopped=None):
    """Seconds from the last signal to the exit (two signals of one kind would merge if the
    second came before the first was taken: hence the gap)."""
    for i, sig in enumerate(signals):
        if i:
            time.sleep(gap)
        t0 = time.monotonic()
        s.proc.send_signal(sig)
    deadline = t0 + 30
    while s.proc.poll() is None and time.monotonic() < deadline:
        if stopped:
            stopped.reap()  # a traced thread that died is ours to reap, or the process lingers
        time.sleep(0.01)
    assert s.proc.poll() is not None, "spate did not exit"
    return time.monotonic() - t0


@pytest.mark.parametrize("signals", [[signal.SIGTERM], [signal.SIGINT],
                                     [signal.SIGTERM, signal.SIGTERM], [signal.SIGQUIT]])
def test_signals_with_a_full_disk(tmp_path, docroot, signals):
    fd = FullDisk(tmp_path).start()
    try:
        # in flight when the signal comes: a download that is not read holds the drain
        sock = fd.s.connect()
        sock.sendall(b"GET /medium.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.recv(100)
        loadgen(fd.s.port, 10, 3000)
        took = stop_timed(fd.s, signals)
        sock.close()
    finally:
        fd.release()
    err = fd.s.proc.stderr.read().decode(errors="replace")
    assert fd.s.proc.returncode == 0, err
    limit = 1.0 + 1.0 + 0.5 if len(signals) == 1 else 1.2
    assert took < limit, "exit took %.2f s (%s)" % (took, signals)
    errors = fd.errlog.read_text()
    assert re.search(r"not written|dropped", errors), errors


@pytest.mark.parametrize("signals", [[signal.SIGTERM], [signal.SIGINT, signal.SIGINT]])
def test_signals_with_a_stalled_writer(tmp_path, docroot, signals):
    log, errlog = tmp_path / "access.log", tmp_path / "error.log"
    s = Spate(["-c", str(write_conf(tmp_path, log, errlog))]).start()
    stopped = Stopped(s)
    try:
        loadgen(s.port, 10, 3000)
        took = stop_timed(s, signals, stopped=stopped)
    finally:
        stopped.release()
    err = s.proc.stderr.read().decode(errors="replace")
    assert s.proc.returncode == 0, err
    limit = 1.0 + 1.0 + 0.5 if len(signals) == 1 else 1.2
    assert took < limit, "exit took %.2f s with the log writer stopped" % took
    assert "not written" in errlog.read_text() + err
