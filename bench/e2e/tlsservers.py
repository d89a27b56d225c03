"""What the TLS and HTTP/2 benchmarks (tls_bench.py, h2_bench.py) share: one docroot, one
self-signed certificate, one TLS configuration, and spate, nginx and h2o each configured the
same way around them.

- Certificate: RSA 2048, self-signed, made by openssl at setup (CN and SAN localhost,
  127.0.0.1); every server loads the same files.
- TLS: TLS 1.3 with TLS_AES_128_GCM_SHA256 only, X25519 (every client's first group).
  The clients enforce it, whatever a server prefers: every OpenSSL client (wrk, openssl
  s_time) runs with OPENSSL_CONF pointing at a file whose system_default says
  MinProtocol TLSv1.3 and Ciphersuites TLS_AES_128_GCM_SHA256, and h2load, which sets its
  own list, gets --tls13-ciphers=TLS_AES_128_GCM_SHA256. The servers run with the same
  OPENSSL_CONF, and nginx and spate say it in their configuration too (h2o 2.2.5 has no
  TLS 1.3 cipher option). precheck() checks the protocol and cipher each server
  negotiated.
- No kernel TLS for anyone: this kernel has no CONFIG_TLS (setsockopt TCP_ULP "tls" fails
  with ENOENT; ktls_state() says so), and nginx's kTLS (ssl_conf_command Options KTLS) is off
  unless configured, which it is not here.
- One worker each (nginx worker_processes 1, h2o num-threads 1, spate workers 1), pinned to
  CPU 0 in its own process group; the clients run on CPU 1. Access logs off. Session
  resumption as each server has it by default (TLS 1.3 tickets in all three).
- Docroot: small.bin (1 KiB, as the shared harness's `small`) and 1m.bin (1 MiB).
"""
import hashlib
import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import servers  # noqa: E402  (beside this file: the launch, pinning and CPU accounting)
from servers import group_pids  # noqa: E402  (Profile: the server's processes)

ROOT = "/tmp/tlsbench"
CIPHER = "TLS_AES_128_GCM_SHA256"
CERT = ROOT + "/cert.pem"
KEY = ROOT + "/key.pem"
OSSL_CNF = ROOT + "/openssl.cnf"

OSSL_CNF_TEXT = """openssl_conf = bench_init
[bench_init]
ssl_conf = ssl_sect
[ssl_sect]
system_default = bench_tls
[bench_tls]
MinProtocol = TLSv1.3
Ciphersuites = TLS_AES_128_GCM_SHA256
"""


def body(name, size):
    """Deterministic bytes (a SHA-256 stream seeded by the name)."""
    out = bytearray()
    i = 0
    while len(out) < size:
        out += hashlib.sha256(b"%s-%d" % (name.encode(), i)).digest()
        i += 1
    return bytes(out[:size])


FILES = {"small.bin": body("small", 1024), "1m.bin": body("1m", 1 << 20)}


def setup():
    """Fresh docroot, certificate and OpenSSL configuration under ROOT."""
    shutil.rmtree(ROOT, ignore_errors=True)
    os.makedirs(ROOT + "/www")
    os.makedirs(ROOT + "/nginx")
    for name, data in FILES.items():
        with open(ROOT + "/www/" + name, "wb") as f:
            f.write(data)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", KEY,
                    "-out", CERT, "-days", "30", "-subj", "/CN=localhost", "-addext",
                    "subjectAltName=DNS:localhost,IP:127.0.0.1"], check=True,
                   capture_output=True)
    with open(OSSL_CNF, "w") as f:
        f.write(OSSL_CNF_TEXT)


def cleanup():
    shutil.rmtree(ROOT, ignore_errors=True)


def env():
    """The environment of every server and client: the bench's OpenSSL configuration."""
    e = dict(os.environ)
    e["OPENSSL_CONF"] = OSSL_CNF
    return e


def ktls_state():
    """'off: kernel without CONFIG_TLS' when the TLS ULP cannot be set, else 'available'."""
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen()
    c = socket.create_connection(lst.getsockname())
    try:
        c.setsockopt(socket.IPPROTO_TCP, 31, b"tls")  # TCP_ULP
        return "available (the kernel has the TLS ULP; nobody here turns it on)"
    except OSError as e:
        return "off: kernel without CONFIG_TLS (TCP_ULP tls: %s)" % e.strerror
    finally:
        c.close()
        lst.close()


# Listeners: "tls" HTTPS with HTTP/1.1 only; "h2tls" HTTPS with ALPN h2 (and http/1.1);
# "h2c" clear text with HTTP/2 prior knowledge.
# "plain" is HTTP/1.1 in clear text (what TLS adds to a request is the difference).
PORTS = {"spate": {"tls": 27440, "h2tls": 27441, "h2c": 27442, "plain": 27443},
         "nginx": {"tls": 27450, "h2tls": 27451, "h2c": 27452, "plain": 27453},
         "h2o": {"tls": 27460, "h2tls": 27461, "h2c": 27462, "plain": 27463},
         "spate-ref": {"tls": 27470, "h2tls": 27471, "h2c": 27472, "plain": 27473}}

NGINX_CONF = """worker_processes 1;
daemon off;
master_process on;
pid {root}/nginx/pid;
error_log {root}/nginx/error.log warn;
events {{ worker_connections 16384; use epoll; }}
http {{
  access_log off;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_timeout 65s;
  keepalive_requests 1000000;
  open_file_cache max=1000 inactive=60s;
  open_file_cache_valid 60s;
  client_body_temp_path {root}/nginx;
  proxy_temp_path {root}/nginx;
  fastcgi_temp_path {root}/nginx;
  uwsgi_temp_path {root}/nginx;
  scgi_temp_path {root}/nginx;
  ssl_certificate {cert};
  ssl_certificate_key {key};
  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_conf_command Ciphersuites {cipher};
  server {{
{listens}
    root {root}/www;
  }}
}}
"""
NGINX_LISTEN = {"tls": "ssl", "h2tls": "ssl http2", "h2c": "http2", "plain": ""}

H2O_CONF = """num-threads: 1
user: {user}
max-connections: 65536
pid-file: {root}/h2o.pid
error-log: {root}/h2o-error.log
http1-request-timeout: 60
{listens}
hosts:
  "default":
    paths:
      /:
        file.dir: {root}/www
"""
# h2o takes one listen key per listener (its YAML reader accepts the key repeated).
H2O_TLS = """listen:
  host: 127.0.0.1
  port: {port}
  ssl:
    certificate-file: {cert}
    key-file: {key}
    min-version: TLSv1.2
    ocsp-update-interval: 0
"""
H2O_PLAIN = """listen:
  host: 127.0.0.1
  port: {port}
"""

SPATE_CONF = """workers 1;
user root;
access_log off;
error_log {root}/spate-error.log notice;
{servers}
"""
SPATE_TLS = """server {{
  listen 127.0.0.1:{port} ssl;
  ssl_certificate {cert};
  ssl_certificate_key {key};
  ssl_protocols TLSv1.2 TLSv1.3;
{extra}  root {root}/www;
}}
"""
SPATE_PLAIN = """server {{
  listen 127.0.0.1:{port};
{extra}  root {root}/www;
}}
"""


def server_cmd(name, kinds, spate_bin=None, spate_conf_command=True):
    """The command line of server name serving the listener kinds (see PORTS); writes its
    configuration under ROOT."""
    ports = PORTS[name]
    fmt = dict(root=ROOT, cert=CERT, key=KEY, cipher=CIPHER)
    if name == "nginx":
        listens = "\n".join("    listen 127.0.0.1:%d %s backlog=4096;" % (ports[k], NGINX_LISTEN[k])
                            for k in kinds)
        path = ROOT + "/nginx.conf"
        with open(path, "w") as f:
            f.write(NGINX_CONF.format(listens=listens, **fmt))
        return ["nginx", "-p", ROOT + "/nginx", "-c", path]
    if name == "h2o":
        listens = "".join(
            (H2O_PLAIN if k in ("h2c", "plain") else H2O_TLS).format(port=ports[k], **fmt)
            for k in kinds)
        path = ROOT + "/h2o.conf"
        with open(path, "w") as f:
            f.write(H2O_CONF.format(listens=listens, user=pwd.getpwuid(os.getuid()).pw_name,
                                    **fmt))
        return ["h2o", "-c", path]
    if name in ("spate", "spate-ref"):
        servers = []
        for k in kinds:
            extra = ""
            if k in ("h2tls", "h2c"):
                extra += "  http2 on;\n"
            if k in ("tls", "h2tls"):
                if spate_conf_command:
                    extra += "  ssl_conf_command Ciphersuites %s;\n" % CIPHER
                servers.append(SPATE_TLS.format(port=ports[k], extra=extra, **fmt))
            else:
                servers.append(SPATE_PLAIN.format(port=ports[k], extra=extra, **fmt))
        path = ROOT + "/%s.conf" % name
        with open(path, "w") as f:
            f.write(SPATE_CONF.format(servers="".join(servers), **fmt))
        return [os.path.abspath(spate_bin), "-c", path]
    raise ValueError(name)


class Server(servers.Server):
    """A server pinned to CPU 0 in its own process group, stopped (the whole group) on exit;
    refuses to start when one of its fixed ports is taken. Its stderr goes to ROOT/NAME.stderr
    and it runs with the bench's OpenSSL configuration (env())."""

    def __init__(self, name, cmd, ports):
        self.name = name
        for port in ports:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
            except OSError:
                continue
            raise RuntimeError("port %d is in use by another process; not starting %s" %
                               (port, name))
        super().__init__(cmd, list(ports), log=ROOT + "/%s.stderr" % name, env=env())
        self.p = self.proc


def tls_context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(CERT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.set_ciphers("ALL")  # TLS 1.2 list; TLS 1.3's comes from OPENSSL_CONF or the default
    return ctx


def https_get(port, path, ctx, session=None, alpn=None):
    """One HTTP/1.1 GET over TLS; returns (body, protocol, cipher, session, reused, alpn)."""
    if alpn:
        ctx.set_alpn_protocols(alpn)
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    s = ctx.wrap_socket(raw, server_hostname="localhost", session=session)
    try:
        s.sendall(b"GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n" %
                  path.encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, payload = data.partition(b"\r\n\r\n")
        status = head.split(b"\r\n", 1)[0]
        if b" 200 " not in status + b" ":
            payload = None
        return payload, s.version(), s.cipher()[0], s.session, s.session_reused, \
            s.selected_alpn_protocol()
    finally:
        s.close()


def precheck_tls(port):
    """Checks a TLS listener: exact bodies, TLS 1.3 with CIPHER (what the bench's clients
    offer: this process runs with OPENSSL_CONF set by the scripts), and a resumed second
    connection. Returns a list of problems (empty: fine) and whether resumption worked."""
    problems = []
    ctx = tls_context()
    sess = None
    for name, want in FILES.items():
        got, proto, cipher, sess, _, _ = https_get(port, "/" + name, ctx)
        if got != want:
            problems.append("%s: wrong body (%s bytes)" % (name, None if got is None else len(got)))
        if proto != "TLSv1.3" or cipher != CIPHER:
            problems.append("negotiated %s %s" % (proto, cipher))
    _, _, _, _, reused, _ = https_get(port, "/small.bin", ctx, session=sess)
    if not reused:
        problems.append("a second connection with the first one's session was not resumed")
    return problems, reused


class Load:
    """Machine CPU use besides the server and the client over a window: busy time of all
    CPUs from /proc/stat minus what the server group and the client processes used."""

    def __init__(self):
        self.t0 = time.monotonic()
        self.busy0 = self._busy()
        self.kids0 = self._kids()

    @staticmethod
    def _busy():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        idle = v[3] + v[4]
        return (sum(v[:8]) - idle) / os.sysconf("SC_CLK_TCK")

    @staticmethod
    def _kids():
        r = os.times()
        return r.children_user + r.children_system

    def end(self, server_cpu):
        """(wall seconds, client CPU seconds, other processes' CPU in % of one core)."""
        wall = time.monotonic() - self.t0
        client = self._kids() - self.kids0
        other = self._busy() - self.busy0 - client - server_cpu
        return wall, client, max(0.0, other) * 100 / wall


SYSCALLS = ["io_uring_enter", "epoll_wait", "read", "write", "writev", "sendmsg", "sendto",
            "recvfrom", "sendfile64", "accept4", "close"]


class Profile:
    """With an output folder: `perf record -e cpu-clock -g` on CPU 0 (the server's, softirqs
    included) and `perf stat` of the server's system calls (its processes, all threads) over
    one measured run; files NAME.data, NAME.stat and NAME.pids (the server's processes). A run
    measured while profiled pays for perf on its CPU: its numbers are not comparable."""

    def __init__(self, outdir, name, pgid):
        self.procs = []
        if not outdir:
            return
        os.makedirs(outdir, exist_ok=True)
        base = os.path.join(outdir, name)
        ev = ",".join("syscalls:sys_enter_" + s for s in SYSCALLS)
        pids = group_pids(pgid)
        with open(base + ".pids", "w") as f:  # perf_shares.py counts only these
            f.write(" ".join(pids) + "\n")
        self.procs = [
            subprocess.Popen(["perf", "record", "-q", "-e", "cpu-clock", "-F", "999", "-g",
                              "-C", "0", "-o", base + ".data"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL),
            subprocess.Popen(["perf", "stat", "-p", ",".join(pids), "-e", ev,
                              "-o", base + ".stat"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]

    def stop(self):
        for p in self.procs:
            p.send_signal(signal.SIGINT)
        for p in self.procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
