"""limit_conn across two workers: one count per client whichever worker its connections reach."""
import os
import socket
import struct
import subprocess
import time

import pytest

from conftest import BIN
from limits_util import connections, head_of, log_lines, request, start, stop

ZONE = "limit_conn_zone $binary_remote_addr zone=addr:1m;\n"
BIG = os.urandom(200000)


def slow_site(docroot):
    (docroot / "big.bin").write_bytes(BIG)
    return ("location /slow/ { limit_conn addr 1; limit_rate 50k; alias %s/; }\n"
            "location / { limit_conn addr 1; }\n" % docroot)


def test_one_per_client_across_workers(tmp_path, docroot):
    s, log = start(tmp_path, docroot, main=ZONE, server=slow_site(docroot))
    try:
        first = s.connect(timeout=30)
        first.sendall(request("/slow/big.bin"))
        # the head comes at once, the body at 50k/s: about 4 s in all
        data = b""
        while b"\r\n\r\n" not in data:
            data += first.recv(65536)
        assert data.startswith(b"HTTP/1.1 200")
        # meanwhile every other connection of this client is refused, on either worker
        others = connections(s, 24)
        for c in others:
            c.sendall(request("/slow/big.bin"))
        refused = [head_of(c)[0] for c in others]
        for c in others:
            c.close()
        # the first goes on to its end
        while data.count(b"\r\n\r\n") < 1 or len(data.partition(b"\r\n\r\n")[2]) < len(BIG):
            d = first.recv(1 << 20)
            assert d, "the paced download was cut"
            data += d
        assert data.partition(b"\r\n\r\n")[2] == BIG
        # its request ended: the client may come back (the same connection, then a new one)
        first.sendall(request("/hello.txt"))
        assert head_of(first) == (200, b"hello, world\n")
        first.close()
        again = s.connect()
        again.sendall(request("/hello.txt"))
        assert head_of(again)[0] == 200
        again.close()
    finally:
        stop(s)
    assert refused == [503] * 24
    lines = log_lines(log)
    w200 = {w for w, st, uri in lines if st == 200 and uri == "/slow/big.bin"}
    w503 = {w for w, st, _ in lines if st == 503}
    assert len(w200) == 1 and w503 == {1, 2}, lines  # refused by the worker not serving it too
    err = (tmp_path / "error.log").read_text()
    assert 'limiting connections by zone "addr", client: 127.0.0.1' in err


def test_released_when_the_connection_dies(tmp_path, docroot):
    s, log = start(tmp_path, docroot, main=ZONE, server=slow_site(docroot))
    try:
        c = s.connect()
        c.sendall(request("/slow/big.bin"))
        assert c.recv(100).startswith(b"HTTP/1.1 200")
        # an RST in the middle of the download
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()
        statuses = []
        for _ in range(100):
            d = s.connect()
            d.sendall(request("/hello.txt"))
            statuses.append(head_of(d)[0])
            d.close()
            if statuses[-1] == 200:
                break
            time.sleep(0.05)
    finally:
        stop(s)
    assert statuses[-1] == 200, statuses


def test_status_dry_run_and_several(tmp_path, docroot):
    (docroot / "big.bin").write_bytes(BIG)
    main = ZONE + "limit_conn_zone $server_name zone=perserver:1m;\n"
    server = ("server_name t;\n"
              "location /dry/ { limit_conn addr 1; limit_conn_dry_run on; limit_rate 100k; "
              "alias %s/; }\n"
              "location /two/ { limit_conn addr 5; limit_conn perserver 2; limit_conn_status 429;"
              " limit_rate 100k; alias %s/; }\n" % (docroot, docroot))
    s, log = start(tmp_path, docroot, main=main, server=server)
    try:
        socks = connections(s, 6)
        for c in socks[:3]:
            c.sendall(request("/dry/big.bin"))
        dry = [head_of(c)[0] for c in socks[:3]]
        for c in socks[3:]:
            c.sendall(request("/two/big.bin"))
        two = sorted(head_of(c)[0] for c in socks[3:])
        for c in socks:
            c.close()
    finally:
        stop(s)
    assert dry == [200, 200, 200]
    assert two == [200, 200, 429]
    assert "limiting connections, dry run" in (tmp_path / "error.log").read_text()


@pytest.mark.parametrize("main,server,msg", [
    ("", "limit_conn nope 1;", ':6: limit_conn: unknown zone "nope"'),
    (ZONE, "limit_conn addr 0;", ':7: limit_conn: invalid number of connections "0"'),
    (ZONE + ZONE, "", ':3: limit_conn_zone: zone "addr" is already declared at'),
    ("limit_conn_zone $binary_remote_addr zone=addr;", "", "invalid zone size"),
    ("limit_conn_zone $binary_remote_addr zone=addr:1m rate=1r/s;", "",
     "invalid number of arguments"),
    (ZONE, "limit_conn addr 1; limit_conn addr 2;", 'zone "addr" twice in one block'),
])
def test_config_errors(tmp_path, docroot, main, server, msg):
    conf = tmp_path / "bad.conf"
    conf.write_text("workers 1;\n%s\nserver {\n  listen 127.0.0.1:0;\n  root %s;\n%s\n}\n"
                    % (main, docroot, server))
    p = subprocess.run([BIN, "-t", "-c", str(conf)], capture_output=True, text=True)
    assert p.returncode != 0
    assert msg in p.stderr and "bad.conf" in p.stderr, p.stderr
