"""Least privilege (issue 12): `user`, the default drop to nobody, `user root`, supplementary
groups, the Landlock sandbox (`sandbox on|off`), the seccomp filter (`seccomp on|off`).

Spate is started as root (the tests skip otherwise) and /proc/PID/status is read for the ids,
the groups, NoNewPrivs and Seccomp. Landlock is shown to refuse what the user's permissions
allow: a reload that adds a root outside the paths spate started with (with `sandbox off` the
same reload succeeds), and a user's public_html made after start (served with `sandbox off`).
A symlink planted to /etc in the docroot after start is never followed (openat2's
RESOLVE_BENEATH refuses it before Landlock would: spate has no rule that allows it)."""
import ctypes
import os
import pwd
import grp
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest

from conftest import BIN, Spate

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: spate must start as root "
                                "to drop its privileges")


def landlock_abi():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc.syscall(444, None, ctypes.c_size_t(0), ctypes.c_uint(1))  # VERSION flag


need_landlock = pytest.mark.skipif(landlock_abi() < 1, reason="the kernel has no Landlock")


def status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.split()
    return out


def get(s, path):
    try:
        with urllib.request.urlopen(s.url(path), timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def start(tmp_path, docroot, main="", server="", name="spate.conf"):
    conf = tmp_path / name
    log = tmp_path / "error.log"
    conf.write_text("workers 2;\nerror_log %s info;\naccess_log %s;\n%s\n"
                    "server {\n  listen 127.0.0.1:0;\n  root %s;\n%s\n}\n"
                    % (log, tmp_path / "access.log", main, docroot, server))
    return Spate(["-c", str(conf)]).start(), conf, log


def wait_log(log, text, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = log.read_text(errors="replace") if log.exists() else ""
        if text in body:
            return body
        time.sleep(0.05)
    raise AssertionError("%r not in the error log:\n%s" % (text, body))


def stop(s):
    rc, err = s.stop()
    assert rc == 0, "spate exited %s: %s" % (rc, err)
    assert "ERROR: AddressSanitizer" not in err and "runtime error" not in err, err


def check_ids(pid, uid, gid, user):
    st = status(pid)
    assert st["Uid"] == [str(uid)] * 4, st["Uid"]
    assert st["Gid"] == [str(gid)] * 4, st["Gid"]
    want = sorted(set(os.getgrouplist(user, gid)))
    assert sorted(int(g) for g in st["Groups"]) == want, st["Groups"]
    assert st["NoNewPrivs"] == ["1"]
    return st


def test_user_nobody(tmp_path, docroot):
    s, _, log = start(tmp_path, docroot, main="user nobody;")
    nobody = pwd.getpwnam("nobody")
    gid = grp.getgrnam("nogroup").gr_gid if "nogroup" in [g.gr_name for g in grp.getgrall()] \
        else nobody.pw_gid
    check_ids(s.proc.pid, nobody.pw_uid, gid, "nobody")
    # every thread, not just the main one
    for tid in os.listdir("/proc/%d/task" % s.proc.pid):
        st = status(int(tid))
        assert st["Uid"] == [str(nobody.pw_uid)] * 4, (tid, st["Uid"])
    assert get(s, "/hello.txt") == (200, b"hello, world\n")
    assert get(s, "/dir/sub/file.txt") == (200, b"deep file\n")
    body = wait_log(log, "running as user nobody")
    assert "started as root with no" not in body
    stop(s)
    # the access log was written through the descriptor opened as root, and is nobody's now
    assert "GET /hello.txt" in (tmp_path / "access.log").read_text()
    assert os.stat(tmp_path / "access.log").st_uid == nobody.pw_uid


def test_default_drops_to_nobody(tmp_path, docroot):
    s, _, log = start(tmp_path, docroot)
    nobody = pwd.getpwnam("nobody")
    assert status(s.proc.pid)["Uid"] == [str(nobody.pw_uid)] * 4
    assert get(s, "/hello.txt")[0] == 200
    wait_log(log, 'started as root with no "user" directive')
    stop(s)


def test_reload_as_nobody_fails_cleanly(tmp_path, docroot):
    """pytest's directories are root's (0700): nobody cannot read the file again. The reload
    fails with a sentence that says why, and the running configuration goes on serving."""
    s, conf, log = start(tmp_path, docroot)
    os.kill(s.proc.pid, signal.SIGHUP)
    body = wait_log(log, "reload failed")
    assert "runs as user nobody" in body, body
    assert get(s, "/hello.txt") == (200, b"hello, world\n")
    stop(s)


def test_user_root_keeps_root(tmp_path, docroot):
    s, _, log = start(tmp_path, docroot, main="user root;")
    st = status(s.proc.pid)
    assert st["Uid"] == ["0"] * 4
    assert st["NoNewPrivs"] == ["1"]
    assert get(s, "/hello.txt")[0] == 200
    wait_log(log, "[warn]")
    assert "keeps running as root" in log.read_text()
    stop(s)


@pytest.fixture
def test_user():
    """A user with a supplementary group, made for the test and removed after it."""
    if not shutil.which("useradd"):
        pytest.skip("no useradd")
    name, group = "spatepriv%d" % os.getpid(), "spateprivg%d" % os.getpid()
    subprocess.run(["groupadd", group], check=True)
    home = tempfile.mkdtemp(prefix="spate-home-", dir="/tmp")
    os.chmod(home, 0o755)
    subprocess.run(["useradd", "-M", "-d", home, "-G", group, "-s", "/usr/sbin/nologin", name],
                   check=True)
    yield name, group, home
    subprocess.run(["userdel", name], check=False)
    subprocess.run(["groupdel", group], check=False)
    shutil.rmtree(home, ignore_errors=True)


def test_user_and_group_with_supplementary_groups(tmp_path, docroot, test_user):
    name, group, _ = test_user
    pw = pwd.getpwnam(name)
    s, _, log = start(tmp_path, docroot, main="user %s;" % name)
    st = check_ids(s.proc.pid, pw.pw_uid, pw.pw_gid, name)
    assert grp.getgrnam(group).gr_gid in [int(g) for g in st["Groups"]]
    assert get(s, "/hello.txt")[0] == 200
    stop(s)
    # an explicit group replaces the user's own
    s, _, log = start(tmp_path, docroot, main="user %s nogroup;" % name, name="b.conf")
    check_ids(s.proc.pid, pw.pw_uid, grp.getgrnam("nogroup").gr_gid, name)
    stop(s)


@pytest.mark.parametrize("line, want", [
    ("user nosuchuser4711;", 'user "nosuchuser4711": no such user'),
    ("user nobody nosuchgroup4711;", "user nobody nosuchgroup4711: no such group"),
    ("chroot /nonexistent-4711;", 'chroot "/nonexistent-4711": No such file or directory'),
    ("sandbox maybe;", "sandbox"),
])
def test_config_errors(tmp_path, line, want):
    conf = tmp_path / "bad.conf"
    conf.write_text("%s\nserver { listen 127.0.0.1:0; root %s; }\n" % (line, tmp_path))
    r = subprocess.run([BIN, "-t", "-c", str(conf)], capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    assert "bad.conf:1:" in r.stderr and want in r.stderr, r.stderr


def test_symlink_to_etc_planted_after_start(tmp_path, docroot):
    s, _, _ = start(tmp_path, docroot)
    os.symlink("/etc", str(docroot / "link"))
    os.symlink("/etc/passwd", str(docroot / "pw"))
    for path in ("/link/passwd", "/pw", "/link/"):
        code, body = get(s, path)
        assert code in (403, 404), (path, code)
        assert b"root:" not in body
    stop(s)


@need_landlock
@pytest.mark.parametrize("sandbox", ["on", "off"])
def test_reload_outside_the_sandbox(tmp_path, docroot, sandbox):
    """As root (no permission stands in the way), a reload to a root outside what the sandbox
    allows fails, and the old root goes on serving; with `sandbox off` it is served."""
    other = tempfile.mkdtemp(prefix="spate-outside-", dir="/tmp")
    try:
        with open(os.path.join(other, "hello.txt"), "wb") as f:
            f.write(b"the other root\n")
        main = "user root;\nsandbox %s;" % sandbox
        s, conf, log = start(tmp_path, docroot, main=main)
        conf.write_text(conf.read_text().replace("root %s;" % docroot, "root %s;" % other))
        os.kill(s.proc.pid, signal.SIGHUP)
        if sandbox == "on":
            body = wait_log(log, "reload failed")
            assert "sandbox off" in body and other in body, body
            assert get(s, "/hello.txt") == (200, b"hello, world\n")
            assert "Landlock ABI" in body
        else:
            wait_log(log, "reloaded")
            assert get(s, "/hello.txt") == (200, b"the other root\n")
        stop(s)
    finally:
        shutil.rmtree(other, ignore_errors=True)


@need_landlock
@pytest.mark.parametrize("sandbox", ["on", "off"])
def test_userdir_made_after_start(tmp_path, docroot, test_user, sandbox):
    """A home the sandbox did not know at start: its files are refused under Landlock (root's
    permissions would allow them), served with `sandbox off`."""
    name, _, home = test_user
    other = tempfile.mkdtemp(prefix="spate-newhome-", dir="/tmp")
    try:
        os.chmod(other, 0o755)
        s, _, _ = start(tmp_path, docroot, main="user root;\nsandbox %s;\nuserdir on;" % sandbox)
        subprocess.run(["usermod", "-d", other, name], check=True)
        os.makedirs(os.path.join(other, "public_html"))
        with open(os.path.join(other, "public_html", "x.txt"), "wb") as f:
            f.write(b"public\n")
        code, body = get(s, "/~%s/x.txt" % name)
        if sandbox == "on":
            assert code in (403, 404), code
            assert body != b"public\n"
        else:
            assert (code, body) == (200, b"public\n")
        stop(s)
    finally:
        shutil.rmtree(other, ignore_errors=True)


@pytest.mark.parametrize("seccomp", ["on", "off"])
def test_seccomp_filter(tmp_path, docroot, seccomp):
    """Under the filter: static files, a listing, the access log, a reload and a reopen."""
    server = "  location /dir/ { autoindex on; }"
    s, conf, log = start(tmp_path, docroot, main="user root;\nseccomp %s;" % seccomp,
                         server=server)
    st = status(s.proc.pid)
    assert st["Seccomp"] == (["2"] if seccomp == "on" else ["0"])
    if seccomp == "on":
        for tid in os.listdir("/proc/%d/task" % s.proc.pid):
            assert status(int(tid))["Seccomp"] == ["2"], tid
    assert get(s, "/hello.txt") == (200, b"hello, world\n")
    assert get(s, "/medium.bin")[0] == 200
    code, body = get(s, "/dir/sub/")
    assert code == 200 and b"file.txt" in body
    os.kill(s.proc.pid, signal.SIGHUP)
    wait_log(log, "reloaded")
    assert get(s, "/hello.txt")[0] == 200
    os.rename(tmp_path / "access.log", tmp_path / "access.log.1")
    os.kill(s.proc.pid, signal.SIGUSR1)
    wait_log(log, "reopening logs")
    assert get(s, "/style.css")[0] == 200
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if (tmp_path / "access.log").exists() and \
                "GET /style.css" in (tmp_path / "access.log").read_text():
            break
        time.sleep(0.05)
    assert "GET /style.css" in (tmp_path / "access.log").read_text()
    assert "GET /hello.txt" in (tmp_path / "access.log.1").read_text()
    body = log.read_text()
    assert "[error]" not in body and "[crit]" not in body, body
    if seccomp == "on":
        assert "seccomp: " in body and "system calls allowed" in body
    stop(s)


def test_chroot(tmp_path, docroot):
    """chroot DIR with the drop: served through the descriptors opened before it; the process's
    root is DIR. (LeakSanitizer needs /proc, which the chroot lacks: off for this run.)"""
    conf = tmp_path / "c.conf"
    conf.write_text("user nobody;\nchroot %s;\nworkers 1;\nerror_log %s info;\n"
                    "server {\n  listen 127.0.0.1:0;\n  root %s;\n}\n"
                    % (tmp_path, tmp_path / "error.log", docroot))
    s = Spate(["-c", str(conf)],
              env={"ASAN_OPTIONS": "abort_on_error=0:detect_leaks=0:exitcode=66"}).start()
    assert os.readlink("/proc/%d/root" % s.proc.pid) == str(tmp_path)
    assert status(s.proc.pid)["Uid"] == [str(pwd.getpwnam("nobody").pw_uid)] * 4
    assert get(s, "/hello.txt") == (200, b"hello, world\n")
    assert get(s, "/dir/sub/file.txt") == (200, b"deep file\n")
    wait_log(tmp_path / "error.log", "chroot %s" % tmp_path)
    stop(s)
