"""A small synchronous HTTP/2 client over python3-h2 (Debian's), for precise checks.

H2Client(port) connects with prior knowledge (h2c); request() opens a stream, run() reads
until the given streams ended (or were reset) and returns what each got. Flow control is
acknowledged as data arrives unless auto_ack=False (then ack() opens the windows).
"""
import socket
import time

import h2.config
import h2.connection
import h2.events
import h2.settings


class Stream:
    def __init__(self, sid):
        self.sid = sid
        self.status = None
        self.headers = []
        self.data = bytearray()
        self.ended = False
        self.reset = None  # the error code of a RST_STREAM

    def header(self, name):
        for k, v in self.headers:
            if k == name:
                return v
        return None

    @property
    def done(self):
        return self.ended or self.reset is not None


class H2Client:
    def __init__(self, port, settings=None, auto_ack=True, timeout=10, host="127.0.0.1",
                 sock=None):
        self.sock = sock or socket.create_connection((host, port), timeout=timeout)
        self.sock.settimeout(timeout)
        cfg = h2.config.H2Configuration(client_side=True, header_encoding="utf-8",
                                        validate_inbound_headers=False)
        self.conn = h2.connection.H2Connection(config=cfg)
        self.conn.initiate_connection()
        if settings:
            self.conn.update_settings(settings)
        self.streams = {}
        self.auto_ack = auto_ack
        self.goaway = None  # (error_code, last_stream_id)
        self.closed = False
        self.remote_settings = {}
        self.flush()

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def request(self, path, method="GET", headers=(), body=None, authority="localhost",
                end=True):
        sid = self.conn.get_next_available_stream_id()
        hdrs = [(":method", method), (":scheme", "http"), (":authority", authority),
                (":path", path)] + list(headers)
        self.conn.send_headers(sid, hdrs, end_stream=end and body is None)
        self.streams[sid] = Stream(sid)
        if body is not None:
            self.send_body(sid, body, end=end)
        self.flush()
        return sid

    def send_body(self, sid, body, end=True):
        """Sends body as the windows allow (reading frames meanwhile)."""
        off = 0
        while off < len(body):
            room = min(self.conn.local_flow_control_window(sid),
                       self.conn.max_outbound_frame_size)
            if room <= 0:
                self.flush()
                self.read_once()
                continue
            self.conn.send_data(sid, body[off:off + room])
            off += room
            self.flush()
        if end:
            self.conn.end_stream(sid)
            self.flush()

    def ack(self, sid, n):
        self.conn.acknowledge_received_data(n, sid)
        self.flush()

    def read_once(self):
        try:
            data = self.sock.recv(1 << 20)
        except socket.timeout:
            raise
        except (ConnectionResetError, BrokenPipeError):
            data = b""
        if not data:
            self.closed = True
            return False
        for ev in self.conn.receive_data(data):
            self.event(ev)
        self.flush()
        return True

    def event(self, ev):
        s = self.streams.get(getattr(ev, "stream_id", None))
        if isinstance(ev, h2.events.ResponseReceived) and s:
            s.headers = list(ev.headers)
            s.status = int(s.header(":status"))
        elif isinstance(ev, h2.events.InformationalResponseReceived):
            pass
        elif isinstance(ev, h2.events.DataReceived):
            if s:
                s.data += ev.data
            if self.auto_ack and ev.flow_controlled_length:
                self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
        elif isinstance(ev, h2.events.StreamEnded) and s:
            s.ended = True
        elif isinstance(ev, h2.events.StreamReset) and s:
            s.reset = ev.error_code
        elif isinstance(ev, h2.events.ConnectionTerminated):
            self.goaway = (ev.error_code, ev.last_stream_id)
        elif isinstance(ev, h2.events.RemoteSettingsChanged):
            for k, v in ev.changed_settings.items():
                self.remote_settings[k] = v.new_value

    def run(self, sids=None, timeout=10):
        """Reads until the streams (all known ones by default) are done; returns them."""
        sids = list(self.streams) if sids is None else list(sids)
        deadline = time.monotonic() + timeout
        while not all(self.streams[s].done for s in sids):
            if time.monotonic() > deadline:
                raise TimeoutError("streams not done: %s" % [s for s in sids
                                                            if not self.streams[s].done])
            if not self.read_once():
                break
        return [self.streams[s] for s in sids]

    def get(self, path, timeout=10, **kw):
        sid = self.request(path, **kw)
        return self.run([sid], timeout=timeout)[0]

    def read_until_closed(self, timeout=10):
        deadline = time.monotonic() + timeout
        while not self.closed and time.monotonic() < deadline:
            try:
                self.read_once()
            except socket.timeout:
                break
        return self.closed

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
