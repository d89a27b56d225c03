"""limit_req across two workers: one zone shared by both, nginx's burst / nodelay / delay."""
import subprocess
import time

import pytest

from conftest import BIN
from limits_util import all_at_once, head_of, log_lines, start, stop

ZONE = "limit_req_zone $binary_remote_addr zone=one:1m rate=%s;\n"


def served_by_both(log, uri_part):
    ws = {w for w, _, uri in log_lines(log) if uri_part in uri}
    return ws == {1, 2}


def test_nodelay_exact_across_workers(tmp_path, docroot):
    # 1r/m: nothing leaks while the test runs, so exactly 1 + burst of any number pass
    s, log = start(tmp_path, docroot, main=ZONE % "1r/m",
                   server="location / { limit_req zone=one burst=5 nodelay; }")
    try:
        res, _ = all_at_once(s, "/hello.txt", 40)
    finally:
        stop(s)
    statuses = [st for st, _ in res]
    assert statuses.count(200) == 6 and statuses.count(503) == 34, statuses
    assert served_by_both(log, "/hello.txt")  # both workers counted in the one zone


def test_rate_10rs_burst_5(tmp_path, docroot):
    # the case: 10r/s burst=5 nodelay, N requests at once: 6 pass, plus what the
    # bucket leaked (one per 100 ms) while they were being sent
    s, log = start(tmp_path, docroot, main=ZONE % "10r/s",
                   server="location / { limit_req zone=one burst=5 nodelay; }")
    try:
        res, _ = all_at_once(s, "/hello.txt", 30)
    finally:
        stop(s)
    ok = [t for st, t in res if st == 200]
    assert len(ok) >= 6 and len(ok) <= 6 + int(max(t for _, t in res) * 10) + 1, res
    assert all(st in (200, 503) for st, _ in res)
    assert served_by_both(log, "/hello.txt")


def test_delayed_requests_are_spaced(tmp_path, docroot):
    s, log = start(tmp_path, docroot, main=ZONE % "10r/s",
                   server="location / { limit_req zone=one burst=5; }")
    try:
        res, _ = all_at_once(s, "/hello.txt", 6)
        # the 7th of a burst of 7 is refused, the rest wait their turn
        time.sleep(1.0)
        more, _ = all_at_once(s, "/hello.txt", 12)
    finally:
        stop(s)
    assert [st for st, _ in res] == [200] * 6
    times = sorted(t for _, t in res)
    for k, t in enumerate(times):
        # request k is due 100 ms * k after the first arrived (lower bounds only)
        assert t >= 0.1 * k - 0.03, times
    statuses = sorted(st for st, _ in more)
    assert statuses.count(503) >= 2 and statuses.count(200) >= 6, statuses
    assert served_by_both(log, "/hello.txt")


def test_status_dry_run_and_empty_key(tmp_path, docroot):
    main = ("limit_req_zone $binary_remote_addr zone=one:1m rate=1r/m;\n"
            "limit_req_zone $http_x_key zone=bykey:1m rate=1r/m;\n")
    server = ("limit_req_status 429;\n"
              "location /dry/ { limit_req zone=one; limit_req_dry_run on; alias %s/; }\n"
              "location /key/ { limit_req zone=bykey; alias %s/; }\n"
              "location / { limit_req zone=one; }\n" % (docroot, docroot))
    s, log = start(tmp_path, docroot, main=main, server=server)
    try:
        res, _ = all_at_once(s, "/hello.txt", 4)
        dry, _ = all_at_once(s, "/dry/hello.txt", 4)
        nokey, _ = all_at_once(s, "/key/hello.txt", 4)  # no X-Key: an empty key, not counted
        keyed = []
        for k in ["a", "a", "b"]:
            c = s.connect()
            c.sendall(("GET /key/hello.txt HTTP/1.1\r\nHost: t\r\nX-Key: %s\r\n\r\n"
                       % k).encode())
            keyed.append(head_of(c)[0])
            c.close()
    finally:
        stop(s)
    assert sorted(st for st, _ in res) == [200, 429, 429, 429]
    assert [st for st, _ in dry] == [200] * 4
    assert [st for st, _ in nokey] == [200] * 4
    assert keyed == [200, 429, 200]
    err = (tmp_path / "error.log").read_text()
    assert 'limiting requests, excess:' in err and 'by zone "one"' in err
    assert "limiting requests, dry run" in err


def test_several_zones_all_apply(tmp_path, docroot):
    main = ("limit_req_zone $binary_remote_addr zone=a:1m rate=1r/m;\n"
            "limit_req_zone $uri zone=b:1m rate=1r/m;\n")
    server = ("location / { limit_req zone=a burst=3 nodelay; limit_req zone=b burst=1 nodelay; }")
    s, log = start(tmp_path, docroot, main=main, server=server)
    try:
        one, _ = all_at_once(s, "/hello.txt", 5)    # zone b: 2 pass
        other, _ = all_at_once(s, "/style.css", 5)  # zone a has 2 left (the refused gave back)
    finally:
        stop(s)
    assert sorted(st for st, _ in one) == [200, 200, 503, 503, 503]
    assert sorted(st for st, _ in other) == [200, 200, 503, 503, 503]


@pytest.mark.parametrize("main,server,msg", [
    ("", "limit_req zone=nope;", ':6: limit_req: unknown zone "nope"'),
    ("limit_req_zone $binary_remote_addr zone=one:1m rate=10r/h;", "",
     ':2: limit_req_zone: invalid rate "10r/h"'),
    ("limit_req_zone $binary_remote_addr zone=one:1m;", "", ":2: limit_req_zone: no rate"),
    ("limit_req_zone $binary_remote_addr zone=one:1m rate=1r/s;\n"
     "limit_req_zone $uri zone=one:2m rate=1r/s;", "",
     ':3: limit_req_zone: zone "one" is already declared at'),
    ("limit_req_zone $binary_remote_addr zone=one:1k rate=1r/s;", "", "is too small"),
    ("limit_req_zone $nosuchvar zone=one:1m rate=1r/s;", "", ':2: limit_req_zone: unknown variable'),
    ("limit_req_zone $binary_remote_addr zone=one:1m rate=1r/s;", "limit_req zone=one burst=x;",
     ":6: limit_req: invalid burst"),
    ("limit_req_zone $binary_remote_addr zone=one:1m rate=1r/s;",
     "limit_req zone=one nodelay delay=2;", ":6: limit_req: nodelay and delay= together"),
    ("limit_req_zone $binary_remote_addr zone=one:1m rate=1r/s;", "limit_req_status 200;",
     ":6:"),
])
def test_config_errors(tmp_path, docroot, main, server, msg):
    conf = tmp_path / "bad.conf"
    conf.write_text("workers 1;\n%s\nserver {\n  listen 127.0.0.1:0;\n  root %s;\n%s\n}\n"
                    % (main, docroot, server))
    p = subprocess.run([BIN, "-t", "-c", str(conf)], capture_output=True, text=True)
    assert p.returncode != 0
    assert msg in p.stderr, p.stderr
    assert str(conf) in p.stderr or "bad.conf" in p.stderr


def test_reload_keeps_a_zone_of_the_same_size(tmp_path, docroot):
    import re
    import signal
    conf = tmp_path / "spate.conf"
    errlog = tmp_path / "error.log"

    # spate started as root drops to nobody, who cannot read pytest's (root's, 0700)
    # directories again at a reload: `user root;` where this spate has the directive
    probe = tmp_path / "probe.conf"
    probe.write_text("user root;\nserver { listen 127.0.0.1:0; root %s; }\n" % docroot)
    user = "user root;\n" if subprocess.run([BIN, "-t", "-c", str(probe)],
                                             capture_output=True).returncode == 0 else ""

    def write(gen, size):
        conf.write_text(user + "workers 2;\nerror_log %s info;\n"
                        "limit_req_zone $binary_remote_addr zone=one:%s rate=1r/m;\n"
                        "server {\n  listen 127.0.0.1:%d;\n  root %s;\n"
                        "  add_header X-Gen %s always;\n"
                        "  location / { limit_req zone=one burst=2 nodelay; }\n}\n"
                        % (errlog, size, port, docroot, gen))

    def reload_to(gen, size):
        n = len(re.findall(r"configuration \d+ in force", errlog.read_text()))
        write(gen, size)
        s.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while len(re.findall(r"configuration \d+ in force", errlog.read_text())) <= n:
            assert time.monotonic() < deadline, errlog.read_text()[-2000:]
            time.sleep(0.02)

    def get():
        c = s.connect()
        c.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data:
            data += c.recv(65536)
        c.close()
        return int(data.split()[1]), re.search(rb"X-Gen: (\w)", data).group(1).decode()

    import socket
    with socket.socket() as tmp:
        tmp.bind(("127.0.0.1", 0))
        port = tmp.getsockname()[1]
    write("A", "1m")
    from conftest import Spate
    s = Spate(["-c", str(conf)]).start()
    try:
        first = [get()[0] for _ in range(4)]
        reload_to("B", "1m")  # the same zone: the client's bucket stays full
        after = get()
        deadline = time.monotonic() + 10
        while after[1] != "B" and time.monotonic() < deadline:
            after = get()
        reload_to("C", "2m")  # a new size: a new, empty zone
        fresh = get()
        while fresh[1] != "C" and time.monotonic() < deadline:
            fresh = get()
    finally:
        stop(s)
    assert first == [200, 200, 200, 503]
    assert after == (503, "B")
    assert fresh == (200, "C")


def test_waiting_clients_that_go_away(tmp_path, docroot):
    # delayed requests whose connections close while they wait: nobody is woken into freed
    # memory, nothing leaks (ASan), and the server keeps serving; an inherited limit_req too
    s, log = start(tmp_path, docroot, main=ZONE % "2r/s",
                   server="limit_req zone=one burst=20;\nlocation / { }")
    try:
        socks = [s.connect() for _ in range(12)]
        for c in socks:
            c.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n")
        time.sleep(0.2)
        for c in socks[1:]:
            c.close()
        assert head_of(socks[0])[0] == 200
        socks[0].close()
        time.sleep(0.5)
        # the bucket holds what the gone ones counted: the next waits, then is served
        c = s.connect(timeout=30)
        c.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n")
        st, _ = head_of(c)
        c.close()
    finally:
        stop(s)
    assert st == 200
    assert "delaying request" in (tmp_path / "error.log").read_text()
