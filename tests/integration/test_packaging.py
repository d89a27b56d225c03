"""What `cmake --install` and the Debian package put on a system, checked as the system's
tools check it.

Two trees are checked the same way: the test build installed into a scratch DESTDIR, and the
.deb that tools/package builds (a Release build under /usr, in the test build's
package-build/, about 30 s of CPU), listed and extracted with dpkg-deb. In each:
  - every file of packaging/ and both man pages are where the install directories say;
  - `systemd-analyze verify` passes on the unit with no output at all (it reports unknown keys
    and bad values as warnings with exit status 0), with the unit's paths pointed into the
    tree so that its check of ExecStart's binary is real, and MANPATH at the tree's man pages
    so that its check of Documentation=man:... is too; `systemd-analyze security` keeps the
    unit's exposure where the hardening put it;
  - `man --warnings` (man's default set, then every groff warning) says nothing about either
    page, and spate(8) has an entry for every option `spate --help` lists and every `-s`
    signal the binary takes;
  - the tree's spate.conf passes `spate -t` with the tree's binary, and spate serving with it
    has its logs rotated by the tree's logrotate snippet (`logrotate -f`): its postrotate
    SIGUSR1 makes spate write to the new access.log.
For the .deb also: /etc's two files are conffiles, Depends names the libraries.
Each check is first shown to fail on a broken input, so that a silent tool cannot pass it.
"""
import collections
import grp
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest

from conftest import Spate

BUILD = os.path.abspath(os.environ.get("SPATE_BUILD") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build"))
SRC = os.path.abspath(os.environ.get("SPATE_SRC") or os.path.join(
    os.path.dirname(__file__), "..", ".."))

# A tree as installed: its root (a DESTDIR, or where the .deb was extracted) and the
# directories, as absolute paths on the target system, that the files go to.
Layout = collections.namedtuple("Layout",
                                "root sbindir sysconfdir mandir unitdir localstatedir manext")

# the test build's install directories (tests/CMakeLists.txt passes them; CMake's defaults)
BUILD_LAYOUT = dict(sbindir=os.environ.get("SPATE_SBINDIR", "/usr/local/sbin"),
                    sysconfdir=os.environ.get("SPATE_SYSCONFDIR", "/usr/local/etc"),
                    mandir=os.environ.get("SPATE_MANDIR", "/usr/local/share/man"),
                    unitdir=os.environ.get("SPATE_UNITDIR", "/usr/local/lib/systemd/system"),
                    localstatedir=os.environ.get("SPATE_LOCALSTATEDIR", "/usr/local/var"),
                    manext="")
# the package's (prefix /usr: GNUInstallDirs puts SYSCONFDIR at /etc, LOCALSTATEDIR at /var;
# the man pages gzip-compressed, as Debian's are)
DEB_LAYOUT = dict(sbindir="/usr/sbin", sysconfdir="/etc", mandir="/usr/share/man",
                  unitdir="/usr/lib/systemd/system", localstatedir="/var", manext=".gz")

for tool in ("systemd-analyze", "man", "cmake", "dpkg-deb", "logrotate"):
    if not shutil.which(tool):
        pytest.fail(f"{tool} is missing: ./tools/deps test installs it", pytrace=False)


@pytest.fixture(scope="module")
def installed():
    d = tempfile.mkdtemp(prefix="spate-install-")
    r = subprocess.run(["cmake", "--install", BUILD], env=dict(os.environ, DESTDIR=d),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    yield Layout(d, **BUILD_LAYOUT)
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def deb():
    """tools/package's .deb, built in the test build's own directory (a second run only
    relinks what changed)."""
    env = dict(os.environ, SPATE_PACKAGE_BUILD=os.path.join(BUILD, "package-build"), JOBS="2")
    for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "DESTDIR"):
        env.pop(k, None)
    r = subprocess.run([os.path.join(SRC, "tools", "package")], env=env, capture_output=True,
                       text=True, timeout=540)
    assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
    path = [line for line in r.stdout.splitlines() if line.endswith(".deb")][-1]
    path = path if os.path.isabs(path) else os.path.join(SRC, path)
    assert os.path.isfile(path), path
    return path


@pytest.fixture(scope="module")
def unpacked(deb):
    d = tempfile.mkdtemp(prefix="spate-deb-")
    subprocess.run(["dpkg-deb", "-x", deb, d], check=True, timeout=120)
    yield Layout(d, **DEB_LAYOUT)
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(params=["install", "deb"])
def tree(request):
    return request.getfixturevalue("installed" if request.param == "install" else "unpacked")


def at(t, path):
    """Where a target-system path of tree t is now."""
    return t.root + path


def test_files_land_where_the_install_dirs_say(tree):
    t = tree
    want = {
        f"{t.sbindir}/spate": "x",
        f"{t.unitdir}/spate.service": "f",
        f"{t.sysconfdir}/logrotate.d/spate": "f",
        f"{t.sysconfdir}/spate/spate.conf": "f",
        f"{t.sysconfdir}/spate/conf.d": "d",
        f"{t.mandir}/man8/spate.8{t.manext}": "f",
        f"{t.mandir}/man5/spate.conf.5{t.manext}": "f",
        f"{t.localstatedir}/www/html/index.spate-debian.html": "f",
    }
    for path, kind in want.items():
        p = at(t, path)
        if kind == "d":
            assert os.path.isdir(p), path
        else:
            assert os.path.isfile(p) and os.path.getsize(p) > 0, path
        if kind == "x":
            assert os.access(p, os.X_OK), path
    # the snippet rotates the logs the package's spate.conf writes, and signals its pid file
    rot = open(at(t, f"{t.sysconfdir}/logrotate.d/spate")).read()
    conf = open(at(t, f"{t.sysconfdir}/spate/spate.conf")).read()
    pid = re.search(r"^pid\s+(\S+);", conf, re.M).group(1)
    assert f'cat {pid})"' in rot and "kill -USR1" in rot
    logs = re.findall(r"^\s*(?:access|error)_log\s+(\S+)", conf, re.M)
    assert logs and all(x.startswith("/var/log/spate/") and x.endswith(".log") for x in logs)
    assert "/var/log/spate/*.log {" in rot


def test_unit_names_the_installed_binary_and_configuration(tree):
    t = tree
    unit = open(at(t, f"{t.unitdir}/spate.service")).read()
    assert f"\nExecStart={t.sbindir}/spate -c {t.sysconfdir}/spate/spate.conf\n" in unit
    assert f"\nExecReload={t.sbindir}/spate -t -c {t.sysconfdir}/spate/spate.conf\n" in unit
    assert "\nDocumentation=man:spate(8) man:spate.conf(5)\n" in unit


def unit_in(t, tmp, text=None, check=True):
    """A copy of t's unit, written in directory tmp, whose paths name the tree's binary and
    configuration (systemd-analyze checks that ExecStart's program exists and is
    executable)."""
    text = text or open(at(t, f"{t.unitdir}/spate.service")).read()
    for path in (f"{t.sbindir}/spate ", f"{t.sysconfdir}/spate/"):
        # a path starts after = or a space (so a path rewritten already stays as it is)
        text = re.sub(rf"(?<=[= ]){re.escape(path)}", lambda m: at(t, path), text)
    start = f"ExecStart={at(t, t.sbindir)}/spate -c {at(t, t.sysconfdir)}/spate/"
    assert not check or start in text
    os.makedirs(tmp, exist_ok=True)
    path = os.path.join(tmp, "spate.service")
    with open(path, "w") as f:
        f.write(text)
    return path


def analyze(args, manpath, cwd):
    env = dict(os.environ, MANPATH=str(manpath), SYSTEMD_LOG_COLOR="0", SYSTEMD_COLORS="0",
               SYSTEMD_PAGER="", MANWIDTH="80")
    return subprocess.run(["systemd-analyze"] + args, env=env, capture_output=True, text=True,
                          timeout=120, cwd=cwd)


def test_systemd_analyze_verify(tree, tmp_path):
    t = tree
    manpath = at(t, t.mandir)
    unit = unit_in(t, str(tmp_path / "good"))
    r = analyze(["verify", unit], manpath, str(tmp_path))
    assert r.returncode == 0 and r.stdout + r.stderr == "", r.stdout + r.stderr

    # the same check fails where it should: an unknown key and a bad value (exit status 0,
    # warnings only), a binary that is not there, man pages that cannot be found
    good = open(unit).read()
    bad = unit_in(t, str(tmp_path / "bad"),
                  good.replace("Type=notify\n", "Type=notifyy\nProtectSistem=strict\n"))
    r = analyze(["verify", bad], manpath, str(tmp_path))
    assert "notifyy" in r.stderr and "ProtectSistem" in r.stderr, r.stderr
    missing = unit_in(t, str(tmp_path / "missing"),
                      good.replace("/sbin/spate ", "/sbin/spate-missing "), check=False)
    r = analyze(["verify", missing], manpath, str(tmp_path))
    assert "spate-missing" in r.stdout + r.stderr
    (tmp_path / "noman").mkdir()
    r = analyze(["verify", unit], tmp_path / "noman", str(tmp_path))
    assert "man spate(8)" in r.stdout + r.stderr


def test_unit_exposure(tree, tmp_path):
    # the hardening of spate.service rates 3.2 ("OK"); 3.5 leaves room for a needed
    # relaxation, not for losing a group of protections
    unit = unit_in(tree, str(tmp_path))
    r = analyze(["security", "--offline=yes", "--threshold=35", unit], at(tree, tree.mandir),
                str(tmp_path))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    m = re.search(r"Overall exposure level for spate.service: ([0-9.]+)", r.stdout)
    assert m and float(m.group(1)) <= 3.5, r.stdout[-500:]


def man(page, warnings="w"):
    env = dict(os.environ, MANWIDTH="80", MAN_KEEP_FORMATTING="", MANPAGER="cat", PAGER="cat")
    return subprocess.run(["man", f"--warnings={warnings}", "-l", str(page)], env=env,
                          capture_output=True, text=True, timeout=60)


def test_man_pages_render_without_warnings(tree, tmp_path):
    # a broken page does warn: the check below can fail
    broken = tmp_path / "broken.8"
    broken.write_text('.TH BROKEN 8\n.SH NAME\nbroken \\- x\n.BOGUS\n')
    assert "BOGUS" in man(broken).stderr

    t = tree
    for page, sections in ((f"{t.mandir}/man8/spate.8{t.manext}",
                            ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "SIGNALS", "FILES",
                             "EXIT STATUS", "SEE ALSO"]),
                           (f"{t.mandir}/man5/spate.conf.5{t.manext}",
                            ["NAME", "DESCRIPTION", "MAIN CONTEXT", "SERVER BLOCKS", "TLS",
                             "LOCATIONS", "RELOADING", "NGINX COMPATIBILITY", "SEE ALSO"])):
        for w in ("mac", "w"):  # man's default set, then every groff warning
            r = man(at(t, page), w)
            assert r.returncode == 0 and r.stderr == "", f"{page}: {r.stderr}"
        text = r.stdout
        heads = re.findall(r"^([A-Z][A-Z0-9 /().,]*)$", text, re.M)
        for s in sections:
            assert s in heads, f"{page}: no section {s} in {heads}"
        # no markdown left over: a **, a link or a table row means the generator missed it
        assert "**" not in text, page
        assert not re.search(r"\]\((?:#|[\w./-]+\.md|https?:)", text), page
        assert not re.search(r"(?m)^\s*\|.*\|\s*$", text), page


def test_spate_8_documents_the_command_line(tree):
    t = tree
    text = man(at(t, f"{t.mandir}/man8/spate.8{t.manext}")).stdout
    binary = at(t, f"{t.sbindir}/spate")
    opts = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=30).stdout
    flags = set(re.findall(r"(?m)^\s+(-\w)\b", opts)) | set(re.findall(r"(--[a-z][a-z-]+)", opts))
    assert {"-c", "-t", "-s", "--config", "--print-config"} <= flags, opts
    for f in sorted(flags):
        # an OPTIONS entry's tag, at the margin of the section's text
        assert re.search(rf"(?m)^ {{7}}(.*[ ,])?{re.escape(f)}\b", text), \
            f"spate(8) has no OPTIONS entry for {f}"
    # the names -s takes, from the binary's own refusal of a wrong one
    r = subprocess.run([binary, "-s", "no-such-signal", "-c", "/dev/null"],
                       capture_output=True, text=True, timeout=30)
    m = re.search(r"-s takes (.*), not", r.stderr)
    assert m, r.stderr
    names = re.split(r", | or ", m.group(1))
    assert "reload" in names and "quit" in names, names
    entry = re.search(r"(?ms)^ {7}-s SIGNAL\n(.*?)\n\n", text).group(1)
    for name in names:
        assert re.search(rf"\b{name}\b", entry), f"spate(8) -s does not list {name}"
        assert re.search(rf"spate\s+-s\s+{name}\b", text), \
            f"spate(8) SIGNALS does not say what {name} does"


def moved_conf(t, tmp_path):
    """The text of t's spate.conf with the system paths it names moved: logs to
    tmp_path/log, the pid file to tmp_path/run, /etc/spate and /var/www/html to the tree's.
    Returns (text, log dir, run dir)."""
    logs, run = tmp_path / "log", tmp_path / "run"
    logs.mkdir()
    run.mkdir()
    conf = open(at(t, f"{t.sysconfdir}/spate/spate.conf")).read()
    moved = (conf.replace("/var/log/spate/", f"{logs}/").replace("/run/spate/", f"{run}/")
             .replace("/etc/spate/", at(t, f"{t.sysconfdir}/spate/"))
             .replace("/var/www/html", at(t, f"{t.localstatedir}/www/html")))
    directives = re.sub(r"#.*", "", moved)  # the comments name paths too
    left = set(re.findall(r"(?<![\w/.-])/(?:etc|var|run|srv|usr)/[^\s;]*", directives))
    left = {p for p in left if not p.startswith(str(tmp_path)) and not p.startswith(t.root)}
    assert left == {"/etc/mime.types"}, left
    return moved, logs, run


def test_installed_configuration_passes_check(tree, tmp_path):
    """spate -t of the tree's spate.conf, by the tree's binary. -t opens the roots and creates
    the log files, so the file's system paths are moved into scratch directories first (all
    of them but /etc/mime.types, which is only read)."""
    t = tree
    etc = at(t, f"{t.sysconfdir}/spate")
    html = at(t, f"{t.localstatedir}/www/html")
    moved, logs, run = moved_conf(t, tmp_path)
    # a site in conf.d, as an administrator adds one: the include must find it
    site = os.path.join(etc, "conf.d", "example.conf")
    with open(site, "w") as f:
        f.write(f"server {{ listen 127.0.0.1:8089; server_name example.org; root {html}; }}\n")
    path = tmp_path / "spate.conf"
    path.write_text(moved)
    binary = at(t, f"{t.sbindir}/spate")
    try:
        r = subprocess.run([binary, "-t", "-c", str(path)], capture_output=True, text=True,
                           timeout=60)
        assert r.returncode == 0, r.stdout + r.stderr
        assert f"configuration {path} is valid" in r.stdout
        assert (logs / "error.log").exists() and (logs / "access.log").exists()
        printed = subprocess.run([binary, "--print-config", "-c", str(path)],
                                 capture_output=True, text=True, timeout=60).stdout
        assert "example.org" in printed, printed[-2000:]
    finally:
        os.unlink(site)
    # and it can fail: a typo in the same file is refused with its line
    typo = tmp_path / "typo.conf"
    typo.write_text(moved.replace("workers auto;", "workrs auto;"))
    r = subprocess.run([binary, "-t", "-c", str(typo)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 1 and 'unknown directive "workrs"' in r.stderr, r.stderr


def test_deb_control(deb):
    listing = subprocess.run(["dpkg-deb", "-c", deb], capture_output=True, text=True,
                             check=True).stdout
    paths = {line.split()[-1] for line in listing.splitlines()}
    for p in ("./usr/sbin/spate", "./usr/lib/systemd/system/spate.service",
              "./usr/share/man/man8/spate.8.gz", "./usr/share/man/man5/spate.conf.5.gz",
              "./etc/spate/spate.conf", "./etc/logrotate.d/spate",
              "./usr/share/doc/spate/copyright"):
        assert p in paths, p
    # nothing outside the places a package may put files (and no build paths)
    assert all(re.match(r"\./(usr|etc|var)?(/|$)", p) for p in paths), sorted(paths)
    assert not any(BUILD in p or SRC in p for p in paths)

    def field(name):
        return subprocess.run(["dpkg-deb", "-f", deb, name], capture_output=True, text=True,
                              check=True).stdout.strip()
    assert field("Package") == "spate" and field("Section") == "httpd"
    assert re.match(r".+ <[^@\s]+@[^@\s]+>$", field("Maintainer")), field("Maintainer")
    assert field("Description").startswith("web server")
    depends = field("Depends")
    for lib in ("libc6", "liburing2", "libssl3", "libnghttp2-14", "media-types"):
        assert re.search(rf"(^|, ){lib}\b", depends), depends
    with tempfile.TemporaryDirectory() as ctrl:
        subprocess.run(["dpkg-deb", "-e", deb, ctrl], check=True)
        conffiles = open(os.path.join(ctrl, "conffiles")).read().split()
    assert sorted(conffiles) == ["/etc/logrotate.d/spate", "/etc/spate/spate.conf"], conffiles


def test_deb_holds_a_release_build(unpacked):
    # the test build is ASan's; the package's binary must not be (nor carry its runtime)
    binary = open(at(unpacked, "/usr/sbin/spate"), "rb").read()
    assert b"__asan_init" not in binary and b"libasan" not in binary
    assert b"libmimalloc" in binary  # Release links mimalloc (CMakeLists.txt)


def wait_for(cond, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return False


def test_logrotate_snippet_rotates_a_running_spate(tree, tmp_path):
    """The tree's spate.conf served by the tree's binary, its logs rotated by the tree's
    snippet (paths moved as for -t): logrotate renames access.log, makes a new one for
    www-data:adm, and its postrotate SIGUSR1 (to the pid file's pid) makes spate write there."""
    if os.geteuid() != 0:
        pytest.skip("logrotate's create www-data adm needs root (tools/test runs as root)")
    t = tree
    moved, logs, run = moved_conf(t, tmp_path)
    # as root spate would drop to nobody, who may not open the files logrotate makes for
    # www-data (systemd starts it as www-data itself): keep root here
    conf = tmp_path / "spate.conf"
    conf.write_text("user root;\n" + moved)
    snippet = open(at(t, f"{t.sysconfdir}/logrotate.d/spate")).read()
    snippet = snippet.replace("/var/log/spate/", f"{logs}/").replace("/run/spate/", f"{run}/")
    assert "/var/" not in snippet and "/run/spate" not in snippet.replace(str(run), "")
    rot = tmp_path / "logrotate.conf"
    rot.write_text(snippet)
    rot.chmod(0o644)

    s = Spate(["-c", str(conf), "--listen", "127.0.0.1:0", "--workers", "1"])
    s.args[0] = at(t, f"{t.sbindir}/spate")
    s.start()
    try:
        assert wait_for(lambda: (run / "spate.pid").exists())
        assert int((run / "spate.pid").read_text()) == s.proc.pid
        with urllib.request.urlopen(s.url("/"), timeout=10) as r:
            body = r.read()
            assert r.status == 200
        assert b"spate" in body.lower()  # the package's start page (index.spate-debian.html)
        access = logs / "access.log"
        assert wait_for(lambda: access.exists() and b'"GET / ' in access.read_bytes())

        r = subprocess.run(["logrotate", "-f", "-s", str(tmp_path / "state"), str(rot)],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0 and "error" not in r.stderr.lower(), r.stderr
        old = logs / "access.log.1"  # delaycompress: the newest rotated file stays plain
        assert old.exists() and b'"GET / ' in old.read_bytes()
        st = os.stat(access)
        assert st.st_size == 0 and oct(st.st_mode & 0o777) == "0o640"
        assert pwd.getpwuid(st.st_uid).pw_name == "www-data"
        assert grp.getgrgid(st.st_gid).gr_name == "adm"

        try:
            urllib.request.urlopen(s.url("/after-rotation"), timeout=10).read()
        except urllib.error.HTTPError as e:
            assert e.code == 404
        assert wait_for(lambda: b"/after-rotation" in access.read_bytes()), \
            "spate still writes to the rotated file: " + repr(old.read_bytes()[-300:])
        assert b"/after-rotation" not in old.read_bytes()
    finally:
        rc, err = s.stop(signal.SIGQUIT)
    assert rc == 0, err
    assert "ERROR: AddressSanitizer" not in err and "runtime error" not in err, err
    assert not (run / "spate.pid").exists()
