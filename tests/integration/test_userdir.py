"""User home directories: /~user/x is <user's home>/public_html/x (userdir, userdir_dir,
userdir_allow, userdir_deny, the lookup cache's lifetimes).

The tests create real users (useradd -m, names spateu<random>) and remove them (userdel -r)
at the end, pass or fail; they need root and skip without it.
"""
import http.client
import json
import os
import pwd
import secrets
import shutil
import subprocess
import threading
import time

import pytest

from conftest import spate_conf

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("useradd") or not shutil.which("userdel"),
    reason="needs root and useradd/userdel to create test users")


def exists(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


class Users:
    def __init__(self):
        self.names = []
        self.created = []

    def add(self, public=True, uid0=False, files=None):
        """A new user with a home; public: with public_html (index.html, a.txt, sub/, big.bin)."""
        name = "spateu" + secrets.token_hex(4)
        args = ["useradd", "-m", "-s", "/usr/sbin/nologin"]
        if uid0:
            args += ["-o", "-u", "0"]
        self.created.append(name)
        subprocess.run(args + [name], check=True, capture_output=True)
        self.names.append(name)
        if public:
            self.fill(name, files)
        return name

    def home(self, name):
        return "/home/" + name

    def fill(self, name, files=None, dirname="public_html"):
        # spate started as root serves as nobody: the home must let it in (useradd -m makes
        # it 0700), as Apache's userdir needs
        os.chmod(self.home(name), 0o755)
        pub = os.path.join(self.home(name), dirname)
        os.makedirs(os.path.join(pub, "sub"), exist_ok=True)
        content = {"index.html": b"<p>index of %s</p>\n" % name.encode(),
                   "a.txt": b"hello from %s\n" % name.encode(),
                   "sub/b.txt": b"sub file\n",
                   "big.bin": os.urandom(300 * 1024)}
        content.update(files or {})
        for rel, data in content.items():
            with open(os.path.join(pub, rel), "wb") as f:
                f.write(data)
        return content

    def remove(self, name):
        # -f: a uid 0 alias is "in use" by every root process, and userdel refuses without it
        subprocess.run(["userdel", "-f", "-r", name], capture_output=True)
        if os.path.isdir(self.home(name)):
            shutil.rmtree(self.home(name), ignore_errors=True)
        if name in self.names:
            self.names.remove(name)

    def remove_all(self):
        for name in list(self.names):
            self.remove(name)
        left = [n for n in self.created if exists(n)]
        assert not left, "test users not removed: %s" % left


@pytest.fixture
def users():
    u = Users()
    try:
        yield u
    finally:
        u.remove_all()


@pytest.fixture
def www(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    (root / "index.html").write_bytes(b"site index\n")
    (root / "404.html").write_bytes(b"site 404 page\n")
    return root


def get(s, target, method="GET", headers=None):
    c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=20)
    c.request(method, target, headers=headers or {})
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, r, body


def start(tmp_path, www, server, main=""):
    return spate_conf(tmp_path, www, main=main, server=server)


def stop(s):
    rc, err = s.stop()
    assert rc == 0, "spate exited %s: %s" % (rc, err)
    assert "ERROR: AddressSanitizer" not in err and "runtime error" not in err, err
    return err


def test_files_index_redirect(tmp_path, www, users):
    u = users.add()
    content = users.fill(u)
    s = start(tmp_path, www, "userdir on;")
    try:
        st, _, body = get(s, "/~%s/a.txt" % u)
        assert st == 200 and body == content["a.txt"]
        st, _, body = get(s, "/~%s/sub/b.txt" % u)
        assert st == 200 and body == content["sub/b.txt"]
        st, r, body = get(s, "/~%s/big.bin" % u)  # sendfile from the user's directory
        assert st == 200 and body == content["big.bin"]
        st, r, body = get(s, "/~%s/a.txt" % u, method="HEAD")
        assert st == 200 and body == b"" and r.getheader("Content-Length") == str(
            len(content["a.txt"]))
        # the index, through the server's index directive
        st, _, body = get(s, "/~%s/" % u)
        assert st == 200 and body == content["index.html"]
        # without the slash: the static handler's directory redirect
        st, r, _ = get(s, "/~%s" % u)
        assert st == 301 and r.getheader("Location").endswith("/~%s/" % u)
        st, r, _ = get(s, "/~%s/sub?x=1" % u)
        assert st == 301 and r.getheader("Location").endswith("/~%s/sub/?x=1" % u)
        st, _, _ = get(s, "/~%s/missing.txt" % u)
        assert st == 404
        # percent-encoded, as any path: the same file
        st, _, body = get(s, "/%%7E%s/a.txt" % u)
        assert st == 200 and body == content["a.txt"]
        # the server's own files are still the root's
        st, _, body = get(s, "/")
        assert st == 200 and body == b"site index\n"
    finally:
        stop(s)


def test_unknown_no_dir_invalid(tmp_path, www, users):
    u = users.add()
    bare = users.add(public=False)
    s = start(tmp_path, www, "userdir on;")
    try:
        assert get(s, "/~%s/a.txt" % u)[0] == 200
        assert get(s, "/~spateunosuch%s/" % secrets.token_hex(3))[0] == 404
        assert get(s, "/~%s/" % bare)[0] == 404  # no public_html
        assert get(s, "/~%s" % bare)[0] == 404
        for bad in ["/~.hidden/", "/~-x/", "/~a%20b/", "/~" + "x" * 40 + "/", "/~a$/"]:
            assert get(s, bad)[0] == 404, bad
        # dot segments are removed before the user is known: "/~u/../u/a.txt" is "/u/a.txt"
        # under the root, and nothing reaches the home above public_html
        assert get(s, "/~%s/../%s/a.txt" % (u, u))[0] == 404
        assert get(s, "/~%s/%%2e%%2e/.profile" % u)[0] == 404
        assert get(s, "/~%s/..%%2f.profile" % u)[0] == 404
    finally:
        stop(s)


def test_off_by_default(tmp_path, www, users):
    u = users.add()
    s = start(tmp_path, www, "")
    try:
        assert get(s, "/~%s/a.txt" % u)[0] == 404  # a plain path under the root
    finally:
        stop(s)


def test_uid0_refused_unless_allowed(tmp_path, www, users):
    alias = users.add(uid0=True)  # another name for uid 0, with a home of its own
    content = users.fill(alias)
    s = start(tmp_path, www, "userdir on;")
    try:
        assert get(s, "/~%s/a.txt" % alias)[0] == 404
        assert get(s, "/~root/")[0] == 404
    finally:
        stop(s)
    s = start(tmp_path, www, "userdir on; userdir_allow %s;" % alias)
    try:
        st, _, body = get(s, "/~%s/a.txt" % alias)
        assert st == 200 and body == content["a.txt"]
    finally:
        stop(s)


def test_allow_and_deny(tmp_path, www, users):
    a, b, c = users.add(), users.add(), users.add()
    s = start(tmp_path, www, "userdir on; userdir_deny %s;" % a)
    try:
        assert get(s, "/~%s/a.txt" % a)[0] == 404
        assert get(s, "/~%s/a.txt" % b)[0] == 200
    finally:
        stop(s)
    s = start(tmp_path, www, "userdir on; userdir_allow %s %s; userdir_deny %s;" % (a, b, b))
    try:
        assert get(s, "/~%s/a.txt" % a)[0] == 200
        assert get(s, "/~%s/a.txt" % b)[0] == 404  # deny wins
        assert get(s, "/~%s/a.txt" % c)[0] == 404  # not in the allow list
    finally:
        stop(s)


def test_userdir_dir_and_per_server(tmp_path, www, users):
    u = users.add(public=False)
    www_content = users.fill(u, dirname="www", files={"a.txt": b"from www\n"})
    conf = tmp_path / "two.conf"
    conf.write_text("workers 1;\nuserdir on;\nuserdir_dir www;\n"
                    "server { listen 127.0.0.1:0; root %s; }\n"
                    "server { listen 127.0.0.1:0; server_name off.example; root %s;"
                    " userdir off; }\n" % (www, www))
    from conftest import Spate
    s = Spate(["-c", str(conf)]).start()
    try:
        st, _, body = get(s, "/~%s/a.txt" % u)
        assert st == 200 and body == www_content["a.txt"]
    finally:
        stop(s)


def test_locations_try_files_error_page_apply(tmp_path, www, users):
    u = users.add()
    content = users.fill(u)
    server = ("userdir on;\n error_page 404 /404.html;\n"
              " location / { try_files $uri $uri/ =404; }\n"
              " location ~ \\.secret$ { return 403; }\n"
              " location = /404.html { internal; }\n")
    s = start(tmp_path, www, server)
    try:
        st, _, body = get(s, "/~%s/a.txt" % u)
        assert st == 200 and body == content["a.txt"]  # try_files found it beneath the user
        st, _, body = get(s, "/~%s/nope" % u)
        assert st == 404 and body == b"site 404 page\n"  # error_page: the root's page
        st, _, body = get(s, "/~spateunosuch/")
        assert st == 404 and body == b"site 404 page\n"
        assert get(s, "/~%s/x.secret" % u)[0] == 403  # the location, matched on /~user/...
    finally:
        stop(s)


def test_autoindex_in_user_dir(tmp_path, www, users):
    u = users.add()
    users.fill(u)
    s = start(tmp_path, www, "userdir on; autoindex on;")
    try:
        st, _, body = get(s, "/~%s/sub/?format=json" % u)
        assert st == 200
        names = [e["name"] for e in json.loads(body)]
        assert names == ["b.txt"]
    finally:
        stop(s)


def test_symlinks_out_are_refused(tmp_path, www, users):
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "s.txt").write_bytes(b"TOP SECRET\n")
    u = users.add()
    os.symlink(str(secret / "s.txt"), os.path.join(users.home(u), "public_html", "out.txt"))
    v = users.add(public=False)
    os.symlink(str(secret), os.path.join(users.home(v), "public_html"))  # public_html -> out
    w = users.add(public=False)
    os.makedirs(os.path.join(users.home(w), "real"))
    with open(os.path.join(users.home(w), "real", "a.txt"), "wb") as f:
        f.write(b"inside the home\n")
    os.symlink("real", os.path.join(users.home(w), "public_html"))  # within the home: fine
    s = start(tmp_path, www, "userdir on;")
    try:
        st, _, body = get(s, "/~%s/out.txt" % u)
        assert st in (403, 404) and b"SECRET" not in body
        st, _, body = get(s, "/~%s/s.txt" % v)
        assert st == 404 and b"SECRET" not in body
        st, _, body = get(s, "/~%s/a.txt" % w)
        assert st == 200 and body == b"inside the home\n"
    finally:
        stop(s)


def wait_status(s, target, want, timeout):
    deadline = time.monotonic() + timeout
    while True:
        st = get(s, target)[0]
        if st == want or time.monotonic() > deadline:
            return st
        time.sleep(0.2)


def test_user_created_later_found_after_negative_lifetime(tmp_path, www, users):
    s = start(tmp_path, www, "userdir on; userdir_cache_negative 3s;")
    try:
        name = "spateu" + secrets.token_hex(4)
        t0 = time.monotonic()
        assert get(s, "/~%s/a.txt" % name)[0] == 404  # remembered as unknown
        users.created.append(name)
        subprocess.run(["useradd", "-m", "-s", "/usr/sbin/nologin", name], check=True,
                       capture_output=True)
        users.names.append(name)
        content = users.fill(name)
        if time.monotonic() - t0 < 2.5:
            assert get(s, "/~%s/a.txt" % name)[0] == 404  # still the negative entry
        assert wait_status(s, "/~%s/a.txt" % name, 200, 15) == 200
        assert time.monotonic() - t0 >= 2.9
        assert get(s, "/~%s/a.txt" % name)[2] == content["a.txt"]
    finally:
        stop(s)


def test_user_removed_gone_after_positive_lifetime(tmp_path, www, users):
    # userdel without -r: the files stay, only the passwd entry goes; the found entry is used
    # until its lifetime ends, then the user is looked up again and is unknown
    u = users.add()
    s = start(tmp_path, www, "userdir on; userdir_cache_valid 3s;")
    try:
        assert get(s, "/~%s/a.txt" % u)[0] == 200
        t0 = time.monotonic()
        subprocess.run(["userdel", u], check=True, capture_output=True)
        if time.monotonic() - t0 < 2.5:
            assert get(s, "/~%s/a.txt" % u)[0] == 200  # still the found entry
        assert wait_status(s, "/~%s/a.txt" % u, 404, 15) == 404
        assert time.monotonic() - t0 >= 2.9
        assert get(s, "/~%s/" % u)[0] == 404
    finally:
        stop(s)


def test_directory_replaced_is_a_new_root(tmp_path, www, users):
    # public_html replaced by another directory: once the entry expires, the new one's files
    u = users.add()
    s = start(tmp_path, www, "userdir on; userdir_cache_valid 1s;",
              main="open_file_cache_valid 60s;")
    try:
        st, _, body = get(s, "/~%s/a.txt" % u)
        assert st == 200 and body.startswith(b"hello from")
        pub = os.path.join(users.home(u), "public_html")
        os.rename(pub, pub + ".old")
        users.fill(u, files={"a.txt": b"the new directory\n"})
        # the file cache would keep the old a.txt for 60 s under the same root; a new root id
        # for the new directory makes it look again
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            body = get(s, "/~%s/a.txt" % u)[2]
            if body == b"the new directory\n":
                break
            time.sleep(0.2)
        assert body == b"the new directory\n"
    finally:
        stop(s)


def test_worker_keeps_answering_during_lookups(tmp_path, www, users):
    # many users looked up at once (each a helper job) while the same worker serves the site
    names = [users.add() for _ in range(24)]
    s = start(tmp_path, www, "userdir on; userdir_cache_valid 1s; userdir_cache_negative 1s;")
    errors, site = [], []
    stop_flag = threading.Event()

    def site_loop():
        c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=20)
        while not stop_flag.is_set():
            t = time.monotonic()
            c.request("GET", "/")
            r = c.getresponse()
            if r.read() != b"site index\n" or r.status != 200:
                errors.append("site %s" % r.status)
            site.append(time.monotonic() - t)
        c.close()

    def user_loop(i):
        for k in range(6):
            n = names[(i + k) % len(names)]
            st, _, body = get(s, "/~%s/a.txt" % n)
            if st != 200 or body != b"hello from %s\n" % n.encode():
                errors.append("%s %s" % (n, st))
            st = get(s, "/~spateunosuch%d%d/" % (i, k))[0]
            if st != 404:
                errors.append("unknown %s" % st)
            if k == 2:
                time.sleep(1.1)  # past both lifetimes: looked up again

    try:
        t = threading.Thread(target=site_loop)
        t.start()
        workers = [threading.Thread(target=user_loop, args=(i,)) for i in range(12)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        stop_flag.set()
        t.join()
        assert not errors, errors[:10]
        assert len(site) > 20
        site.sort()
        print("site requests during lookups: %d, p50 %.2f ms, p99 %.2f ms" % (
            len(site), site[len(site) // 2] * 1e3, site[len(site) * 99 // 100] * 1e3))
        # the site is never stuck behind a lookup (a generous bound: sanitizer build, 2 CPUs)
        assert site[len(site) * 99 // 100] < 0.5, site[-5:]
    finally:
        stop_flag.set()
        stop(s)


def free_port():
    import socket
    with socket.socket() as so:
        so.bind(("127.0.0.1", 0))
        return so.getsockname()[1]


def test_reload_changes_userdir(tmp_path, www, users):
    import re
    import signal
    u = users.add()
    users.fill(u)
    users.fill(u, dirname="www", files={"a.txt": b"from www\n"})
    port, errlog, conf = free_port(), tmp_path / "error.log", tmp_path / "r.conf"

    def write(server):
        # `user root;`: nobody could not read pytest's directory (0700) again at a reload
        conf.write_text("user root;\nworkers 2;\nerror_log %s info;\n"
                        "server {\n listen 127.0.0.1:%d;\n"
                        " root %s;\n %s\n}\n" % (errlog, port, www, server))

    def reload(server):
        n = len(re.findall(r"reloaded", errlog.read_text()))
        write(server)
        s.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while len(re.findall(r"reloaded", errlog.read_text())) <= n:
            assert time.monotonic() < deadline, errlog.read_text()[-2000:]
            time.sleep(0.05)
        time.sleep(0.2)  # every worker takes it up at its next turn

    from conftest import Spate
    write("userdir on;")
    s = Spate(["-c", str(conf)]).start()
    try:
        assert get(s, "/~%s/a.txt" % u)[2] == b"hello from %s\n" % u.encode()
        reload("userdir on; userdir_dir www;")
        assert get(s, "/~%s/a.txt" % u)[2] == b"from www\n"
        reload("userdir off;")
        assert get(s, "/~%s/a.txt" % u)[0] == 404
        reload("userdir on;")
        assert get(s, "/~%s/a.txt" % u)[2] == b"hello from %s\n" % u.encode()
    finally:
        stop(s)


SLOW_SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pwd.h>
#include <string.h>
#include <unistd.h>

/* getpwnam_r as a slow directory service answers it, for names starting with spateslow */
int getpwnam_r(const char *name, struct passwd *pw, char *buf, size_t len, struct passwd **res)
{
    int (*real)(const char *, struct passwd *, char *, size_t, struct passwd **) =
        (int (*)(const char *, struct passwd *, char *, size_t, struct passwd **))dlsym(
            RTLD_NEXT, "getpwnam_r");
    if (strncmp(name, "spateslow", 9) == 0) {
        usleep(1500000);
    }
    return real(name, pw, buf, len, res);
}
"""


def test_slow_lookup_does_not_block_the_worker(tmp_path, www):
    # getpwnam_r made slow (1.5 s) by a preloaded shim: one worker keeps serving the site while
    # the lookup runs on a helper, and a second request for the same user joins the lookup
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        pytest.skip("no C compiler to build the slow getpwnam_r shim")
    src = tmp_path / "slow.c"
    src.write_text(SLOW_SHIM)
    shim = tmp_path / "slow.so"
    subprocess.run([cc, "-shared", "-fPIC", "-O1", "-o", str(shim), str(src), "-ldl"],
                   check=True, capture_output=True)
    conf = tmp_path / "slow.conf"
    conf.write_text("workers 1;\nserver {\n listen 127.0.0.1:0;\n root %s;\n userdir on;\n}\n"
                    % www)
    from conftest import Spate
    asan = "abort_on_error=0:detect_leaks=1:exitcode=66:verify_asan_link_order=0"
    s = Spate(["-c", str(conf)], env={"LD_PRELOAD": str(shim), "ASAN_OPTIONS": asan}).start()
    name = "spateslow" + secrets.token_hex(3)
    out = {}

    def slow(key, delay):
        time.sleep(delay)
        t = time.monotonic()
        st = get(s, "/~%s/" % name)[0]
        out[key] = (st, time.monotonic() - t, time.monotonic())

    try:
        a = threading.Thread(target=slow, args=("a", 0))
        b = threading.Thread(target=slow, args=("b", 0.3))
        a.start()
        b.start()
        site = []
        c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=20)
        t_end = time.monotonic() + 1.2
        while time.monotonic() < t_end:
            t = time.monotonic()
            c.request("GET", "/")
            r = c.getresponse()
            assert r.status == 200 and r.read() == b"site index\n"
            site.append(time.monotonic() - t)
        c.close()
        a.join()
        b.join()
        print("site during a 1.5 s lookup: %d requests, max %.2f ms" % (
            len(site), max(site) * 1e3))
        assert out["a"][0] == 404 and out["a"][1] >= 1.4
        assert out["b"][0] == 404
        assert out["b"][1] < 1.45  # joined a's lookup (its own would take 1.5 s)
        assert abs(out["b"][2] - out["a"][2]) < 0.3  # both answered when that lookup ended
        assert len(site) > 20 and max(site) < 0.3
        st, _, _ = get(s, "/~%s/" % name)  # remembered: no second slow lookup
        assert st == 404
    finally:
        stop(s)


def test_config_errors(tmp_path, www):
    from conftest import BIN
    for bad, word in [("userdir_dir a/b;", "userdir_dir"), ("userdir_dir ..;", "userdir_dir"),
                      ("userdir_allow bad/name;", "user name"),
                      ("userdir_deny -x;", "user name"), ("userdir maybe;", "userdir"),
                      ("userdir_cache_valid forever;", "userdir_cache_valid")]:
        conf = tmp_path / "bad.conf"
        conf.write_text("server {\n  listen 127.0.0.1:0;\n  root %s;\n  %s\n}\n" % (www, bad))
        p = subprocess.run([BIN, "-t", "-c", str(conf)], capture_output=True, text=True)
        assert p.returncode != 0, bad
        assert "bad.conf:4:" in p.stderr and word in p.stderr, p.stderr
    conf = tmp_path / "good.conf"
    conf.write_text("userdir on;\nuserdir_dir www;\nserver {\n  listen 127.0.0.1:0;\n"
                    "  root %s;\n  userdir_allow alice bob;\n  userdir_deny bob;\n"
                    "  userdir_cache_valid 5m;\n  userdir_cache_negative 1s;\n}\n" % www)
    p = subprocess.run([BIN, "-t", "-c", str(conf)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
