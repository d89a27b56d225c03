"""metrics; status; stub_status; health; and the latency histograms they report.

The Prometheus output is checked by Debian's promtool (the prometheus package), the figures
against the requests the test sent, the status page in headless chromium (its screenshot is
kept: <build dir>/tests/artifacts/status.png, or under $SPATE_ARTIFACTS).
"""
import http.client
import json
import re
import shutil
import signal
import subprocess
import time

import pytest

from browser import CHROMIUM, dump_dom, screenshot
from conftest import Spate, spate_conf

PROMTOOL = shutil.which("promtool")

SERVER = """
  location = /metrics { metrics; }
  location = /status { status; }
  location = /basic_status { stub_status; }
  location = /healthz { health; }
  location /api/ { location_latency on; }
  location "/q\\"x/" { location_latency on; }
"""


def get(s, path, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
    c.request("GET", path, headers=headers or {})
    r = c.getresponse()
    body = r.read()
    c.close()
    return r, body


def samples(text):
    """Prometheus text -> {(name, frozenset(labels)): value}."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$', line)
        assert m, "not a sample line: %r" % line
        labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def one(s, name, **labels):
    key = (name, frozenset(labels.items()))
    assert key in s, "no sample %s%s" % (name, labels)
    return s[key]


@pytest.fixture
def server(tmp_path, docroot):
    (docroot / "api").mkdir()
    (docroot / "api" / "x").write_text("x" * 100)
    # `user root;`: a reload reads pytest's directories (root's, 0700) again, nobody cannot
    s = spate_conf(tmp_path, docroot, main="user root;\nlatency_histograms on;", server=SERVER,
                   workers=2)
    yield s
    rc, err = s.stop()
    assert rc == 0, err


def load(s, n_root=30, n_api=20):
    for _ in range(n_root):
        r, _ = get(s, "/")
        assert r.status == 200
    for _ in range(n_api):
        r, _ = get(s, "/api/x")
        assert r.status == 200


@pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed (apt-get install prometheus)")
def test_metrics_pass_promtool(server):
    load(server)
    r, body = get(server, "/metrics")
    assert r.status == 200
    assert r.getheader("Content-Type").startswith("text/plain; version=0.0.4")
    assert r.getheader("Cache-Control") == "no-store"
    p = subprocess.run([PROMTOOL, "check", "metrics"], input=body, capture_output=True)
    assert p.returncode == 0, (p.stdout + p.stderr).decode()
    # promtool's lint findings go to stdout/stderr even at exit 0 in some versions
    assert b"error" not in (p.stdout + p.stderr).lower(), (p.stdout + p.stderr).decode()


def test_metrics_count_what_was_sent(server):
    load(server, 30, 20)
    s = samples(get(server, "/metrics")[1].decode())
    # the totals are the sums of the per-worker series, for every counter
    for (name, labels), v in s.items():
        if name.startswith("spate_worker_") and name.endswith("_total"):
            total = name.replace("spate_worker_", "spate_", 1)
            rest = frozenset(kv for kv in labels if kv[0] not in ("worker", "cpu"))
            per = sum(x for (n2, l2), x in s.items() if n2 == name and
                      frozenset(kv for kv in l2 if kv[0] not in ("worker", "cpu")) == rest)
            assert s[(total, rest)] == per, name
    assert one(s, "spate_workers") == 2
    cpus = {dict(l)["cpu"] for (n, l) in s if n == "spate_worker_requests_total"}
    assert len(cpus) == 2
    assert one(s, "spate_requests_total") >= 50
    assert one(s, "spate_responses_total", **{"class": "2xx"}) >= 50
    # every request before this scrape has a service time; the scrape itself is still running
    count = one(s, "spate_request_duration_seconds_count")
    assert count >= 50
    assert one(s, "spate_request_duration_seconds_bucket", le="+Inf") == count
    assert one(s, "spate_request_queue_seconds_count") >= 50
    # buckets are cumulative
    les = sorted(((float(dict(l)["le"]), v) for (n, l), v in s.items()
                  if n == "spate_request_duration_seconds_bucket"), key=lambda x: x[0])
    assert [v for _, v in les] == sorted(v for _, v in les)
    assert les[0][0] == 1e-06 and les[-1][0] == float("inf")
    # the location histogram counts exactly the requests to that location
    assert one(s, "spate_location_request_duration_seconds_count",
               server="", location="/api/") == 20
    # a location's name with a quote is escaped, not broken
    assert one(s, "spate_location_request_duration_seconds_count",
               server="", location='/q\\"x/') == 0
    assert one(s, "spate_config_generation") == 1


def test_status_json_percentiles(server):
    load(server)
    r, body = get(server, "/status?format=json")
    assert r.status == 200 and r.getheader("Content-Type") == "application/json"
    d = json.loads(body)
    assert d["workers_n"] == 2 and len(d["workers"]) == 2
    assert d["latency_histograms"] is True and d["draining"] is False
    assert sum(w["requests"] for w in d["workers"]) == d["total"]["requests"]
    for kind in ("service", "queue"):
        lat = d["total"]["latency_us"][kind]
        assert lat["count"] >= 50
        ps = [lat[k] for k in ("p50", "p90", "p99", "p99.9", "p99.99", "max")]
        assert ps == sorted(ps) and ps[0] >= 1, lat
    locs = {x["location"]: x for x in d["locations"]}
    assert locs["/api/"]["latency_us"]["service"]["count"] == 20
    # Accept chooses the form too, and caches are told so
    r, body = get(server, "/status", {"Accept": "application/json"})
    assert r.getheader("Vary") == "Accept"
    json.loads(body)
    r, body = get(server, "/status")
    assert r.getheader("Content-Type").startswith("text/plain")
    assert b"p99.9" in body and b"worker" in body


def test_stub_status_is_nginx_format(server):
    load(server, 5, 0)
    r, body = get(server, "/basic_status")
    assert r.status == 200
    m = re.fullmatch(rb"Active connections: (\d+) \n"
                     rb"server accepts handled requests\n (\d+) (\d+) (\d+) \n"
                     rb"Reading: (\d+) Writing: (\d+) Waiting: (\d+) \n", body)
    assert m, body
    active, accepts, handled, requests = (int(x) for x in m.groups()[:4])
    assert active >= 1 and accepts == handled and accepts >= 6 and requests >= 6


def test_health_ok(server):
    r, body = get(server, "/healthz")
    assert r.status == 200 and body == b"ok\n"


def test_reload_moves_the_generation(server):
    server.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        s = samples(get(server, "/metrics")[1].decode())
        if one(s, "spate_config_generation") == 2:
            break
        time.sleep(0.1)
    assert one(s, "spate_config_generation") == 2
    assert one(s, "spate_reloads_total") == 1
    assert one(s, "spate_reload_failures_total") == 0


def test_histograms_off_by_default(tmp_path, docroot):
    s = spate_conf(tmp_path, docroot, server="location = /metrics { metrics; }\n"
                   "location = /status { status; }")
    try:
        get(s, "/")
        text = get(s, "/metrics")[1].decode()
        assert "spate_request_duration_seconds" not in text
        assert "spate_requests_total" in text
        d = json.loads(get(s, "/status?format=json")[1])
        assert d["latency_histograms"] is False
    finally:
        rc, err = s.stop()
        assert rc == 0, err


@pytest.mark.parametrize("line", ["metrics on;", "status on off;", "location_latency maybe;",
                                  "latency_histograms yes;"])
def test_bad_directives_name_file_and_line(tmp_path, docroot, line):
    conf = tmp_path / "bad.conf"
    inner = line if line.startswith("latency_histograms") else \
        "server { listen 127.0.0.1:0; location /m {\n %s\n } }" % line
    conf.write_text("workers 1;\n%s\n" % inner)
    p = subprocess.run(Spate(["-t", "-c", str(conf)]).args, capture_output=True, timeout=30)
    assert p.returncode != 0
    err = p.stderr.decode()
    assert re.search(r"bad\.conf:[23]", err), err


@pytest.mark.skipif(not shutil.os.path.exists(CHROMIUM), reason="chromium is not installed")
def test_status_page_in_chromium(server, tmp_path):
    load(server)
    r, body = get(server, "/status", {"Accept": "text/html"})
    assert r.getheader("Content-Type").startswith("text/html")
    assert b"<script" in body and b"http" not in body.split(b"<body>")[0].lower().replace(
        b"http-equiv", b""), "the page must not load external assets"
    dom = dump_dom(tmp_path / "profile", server.url("/status?format=html"),
                   "--virtual-time-budget=3000")
    # the script drew one row per worker, with its CPU, and the latency table
    table = dom.split('id="workers"')[1].split("</table>")[0]
    assert table.count("<tr") == 1 + 2 + 1, table  # heading, two workers, total
    assert "p99.9" in dom.split('id="lat"')[1]
    assert "/api/" in dom.split('id="locs"')[1]
    screenshot(tmp_path / "profile2", server.url("/status?format=html"), "status.png",
               "--virtual-time-budget=3000")
