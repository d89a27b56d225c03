"""HTTP/2 under the known attacks: each test sends the attack and checks that the attacking
connection is bounded (refused, reset, closed) while another client is still served."""
import os
import socket
import subprocess
import time

import h2.errors
import h2.exceptions
import h2.settings
import hpack
import hyperframe.frame as hf
import pytest

from conftest import Spate
from h2_util import H2Client

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def start(tmp_path, docroot, main="", server=""):
    conf = tmp_path / "spate.conf"
    conf.write_text("workers 1;\n%s\nserver {\n  listen 127.0.0.1:0;\n  http2 on;\n  root %s;\n"
                    "%s\n}\n" % (main, docroot, server))
    return Spate(["-c", str(conf)]).start()


@pytest.fixture
def site(tmp_path, docroot):
    (docroot / "big.bin").write_bytes(os.urandom(2 * 1024 * 1024))
    s = start(tmp_path, docroot, main="send_timeout 1s;\nhttp2_max_concurrent_streams 4;\n"
              "http2_max_resets 50;")
    yield s
    rc, err = s.stop()
    assert rc == 0, err
    assert "AddressSanitizer" not in err and "runtime error" not in err, err


def others_served(s):
    """Another client, on its own connection, gets its answer now."""
    r = subprocess.run(["curl", "-s", "--http2-prior-knowledge", "--max-time", "5",
                        s.url("/hello.txt")], capture_output=True, timeout=10)
    assert r.stdout == b"hello, world\n"


def closed_by_server(sock, timeout=10):
    """Reads (dropping) until the server closes; True if it did within timeout."""
    sock.settimeout(0.5)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if not sock.recv(1 << 20):
                return True
        except socket.timeout:
            continue
        except ConnectionResetError:
            return True
    return False


def frames(data):
    """Parses raw frames (stops at an incomplete one)."""
    out = []
    while len(data) >= 9:
        f, length = hf.Frame.parse_frame_header(memoryview(data[:9]))
        if len(data) < 9 + length:
            break
        f.parse_body(memoryview(data[9:9 + length]))
        out.append(f)
        data = data[9 + length:]
    return out


def request_block(enc, path="/hello.txt", extra=()):
    return enc.encode([(":method", "GET"), (":scheme", "http"), (":authority", "localhost"),
                       (":path", path)] + list(extra))


def test_rapid_reset_gets_goaway_enhance_your_calm(site):
    c = H2Client(site.port)
    c.read_once()  # the server's SETTINGS
    got_goaway = False
    try:
        for batch in range(20):
            for _ in range(50):
                sid = c.conn.get_next_available_stream_id()
                c.conn.send_headers(sid, [(":method", "GET"), (":scheme", "http"),
                                          (":authority", "x"), (":path", "/big.bin")])
                c.conn.reset_stream(sid, h2.errors.ErrorCodes.CANCEL)
            c.flush()
            if batch == 5:
                others_served(site)
    except (BrokenPipeError, ConnectionResetError, h2.exceptions.ProtocolError):
        got_goaway = True
    try:
        c.read_until_closed(timeout=10)
    except (ConnectionResetError, h2.exceptions.ProtocolError):
        pass
    assert c.goaway is not None, "no GOAWAY (the client saw %s)" % got_goaway
    assert c.goaway[0] == h2.errors.ErrorCodes.ENHANCE_YOUR_CALM
    assert c.closed
    others_served(site)


def test_continuation_flood_closes_the_connection(site):
    s = socket.create_connection(("127.0.0.1", site.port), timeout=10)
    s.sendall(PREFACE + hf.SettingsFrame(0).serialize())
    block = request_block(hpack.Encoder())
    hdr = hf.HeadersFrame(1)
    hdr.data = block
    hdr.flags.add("END_STREAM")  # but never END_HEADERS
    s.sendall(hdr.serialize())
    sent = 0
    try:
        for i in range(20000):
            cont = hf.ContinuationFrame(1)
            cont.data = hpack.Encoder().encode([("x-flood-%d" % i, "v" * 50)])
            s.sendall(cont.serialize())
            sent += 1
            if i == 100:
                others_served(site)
    except (BrokenPipeError, ConnectionResetError):
        pass
    assert sent < 20000 or closed_by_server(s), "the flood was taken to its end"
    assert closed_by_server(s)
    s.close()
    others_served(site)


def flood(site, make_frame, n=400000):
    """Sends n small frames without reading (a tiny receive buffer): the server must close."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", site.port))
    s.settimeout(5)
    s.sendall(PREFACE + hf.SettingsFrame(0).serialize())
    one = make_frame()
    burst = one * 2000
    sent = 0
    try:
        while sent < n:
            s.sendall(burst)
            sent += 2000
            if sent == 20000:
                others_served(site)
    except (BrokenPipeError, ConnectionResetError, socket.timeout):
        pass
    closed = closed_by_server(s, timeout=15)
    s.close()
    return sent, closed


def test_ping_flood_is_bounded(site):
    sent, closed = flood(site, lambda: hf.PingFrame(0, opaque_data=b"12345678").serialize())
    assert closed, "sent %d PINGs without reading: the server kept acknowledging" % sent
    others_served(site)


def test_settings_flood_is_bounded(site):
    def settings():
        f = hf.SettingsFrame(0)
        f.settings = {h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 100}
        return f.serialize()
    sent, closed = flood(site, settings)
    assert closed, "sent %d SETTINGS without reading: the server kept acknowledging" % sent
    others_served(site)


def test_hpack_bomb_is_refused_with_bounded_memory(site):
    s = socket.create_connection(("127.0.0.1", site.port), timeout=10)
    enc = hpack.Encoder()
    # one 4000-byte field enters the dynamic table, then 3000 one-byte references to it: a
    # 12 MB header list from a 10 KB block
    block = request_block(enc, extra=[("x-bomb", "a" * 4000)] * 3000)
    assert len(block) < 16384
    hdr = hf.HeadersFrame(1)
    hdr.data = block
    hdr.flags.add("END_HEADERS")
    hdr.flags.add("END_STREAM")
    s.sendall(PREFACE + hf.SettingsFrame(0).serialize() + hdr.serialize())
    others_served(site)
    # the same connection is still fine for a normal request
    ok = hf.HeadersFrame(3)
    ok.data = request_block(enc)
    ok.flags.add("END_HEADERS")
    ok.flags.add("END_STREAM")
    s.sendall(ok.serialize())
    data = b""
    s.settimeout(5)
    dec = hpack.Decoder()
    seen = {}
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and 3 not in seen:
        try:
            d = s.recv(1 << 16)
        except socket.timeout:
            break
        if not d:
            break
        data += d
        for f in frames(data):
            if isinstance(f, hf.HeadersFrame):
                seen[f.stream_id] = dict(dec.decode(f.data)).get(":status")
            elif isinstance(f, hf.RstStreamFrame):
                seen.setdefault(f.stream_id, "rst %d" % f.error_code)
        data = b""  # all frames were complete in practice; headers decode in order
    s.close()
    assert seen.get(1) == "431", seen  # answered, not a connection error
    assert seen.get(3) == "200", seen


def test_zero_window_stall_is_closed_by_send_timeout(site):
    c = H2Client(site.port, auto_ack=False,
                 settings={h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 0})
    sid = c.request("/big.bin")
    t0 = time.monotonic()
    c.sock.settimeout(1)
    others_served(site)
    closed = False
    while time.monotonic() - t0 < 10:
        try:
            if not c.read_once():
                closed = True
                break
        except socket.timeout:
            continue
        except ConnectionResetError:
            closed = True
            break
    assert closed, "a client that never opens its window was kept"
    assert time.monotonic() - t0 < 6
    assert not c.streams[sid].data
    others_served(site)


def test_streams_beyond_the_limit_are_refused(site):
    # window 0: no response can finish, so the first streams stay open
    s = socket.create_connection(("127.0.0.1", site.port), timeout=10)
    settings = hf.SettingsFrame(0)
    settings.settings = {h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 0}
    out = PREFACE + settings.serialize()
    enc = hpack.Encoder()
    for sid in range(1, 20, 2):  # 10 streams, the limit is 4
        f = hf.HeadersFrame(sid)
        f.data = request_block(enc, "/big.bin")
        f.flags.add("END_HEADERS")
        f.flags.add("END_STREAM")
        out += f.serialize()
    s.sendall(out)
    data = b""
    s.settimeout(1)
    deadline = time.monotonic() + 5
    refused, answered = set(), set()
    while time.monotonic() < deadline and len(refused) + len(answered) < 10:
        try:
            d = s.recv(1 << 16)
        except socket.timeout:
            continue
        if not d:
            break
        data += d
        fs = frames(data)
        answered = {f.stream_id for f in fs if isinstance(f, hf.HeadersFrame)}
        refused = {f.stream_id for f in fs if isinstance(f, hf.RstStreamFrame)
                   and f.error_code == h2.errors.ErrorCodes.REFUSED_STREAM}
    others_served(site)
    s.close()
    assert len(answered) == 4 and len(refused) == 6, (answered, refused)
