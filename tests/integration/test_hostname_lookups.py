"""hostname_lookups: the client's name by reverse DNS through the `resolver` the test runs on
a loopback UDP port (dnslib packs the answers): CLF field 1 and $remote_host, `double`, slow,
failing and empty answers, the per-worker cache, and a response that never waits for DNS."""
import re
import socket
import subprocess
import threading
import time

import pytest

from conftest import BIN, spate_conf

dnslib = pytest.importorskip("dnslib")
from dnslib import AAAA, A, PTR, QTYPE, RCODE, RR, DNSRecord  # noqa: E402

REV = "1.0.0.127.in-addr.arpa."
REV6 = "1." + "0." * 31 + "ip6.arpa."  # ::1


class Dns:
    """A DNS server on 127.0.0.1:<port>; `mode` says how it answers."""

    def __init__(self):
        self.mode = "ptr"
        self.queries = []
        self.release = threading.Event()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while True:
            try:
                data, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            threading.Thread(target=self.answer, args=(data, peer), daemon=True).start()

    def answer(self, data, peer):
        q = DNSRecord.parse(data)
        name, qtype = str(q.q.qname), QTYPE[q.q.qtype]
        self.queries.append((name, qtype))
        r = q.reply()
        mode = self.mode
        if mode == "hold":
            self.release.wait(20)
        if mode == "servfail":
            r.header.rcode = RCODE.SERVFAIL
        elif mode == "nxdomain":
            r.header.rcode = RCODE.NXDOMAIN
        elif qtype == "PTR" and name == REV:
            target = {"mismatch": "liar.test.", "other": "other.test."}.get(mode, "client.test.")
            r.add_answer(RR(name, QTYPE.PTR, rdata=PTR(target), ttl=60))
        elif qtype == "PTR" and name == REV6:
            r.add_answer(RR(name, QTYPE.PTR, rdata=PTR("six.test."), ttl=60))
        elif qtype == "AAAA" and name == "six.test.":
            r.add_answer(RR(name, QTYPE.AAAA, rdata=AAAA("::1"), ttl=60))
        elif qtype == "A" and name in ("client.test.", "other.test."):
            r.add_answer(RR(name, QTYPE.A, rdata=A("127.0.0.1"), ttl=60))
        elif qtype == "A" and name == "liar.test.":
            r.add_answer(RR(name, QTYPE.A, rdata=A("10.9.9.9"), ttl=60))
        else:
            r.header.rcode = RCODE.NXDOMAIN
        try:
            self.sock.sendto(r.pack(), peer)
        except OSError:
            pass

    def close(self):
        self.release.set()
        self.sock.close()


@pytest.fixture
def dns():
    d = Dns()
    yield d
    d.close()


def start(tmp_path, docroot, dns, lookups="on", extra="", fmt="h", timeout="500ms"):
    """Logs in the built-in common format, then " $remote_host|$remote_addr" after it."""
    log = tmp_path / "access.log"
    main = ("resolver 127.0.0.1:%d valid=30s;\nresolver_timeout %s;\n"
            "log_format h '$clf_host $ident $remote_user [$time_local] \"$request\" $status "
            "$body_bytes_sent $remote_host|$remote_addr';\n"
            "access_log %s %s;\nhostname_lookups %s;\n%s"
            % (dns.port, timeout, log, fmt, lookups, extra))
    return spate_conf(tmp_path, docroot, main=main), log, log


def stop(s):
    rc, err = s.stop()
    assert rc == 0, err
    assert "AddressSanitizer" not in err and "runtime error" not in err, err


def get(s, n=1):
    c = s.connect()
    data = b""
    for i in range(n):
        c.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n%s\r\n"
                  % (b"Connection: close\r\n" if i == n - 1 else b""))
        while data.count(b"hello, world\n") < i + 1:
            d = c.recv(65536)
            assert d, data
            data += d
    c.close()
    return data


def wait_lines(log, n, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = log.read_text().splitlines() if log.exists() else []
        if len(lines) >= n:
            return lines
        time.sleep(0.05)
    raise AssertionError("fewer than %d lines: %r" % (n, log.read_text() if log.exists() else ""))


def first(line):
    return line.split(" ")[0]


def test_name_in_clf_and_remote_host(tmp_path, docroot, dns):
    s, log, _ = start(tmp_path, docroot, dns, fmt="common")
    try:
        get(s, n=2)
        get(s)  # a second connection: the worker's cache answers
        lines = wait_lines(log, 3)
    finally:
        stop(s)
    assert [first(x) for x in lines] == ["client.test"] * 3, lines
    assert lines[0].startswith('client.test - - ['), lines
    assert dns.queries == [(REV, "PTR")], dns.queries


def test_double_confirms(tmp_path, docroot, dns):
    s, log, hlog = start(tmp_path, docroot, dns, "double")
    try:
        get(s)
        lines = wait_lines(log, 1)
    finally:
        stop(s)
    assert first(lines[0]) == "client.test", lines
    assert lines[0].endswith(" client.test|127.0.0.1"), lines
    assert dns.queries == [(REV, "PTR"), ("client.test.", "A")], dns.queries


def test_double_mismatch_gives_the_address(tmp_path, docroot, dns):
    dns.mode = "mismatch"
    s, log, hlog = start(tmp_path, docroot, dns, "double")
    try:
        get(s)
        lines = wait_lines(log, 1)
    finally:
        stop(s)
    assert first(lines[0]) == "127.0.0.1", lines
    assert lines[0].endswith(" 127.0.0.1|127.0.0.1"), lines
    assert ("liar.test.", "A") in dns.queries


def test_single_takes_the_ptr_as_is(tmp_path, docroot, dns):
    dns.mode = "mismatch"
    s, log, hlog = start(tmp_path, docroot, dns, "on")
    try:
        get(s)
        lines = wait_lines(log, 1)
    finally:
        stop(s)
    assert first(lines[0]) == "liar.test", lines


@pytest.mark.parametrize("mode", ["servfail", "nxdomain"])
def test_failures_give_the_address_and_are_cached(tmp_path, docroot, dns, mode):
    dns.mode = mode
    s, log, hlog = start(tmp_path, docroot, dns)
    try:
        get(s)
        wait_lines(log, 1)
        get(s)
        lines = wait_lines(log, 2)
    finally:
        stop(s)
    assert [first(x) for x in lines] == ["127.0.0.1"] * 2, lines
    assert len(dns.queries) == 1, dns.queries  # the negative answer was cached


def test_response_does_not_wait_and_timeout_is_cached(tmp_path, docroot, dns):
    """The DNS server holds its answer: the client has its response anyway, and the line (which
    cannot be in the log before the lookup ends) comes out with the address at the timeout;
    the timeout is cached, so the next connection asks nothing."""
    dns.mode = "hold"
    s, log, hlog = start(tmp_path, docroot, dns)
    try:
        get(s)
        while not dns.queries:
            time.sleep(0.01)
        lines = wait_lines(log, 1)  # resolver_timeout 500ms, while the server still holds
        assert not dns.release.is_set()
        get(s)
        lines = wait_lines(log, 2)
    finally:
        stop(s)
    assert [first(x) for x in lines] == ["127.0.0.1"] * 2, lines
    assert len(dns.queries) == 1, dns.queries


def test_line_waits_for_the_answer(tmp_path, docroot, dns):
    dns.mode = "hold"
    s, log, hlog = start(tmp_path, docroot, dns, timeout="20s")
    try:
        get(s, n=2)  # both responses arrive while the DNS server holds the answer
        while not dns.queries:
            time.sleep(0.01)
        assert not log.exists() or log.read_text() == ""
        dns.mode = "ptr"
        dns.release.set()
        lines = wait_lines(log, 2)
    finally:
        stop(s)
    assert [first(x) for x in lines] == ["client.test"] * 2, lines


def test_off_by_default(tmp_path, docroot, dns):
    log = tmp_path / "access.log"
    s = spate_conf(tmp_path, docroot, main="resolver 127.0.0.1:%d;\naccess_log %s common;"
                   % (dns.port, log))
    try:
        get(s)
        lines = wait_lines(log, 1)
    finally:
        stop(s)
    assert first(lines[0]) == "127.0.0.1" and dns.queries == []


def test_per_location(tmp_path, docroot, dns):
    log = tmp_path / "access.log"
    s = spate_conf(tmp_path, docroot,
                   main="resolver 127.0.0.1:%d;\naccess_log %s common;" % (dns.port, log),
                   server="location /hello.txt { hostname_lookups on; }")
    try:
        get(s)
        lines = wait_lines(log, 1)
    finally:
        stop(s)
    assert first(lines[0]) == "client.test", lines


@pytest.mark.parametrize("line,msg", [
    ("resolver nowhere;", "not an IP address"),
    ("resolver 127.0.0.1:99999;", "not an IP address"),
    ("resolver 127.0.0.1 valid=abc;", "invalid"),
    ("hostname_lookups maybe;", "spate.conf:2"),
])
def test_bad_config(tmp_path, line, msg):
    conf = tmp_path / "spate.conf"
    conf.write_text("workers 1;\n%s\nserver {\n  listen 127.0.0.1:0;\n  root /tmp;\n}\n" % line)
    r = subprocess.run([BIN, "-t", "-c", str(conf)], capture_output=True, timeout=30)
    out = (r.stderr + r.stdout).decode()
    assert r.returncode != 0 and msg in out, out


def test_remote_host_variable(tmp_path, docroot, dns):
    """$remote_host in a script never waits: the address until the worker's cache holds the
    name (the first connection's lookup), then the name."""
    log = tmp_path / "access.log"
    s = spate_conf(tmp_path, docroot,
                   main="resolver 127.0.0.1:%d;\naccess_log %s common;\nhostname_lookups on;"
                   % (dns.port, log),
                   server='location = /who { return 200 "$remote_host"; }')

    def who():
        c = s.connect()
        c.sendall(b"GET /who HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            d = c.recv(65536)
            if not d:
                break
            data += d
        c.close()
        return data.split(b"\r\n\r\n", 1)[1]

    try:
        assert who() == b"127.0.0.1"
        wait_lines(log, 1)  # the lookup is over
        assert who() == b"client.test"
    finally:
        stop(s)


def ipv6_ok():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as t:
            t.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not ipv6_ok(), reason="no IPv6 loopback")
@pytest.mark.parametrize("ipv6", ["on", "off"])
def test_ipv6_client_double(tmp_path, docroot, dns, ipv6):
    """An IPv6 client: its PTR under ip6.arpa, then (double) the name's AAAA; ipv6=off refuses
    the forward lookup, so the address stands."""
    log = tmp_path / "access.log"
    conf = tmp_path / "spate.conf"
    conf.write_text("workers 1;\nresolver 127.0.0.1:%d ipv6=%s;\naccess_log %s common;\n"
                    "hostname_lookups double;\nserver {\n  listen [::1]:0;\n  root %s;\n}\n"
                    % (dns.port, ipv6, log, docroot))
    from conftest import Spate
    s = Spate(["-c", str(conf)]).start()
    try:
        c = socket.create_connection(("::1", s.port), timeout=10)
        c.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        while c.recv(65536):
            pass
        c.close()
        lines = wait_lines(log, 1)
    finally:
        stop(s)
    if ipv6 == "on":
        assert first(lines[0]) == "six.test", lines
        assert dns.queries == [(REV6, "PTR"), ("six.test.", "AAAA")], dns.queries
    else:
        assert first(lines[0]) == "::1", lines
        assert dns.queries == [(REV6, "PTR")], dns.queries


def test_reload_takes_the_new_resolver(tmp_path, docroot):
    """A reload that names another DNS server: the next lookups go to it (the first server's
    answers stay cached for their own mode), and nothing of the old configuration is read
    after it is gone (ASan)."""
    import os
    import signal
    a, b = Dns(), Dns()
    b.mode = "other"
    with socket.socket() as t:
        t.bind(("127.0.0.1", 0))
        port = t.getsockname()[1]
    log, err = tmp_path / "access.log", tmp_path / "error.log"
    conf = tmp_path / "spate.conf"

    def write(dns, mode):
        t = ("user root;\nworkers 1;\nerror_log %s info;\nresolver 127.0.0.1:%d;\n"
             "access_log %s common;\nhostname_lookups %s;\n"
             "server {\n  listen 127.0.0.1:%d;\n  root %s;\n}\n"
             % (err, dns.port, log, mode, port, docroot))
        conf.with_suffix(".tmp").write_text(t)
        os.replace(conf.with_suffix(".tmp"), conf)

    from conftest import Spate
    write(a, "on")
    s = Spate(["-c", str(conf)]).start()
    try:
        get(s)
        wait_lines(log, 1)
        write(b, "double")
        s.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while not re.search(r"reloaded .*: configuration \d+ in force",
                            err.read_text() if err.exists() else ""):
            assert time.monotonic() < deadline, err.read_text()
            time.sleep(0.02)
        get(s)
        lines = wait_lines(log, 2)
    finally:
        stop(s)
        a.close()
        b.close()
    assert [first(x) for x in lines] == ["client.test", "other.test"], lines
    assert a.queries == [(REV, "PTR")], a.queries
    assert b.queries == [(REV, "PTR"), ("other.test.", "A")], b.queries
