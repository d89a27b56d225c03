"""allow host / deny host (issue 12): rules by the client's name, from reverse DNS confirmed
by a forward lookup, against the DNS server test_hostname_lookups runs on loopback."""
import pytest

from conftest import spate_conf
from test_access import get

pytest.importorskip("dnslib")
from test_hostname_lookups import Dns  # noqa: E402


@pytest.fixture
def dns():
    d = Dns()
    yield d
    d.close()


def start(tmp_path, docroot, dns, server):
    main = "resolver 127.0.0.1:%d valid=30s;\nresolver_timeout 2s;\n" % dns.port
    return spate_conf(tmp_path, docroot, main=main, server=server)


def status(s, path):
    return get(s.port, path)[0]


def stop(s):
    rc, err = s.stop()
    assert rc == 0, err
    assert "AddressSanitizer" not in err and "runtime error" not in err, err


LOCS = """
  location /only/ { allow host client.test; deny all; alias %(d)s/; }
  location /domain/ { deny host .test; allow all; alias %(d)s/; }
  location /addr-first/ { allow 127.0.0.1; deny host client.test; deny all; alias %(d)s/; }
  location /other/ { allow host other.example; deny all; alias %(d)s/; }
"""


def test_host_rules_with_a_confirmed_name(tmp_path, docroot, dns):
    s = start(tmp_path, docroot, dns, LOCS % {"d": docroot})
    try:
        assert status(s, "/only/hello.txt") == 200
        assert status(s, "/domain/hello.txt") == 403  # client.test is under .test
        assert status(s, "/other/hello.txt") == 403
        assert status(s, "/hello.txt") == 200  # no rules there
    finally:
        stop(s)
    assert ("1.0.0.127.in-addr.arpa.", "PTR") in dns.queries
    assert ("client.test.", "A") in dns.queries  # confirmed forward, as Apache does


def test_address_rule_first_needs_no_lookup(tmp_path, docroot, dns):
    s = start(tmp_path, docroot, dns, LOCS % {"d": docroot})
    try:
        assert status(s, "/addr-first/hello.txt") == 200
    finally:
        stop(s)
    assert dns.queries == []


@pytest.mark.parametrize("mode", ["mismatch", "nxdomain", "servfail"])
def test_no_confirmed_name_matches_no_host_rule(tmp_path, docroot, dns, mode):
    """A name whose forward lookup does not give the address back, or none at all, matches
    no host rule."""
    dns.mode = mode
    s = start(tmp_path, docroot, dns, LOCS % {"d": docroot})
    try:
        assert status(s, "/only/hello.txt") == 403
        assert status(s, "/domain/hello.txt") == 200
    finally:
        stop(s)


def test_slow_dns_does_not_hold_the_worker(tmp_path, docroot, dns):
    """A request waiting for its name (the server holds the answer) waits alone: another
    location is served meanwhile by the same single worker; past resolver_timeout the rule
    sees no name."""
    import threading
    dns.mode = "hold"
    s = start(tmp_path, docroot, dns, LOCS % {"d": docroot})
    try:
        result = {}
        t = threading.Thread(target=lambda: result.setdefault("st", status(s, "/only/hello.txt")))
        t.start()
        assert status(s, "/hello.txt") == 200
        t.join(30)
        assert result.get("st") == 403  # timed out: no name, so deny all
    finally:
        stop(s)
