"""listen parameters (nginx's: backlog, rcvbuf, sndbuf, deferred, fastopen, so_keepalive,
ipv6only; and notsent_lowat) and tcp_congestion: set on the listening socket, seen on the accepted one through
ss(8), refused at -t with file:line when they cannot be set."""
import re
import shutil
import socket
import subprocess
import time

import pytest

from conftest import BIN, Spate

pytestmark = pytest.mark.skipif(shutil.which("ss") is None, reason="ss (iproute2) not installed")


def write_conf(tmp_path, docroot, main, listens):
    conf = tmp_path / "spate.conf"
    servers = "".join("server {\n  listen %s;\n  root %s;\n}\n" % (l, docroot) for l in listens)
    conf.write_text("workers 1;\n%s\n%s" % (main, servers))
    return conf


def check(conf):
    r = subprocess.run([BIN, "-t", "-c", str(conf)], capture_output=True, text=True, timeout=30)
    return r.returncode, r.stderr


def server_side(port):
    """ss's line for the server's end of the one established connection on port."""
    out = subprocess.run(["ss", "-tinmH", "state", "established", "sport", "=", ":%d" % port],
                         capture_output=True, text=True, timeout=10).stdout
    return " ".join(out.split())


def start(tmp_path, docroot, main, listens):
    conf = write_conf(tmp_path, docroot, main, listens)
    return Spate(["-c", str(conf)]).start()


def free_port(host):
    with socket.socket() as t:
        t.bind((host, 0))
        return t.getsockname()[1]


def stalled_download(port, path="/medium.bin", host="127.0.0.1"):
    """A client that asks for a file and reads nothing: the server's send buffer fills."""
    c = socket.create_connection((host, port), timeout=5)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    c.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path.encode())
    return c


def stalled_pair(p1, p2):
    """Stalled downloads of /big.bin from 127.0.0.1:p1 and 127.0.0.2:p2; ss's server-side
    lines for both once their buffers have filled."""
    a = stalled_download(p1, "/big.bin")
    b = stalled_download(p2, "/big.bin", "127.0.0.2")
    time.sleep(0.5)
    lines = server_side(p1), server_side(p2)
    a.close()
    b.close()
    return lines


def test_congestion_and_sndbuf_reach_accepted_sockets(tmp_path, docroot):
    (docroot / "big.bin").write_bytes(b"z" * (8 << 20))
    p1, p2 = free_port("127.0.0.1"), free_port("127.0.0.2")
    s = start(tmp_path, docroot, "tcp_congestion reno;",
              ["127.0.0.1:%d sndbuf=64k tcp_congestion=cubic" % p1, "127.0.0.2:%d" % p2])
    try:
        out = s.out.decode()
        one, two = stalled_pair(p1, p2)
        assert " cubic " in one, one
        assert " reno " in two, two  # the main default
        # sndbuf=64k: the kernel doubles it (tb131072); the other autotunes far beyond
        tb1 = int(re.search(r"tb(\d+)", one).group(1))
        tb2 = int(re.search(r"tb(\d+)", two).group(1))
        assert tb1 == 131072, one
        assert tb2 > 4 * tb1, two
    finally:
        rc, err = s.stop()
    assert rc == 0, (out, err)


def test_notsent_lowat_bounds_unsent_bytes(tmp_path, docroot):
    """notsent_lowat=16k: a client that reads nothing leaves at most about that much unsent
    in the server's socket (plus one segment being built); without it, the autotuned buffer
    holds far more."""
    (docroot / "big.bin").write_bytes(b"z" * (16 << 20))
    p1, p2 = free_port("127.0.0.1"), free_port("127.0.0.2")
    s = start(tmp_path, docroot, "", ["127.0.0.1:%d notsent_lowat=16k" % p1, "127.0.0.2:%d" % p2])
    try:
        one, two = stalled_pair(p1, p2)
        m1, m2 = re.search(r"notsent:(\d+)", one), re.search(r"notsent:(\d+)", two)
        n1 = int(m1.group(1)) if m1 else 0
        assert m2, two
        n2 = int(m2.group(1))
        assert n1 <= 16384 + 131072, one
        assert n2 > 4 * max(n1, 16384), (one, two)
    finally:
        rc, err = s.stop()
    assert rc == 0, err
    out = subprocess.run([BIN, "--print-config", "-c", str(tmp_path / "spate.conf")],
                         capture_output=True, text=True, timeout=30).stdout
    assert "notsent_lowat=16k" in out, out


def test_other_parameters_are_accepted_and_printed(tmp_path, docroot):
    conf = write_conf(tmp_path, docroot, "", [
        "127.0.0.1:0 default_server backlog=128 rcvbuf=64k deferred fastopen=8 "
        "so_keepalive=30m::10 reuseport"])
    rc, err = check(conf)
    assert rc == 0, err
    out = subprocess.run([BIN, "--print-config", "-c", str(conf)], capture_output=True,
                         text=True, timeout=30).stdout
    assert ("listen 127.0.0.1:0 default_server backlog=128 rcvbuf=64k deferred fastopen=8 "
            "so_keepalive=1800s::10;") in out, out


@pytest.mark.parametrize("main,listens,msg", [
    ("tcp_congestion nosuch;", ["127.0.0.1:0"],
     ":2: unknown TCP congestion control \"nosuch\" (available here: "),
    ("", ["127.0.0.1:0 tcp_congestion=nosuch"],
     ":4: unknown TCP congestion control \"nosuch\""),
    ("", ["127.0.0.1:0 sndbuf=12"], ":4: invalid size in \"sndbuf=12\""),
    ("", ["127.0.0.1:0 backlog=0"], ":4: invalid value in \"backlog=0\""),
    ("", ["127.0.0.1:0 so_keepalive=maybe"], ":4: invalid value in \"so_keepalive=maybe\""),
    ("", ["127.0.0.1:0 ipv6only=on"], ":4: ipv6only= applies to IPv6 addresses only"),
    ("", ["127.0.0.1:0 quic"], ":4: listen parameter \"quic\" is not supported yet"),
    ("", ["127.0.0.1:0 sndbuf=64k", "127.0.0.1:0 rcvbuf=64k"],
     ":8: duplicate listen options for 127.0.0.1:0 (the first are at "),
])
def test_bad_parameters_name_file_and_line(tmp_path, docroot, main, listens, msg):
    conf = write_conf(tmp_path, docroot, main, listens)
    rc, err = check(conf)
    assert rc != 0
    assert str(conf) + msg in err, err


def test_no_options_on_the_second_listen_is_fine(tmp_path, docroot):
    conf = write_conf(tmp_path, docroot, "", ["127.0.0.1:0 sndbuf=64k", "127.0.0.1:0"])
    rc, err = check(conf)
    assert rc == 0, err
