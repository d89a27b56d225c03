"""TLS configuration (docs/config.md, "TLS"): what `spate -t` accepts and refuses, and, once the
TLS transport is built in, real clients against a TLS listener: curl, Python's ssl, openssl
s_client (SNI, ALPN, resumption, OCSP, mTLS), protocol limits and reloads.
"""
import os
import re
import subprocess

import pytest

from conftest import BIN
import tls_util

SRC = os.environ.get("SPATE_SRC") or os.path.join(os.path.dirname(__file__), "..", "..")


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A CA, RSA and ECDSA certificates for localhost and two names, a client certificate,
    and one from another CA."""
    d = tmp_path_factory.mktemp("pki")
    ca = tls_util.make_ca(d)
    other_ca = tls_util.make_ca(d, name="other CA")
    p = {
        "dir": d,
        "ca": ca,
        "rsa": tls_util.make_cert(d, ["localhost", "127.0.0.1"], ca=ca),
        "ec": tls_util.make_cert(d, ["localhost", "127.0.0.1"], key="ec", ca=ca),
        "a": tls_util.make_cert(d, ["a.test"], ca=ca),
        "b": tls_util.make_cert(d, ["b.test", "*.b.test"], key="ec", ca=ca),
        "client": tls_util.make_cert(d, ["client one"], ca=ca, client=True),
        "stranger": tls_util.make_cert(d, ["stranger"], ca=other_ca, client=True),
        "other_ca": other_ca,
    }
    p["ocsp"] = tls_util.make_ocsp(d, p["rsa"], ca)
    return p


def check(tmp_path, text):
    """Runs spate -t on text; returns (returncode, stderr)."""
    conf = tmp_path / "t.conf"
    conf.write_text(text)
    r = subprocess.run([BIN, "-t", "-c", str(conf)], capture_output=True, text=True, timeout=60)
    return r.returncode, r.stderr


def server(body, listen="127.0.0.1:0 ssl", root="/tmp"):
    return "server {\n  listen %s;\n  root %s;\n%s\n}\n" % (listen, root, body)


def certs(c):
    return "  ssl_certificate %s;\n  ssl_certificate_key %s;\n" % (c.cert, c.key)


# ---------------------------------------------------------------- configuration (spate -t)

def test_valid_configuration(tmp_path, pki):
    rc, err = check(tmp_path, server(certs(pki["rsa"]) + certs(pki["ec"]) +
                                     "  ssl_stapling on;\n  ssl_stapling_file %s;\n"
                                     % pki["ocsp"]))
    assert rc == 0, err


def test_listen_ssl_without_certificate(tmp_path):
    rc, err = check(tmp_path, "server {\n  root /tmp;\n  listen 127.0.0.1:0 ssl;\n}\n")
    assert rc == 1
    assert 't.conf:3: no "ssl_certificate" is defined for the "listen ... ssl" directive' in err


def test_key_not_matching(tmp_path, pki):
    rc, err = check(tmp_path, server("  ssl_certificate %s;\n  ssl_certificate_key %s;\n"
                                     % (pki["rsa"].cert, pki["a"].key)))
    assert rc == 1
    assert "t.conf:5: the key" in err and "does not match the certificate" in err, err


def test_unreadable_files(tmp_path, pki):
    rc, err = check(tmp_path, server("  ssl_certificate %s/none.pem;\n"
                                     "  ssl_certificate_key %s;\n" % (tmp_path, pki["rsa"].key)))
    assert rc == 1
    assert "t.conf:4: cannot read certificate" in err and "No such file" in err, err
    rc, err = check(tmp_path, server(certs(pki["rsa"]) + "  ssl_dhparam %s/none.pem;\n"
                                     % tmp_path))
    assert rc == 1 and "t.conf:6: cannot read DH parameters" in err, err


def test_missing_key(tmp_path, pki):
    rc, err = check(tmp_path, server("  ssl_certificate %s;\n" % pki["rsa"].cert))
    assert rc == 1 and 't.conf:4: no "ssl_certificate_key" is defined' in err, err


def test_stapling_file_checked(tmp_path, pki):
    expired = tls_util.make_ocsp(pki["dir"], pki["rsa"], pki["ca"], days=-1,
                                 out=str(tmp_path / "expired.der"))
    revoked = tls_util.make_ocsp(pki["dir"], pki["rsa"], pki["ca"], status="revoked",
                                 out=str(tmp_path / "revoked.der"))
    for f, why in [(expired, "has expired"), (revoked, "revoked"),
                   (pki["ocsp"], "is not for a certificate of this server")]:
        cert = pki["a"] if "not for" in why else pki["rsa"]
        rc, err = check(tmp_path, server(certs(cert) + "  ssl_stapling on;\n"
                                         "  ssl_stapling_file %s;\n" % f))
        assert rc == 1 and "t.conf:7: the OCSP response" in err and why in err, err
    garbage = tmp_path / "garbage.der"
    garbage.write_bytes(b"\x30\x03\x0a\x01\x00" * 3)
    rc, err = check(tmp_path, server(certs(pki["rsa"]) + "  ssl_stapling on;\n"
                                     "  ssl_stapling_file %s;\n" % garbage))
    assert rc == 1 and "is not a successful OCSP response" in err, err


def test_bad_values(tmp_path, pki):
    for line, want in [("ssl_protocols SSLv3;", "SSLv3 is not supported"),
                       ("ssl_protocols TLSv9;", 'unknown protocol "TLSv9"'),
                       ("ssl_ciphers NOPE;", 'ssl_ciphers "NOPE"'),
                       ("ssl_ecdh_curve nope;", 'ssl_ecdh_curve "nope"'),
                       ("ssl_conf_command Nope x;", 'ssl_conf_command "Nope"'),
                       ("ssl_verify_client maybe;", "ssl_verify_client"),
                       ("ssl_session_cache shared:x;", "invalid zone"),
                       ("ssl_session_ticket_key %s;" % pki["ca"].cert, "must be 48 or 80 bytes"),
                       ("ssl on;", "put the ssl parameter on listen"),
                       ("ssl_crl x.pem;", '"ssl_crl" is not supported yet')]:
        rc, err = check(tmp_path, server(certs(pki["rsa"]) + "  " + line + "\n"))
        assert rc == 1 and "t.conf:6:" in err and want in err, (line, err)


def test_encrypted_key_and_variables_refused(tmp_path, pki):
    enc = tmp_path / "enc.key"
    subprocess.run(["openssl", "pkey", "-in", pki["rsa"].key, "-aes256", "-passout", "pass:x",
                    "-out", str(enc)], check=True, capture_output=True)
    conf = server("  ssl_certificate %s;\n  ssl_certificate_key %s;\n" % (pki["rsa"].cert, enc))
    # OpenSSL would ask for the pass phrase on the terminal: the check fails at once instead
    rc, err = check(tmp_path, conf)
    assert rc == 1 and "t.conf:5: the key" in err and "is encrypted" in err, err
    rc, err = check(tmp_path, server("  ssl_certificate /etc/ssl/$ssl_server_name.pem;\n"))
    assert rc == 1 and "t.conf:4:" in err and "variables and data: values" in err, err


def test_inherited_from_http_level(tmp_path, pki):
    text = "http {\n" + certs(pki["rsa"]) + server("") + "}\n"
    rc, err = check(tmp_path, text)
    assert rc == 0, err


def test_nginx_only_directives_accepted(tmp_path, pki):
    rc, err = check(tmp_path, server(certs(pki["rsa"]) + "  ssl_session_cache shared:SSL:10m;\n"
                                     "  ssl_buffer_size 4k;\n  ssl_stapling_verify on;\n"
                                     "  ssl_prefer_server_ciphers on;\n  ssl_stapling on;\n"))
    assert rc == 0, err
    assert "ssl_stapling on without ssl_stapling_file" in err and "nothing is stapled" in err


def test_docs_example_parses(tmp_path, pki):
    """The example of docs/config.md's TLS section, with its files made here."""
    with open(os.path.join(SRC, "docs", "config.md")) as f:
        doc = f.read()
    section = doc[doc.index("\n## TLS\n"):]
    section = section[:section.index("\n## ", 5)]
    example = re.search(r"```nginx\n(.*?)```", section, re.S).group(1)
    ocsp_ec = tls_util.make_ocsp(pki["dir"], pki["rsa"], pki["ca"])
    files = {
        "/etc/ssl/example.com.rsa.pem": pki["rsa"].cert,
        "/etc/ssl/example.com.rsa.key": pki["rsa"].key,
        "/etc/ssl/example.com.ecdsa.pem": pki["ec"].cert,
        "/etc/ssl/example.com.ecdsa.key": pki["ec"].key,
        "/etc/ssl/example.com.ocsp.der": ocsp_ec,
        "/etc/ssl/api.pem": pki["a"].cert,
        "/etc/ssl/api.key": pki["a"].key,
        "/etc/ssl/clients-ca.pem": pki["ca"].cert,
        "/srv/www": str(tmp_path),
        "/srv/api": str(tmp_path),
        "listen 443": "listen 127.0.0.1:0",
    }
    for k, v in files.items():
        assert k in example, k
        example = example.replace(k, v)
    rc, err = check(tmp_path, example)
    assert rc == 0, err


# ---------------------------------------------------------------- real clients

import http.client
import signal
import socket
import ssl
import time

from conftest import Spate


class Site:
    """spate from a config written here (`user root`: a reload as root reads pytest's 0700
    directories; error_log to a file, to wait for reloads)."""

    def __init__(self, tmp_path, servers, main="", workers=2):
        self.tmp = tmp_path
        self.conf = tmp_path / "spate.conf"
        self.errlog = tmp_path / "error.log"
        self.root = tmp_path / "www"
        self.root.mkdir(exist_ok=True)
        (self.root / "index.html").write_text("hello over tls\n")
        self.main = main
        self.workers = workers
        self.write(servers)
        self.spate = Spate(["-c", str(self.conf)]).start()
        self.port = self.spate.port

    def write(self, servers, port=0):
        text = "user root;\nworkers %d;\nerror_log %s info;\n%s\n" % (
            self.workers, self.errlog, self.main)
        for s in servers:
            text += "server {\n  root %s;\n%s\n}\n" % (self.root, s.replace("PORT", str(port)))
        tmp = self.conf.with_suffix(".tmp")
        tmp.write_text(text)
        os.replace(tmp, self.conf)

    def log(self):
        return self.errlog.read_text(errors="replace") if self.errlog.exists() else ""

    def reload(self, servers, want="reloaded"):
        before = self.log().count(want)
        self.write(servers)  # port 0 again: the reload matches the address as configured
        self.spate.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 15
        while self.log().count(want) <= before:
            assert time.monotonic() < deadline, "no %r in the log:\n%s" % (want, self.log())
            time.sleep(0.05)

    def stop(self):
        rc, err = self.spate.stop()
        assert rc == 0, err
        assert "AddressSanitizer" not in err and "runtime error" not in err, err


@pytest.fixture
def sites():
    made = []
    yield made
    for s in made:
        if s.spate.proc.poll() is None:
            s.stop()


def listen(extra=""):
    return "  listen 127.0.0.1:PORT ssl%s;\n" % extra


VARS = ('  location /vars { return 200 "proto=$ssl_protocol cipher=$ssl_cipher '
        'sni=$ssl_server_name reused=$ssl_session_reused alpn=$ssl_alpn_protocol '
        'https=$https scheme=$scheme verify=$ssl_client_verify dn=$ssl_client_s_dn '
        'serial=$ssl_client_serial fp=$ssl_client_fingerprint\\n"; }\n')


def s_client(port, *args, request=b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
             timeout=30):
    """openssl s_client's output (stdout and stderr), the request sent when given."""
    cmd = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port] + list(args)
    if request:
        cmd.append("-ign_eof")
    r = subprocess.run(cmd, input=request or b"", capture_output=True, timeout=timeout)
    return (r.stdout + r.stderr).decode(errors="replace")


def subject(out):
    m = re.search(r"^subject=(.*)$", out, re.M)
    return m.group(1) if m else None


def curl(port, path, *args, host="localhost"):
    r = subprocess.run(["curl", "-sS", "--max-time", "20", "--resolve",
                        "%s:%d:127.0.0.1" % (host, port)] + list(args) +
                       ["https://%s:%d%s" % (host, port, path)],
                       capture_output=True, text=True, timeout=30)
    return r.returncode, r.stdout, r.stderr


def test_curl_and_python_ssl(tmp_path, pki, sites):
    s = Site(tmp_path, [listen() + certs(pki["rsa"]) + VARS])
    sites.append(s)
    rc, out, err = curl(s.port, "/", "--cacert", pki["ca"].cert)
    assert rc == 0 and out == "hello over tls\n", err  # the chain verifies
    rc, out, err = curl(s.port, "/vars", "--cacert", pki["ca"].cert, "--http1.1")
    assert "proto=TLSv1.3" in out and "sni=localhost" in out and "https=on" in out, out
    assert "scheme=https" in out and "alpn=http/1.1" in out and "verify=NONE" in out, out
    ctx = ssl.create_default_context(cafile=pki["ca"].cert)
    c = http.client.HTTPSConnection("localhost", s.port, context=ctx, timeout=10)
    c.sock = ctx.wrap_socket(socket.create_connection(("127.0.0.1", s.port)),
                             server_hostname="localhost")
    for _ in range(3):  # keep-alive over one TLS connection
        c.request("GET", "/index.html")
        resp = c.getresponse()
        assert resp.status == 200 and resp.read() == b"hello over tls\n"
    assert c.sock.version() == "TLSv1.3"
    c.close()


def test_protocols(tmp_path, pki, sites):
    s = Site(tmp_path, [listen() + certs(pki["rsa"])])
    sites.append(s)
    assert "Protocol  : TLSv1.2" in s_client(s.port, "-tls1_2") or \
        "New, TLSv1.2" in s_client(s.port, "-tls1_2")
    for old in ("-tls1_1", "-tls1"):
        out = s_client(s.port, old, request=None)
        assert "Cipher is (NONE)" in out or "no protocols available" in out \
            or "alert" in out or "unexpected eof" in out, out
        assert "New, TLS" not in out, out
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    try:
        ctx.minimum_version = ssl.TLSVersion.TLSv1_1
    except ValueError:
        pass
    with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
        with socket.create_connection(("127.0.0.1", s.port), timeout=10) as raw_sock:
            ctx.wrap_socket(raw_sock).close()


def test_rsa_and_ecdsa_side_by_side(tmp_path, pki, sites):
    s = Site(tmp_path, [listen() + certs(pki["rsa"]) + certs(pki["ec"])])
    sites.append(s)
    ec = s_client(s.port, "-sigalgs", "ecdsa_secp256r1_sha256", "-CAfile", pki["ca"].cert)
    rsa = s_client(s.port, "-sigalgs", "rsa_pss_rsae_sha256:rsa_pkcs1_sha256", "-CAfile",
                   pki["ca"].cert)
    assert "Peer signature type: ECDSA" in ec and "Verify return code: 0 (ok)" in ec, ec
    assert "Peer signature type: RSA" in rsa and "Verify return code: 0 (ok)" in rsa, rsa


def test_sni_chooses_the_server(tmp_path, pki, sites):
    s = Site(tmp_path, [
        listen(" default_server") + "  server_name a.test;\n" + certs(pki["a"]) + VARS,
        listen() + "  server_name b.test *.b.test;\n" + certs(pki["b"]) + VARS,
    ])
    sites.append(s)
    assert subject(s_client(s.port, "-servername", "a.test")) == "CN = a.test"
    assert subject(s_client(s.port, "-servername", "b.test")) == "CN = b.test"
    assert subject(s_client(s.port, "-servername", "x.b.test")) == "CN = b.test"
    assert subject(s_client(s.port, "-servername", "unknown.test")) == "CN = a.test"
    assert subject(s_client(s.port, "-noservername")) == "CN = a.test"
    rc, out, err = curl(s.port, "/vars", "-k", host="b.test")
    assert "sni=b.test" in out, (out, err)


def test_alpn(tmp_path, pki, sites):
    s = Site(tmp_path, [
        listen(" default_server") + "  server_name a.test;\n" + certs(pki["a"]),
        listen() + "  server_name b.test;\n  http2 on;\n" + certs(pki["b"]),
    ])
    sites.append(s)

    def alpn(name, protos):
        out = s_client(s.port, "-servername", name, "-alpn", protos, request=None)
        m = re.search(r"ALPN protocol: (\S+)", out)
        return m.group(1) if m else ("none" if "No ALPN negotiated" in out else out)
    assert alpn("b.test", "h2,http/1.1") == "h2"
    assert alpn("a.test", "h2,http/1.1") == "http/1.1"  # no http2 on a.test
    assert alpn("a.test", "h2") == "none"               # no match: HTTP/1.1 without ALPN
    assert alpn("b.test", "http/1.1") == "http/1.1"
    out = s_client(s.port, "-servername", "a.test", "-alpn", "h2",
                   request=b"GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
    assert "HTTP/1.1 200" in out, out
    s.stop()
    # nginx's older form: `listen ... ssl http2` offers h2 for every server of the address
    s = Site(tmp_path, [
        listen(" http2 default_server") + "  server_name a.test;\n" + certs(pki["a"]),
        listen() + "  server_name b.test;\n" + certs(pki["b"]),
    ])
    sites.append(s)
    assert alpn("b.test", "h2,http/1.1") == "h2"
    assert alpn("a.test", "h2,http/1.1") == "h2"


def test_ocsp_stapling(tmp_path, pki, sites):
    s = Site(tmp_path, [listen() + certs(pki["rsa"]) + certs(pki["ec"]) +
                        "  ssl_stapling on;\n  ssl_stapling_file %s;\n" % pki["ocsp"]])
    sites.append(s)
    rsa = ("-sigalgs", "rsa_pss_rsae_sha256")
    out = s_client(s.port, "-status", *rsa, request=None)
    assert "OCSP Response Status: successful" in out and "Cert Status: good" in out, out
    assert "OCSP response: no response sent" in s_client(s.port, "-status", "-sigalgs",
                                                         "ecdsa_secp256r1_sha256", request=None)
    assert "OCSP" not in s_client(s.port, *rsa, request=None)  # not asked: not sent


def resume(port, sess, *args, new=False):
    out = s_client(port, *(["-sess_out" if new else "-sess_in", sess] + list(args)))
    assert "HTTP/1.1 200" in out, out
    return "Reused, TLS" in out


@pytest.mark.parametrize("proto", ["-tls1_3", "-tls1_2"])
def test_resumption_across_workers(tmp_path, pki, sites, proto):
    s = Site(tmp_path, [listen() + certs(pki["rsa"]) + VARS], workers=2)
    sites.append(s)
    sess = str(tmp_path / "sess.pem")
    assert not resume(s.port, sess, proto, new=True)
    # new connections spread over both workers (SO_REUSEPORT): each resumes
    assert all(resume(s.port, sess, proto) for _ in range(8))
    out = s_client(s.port, "-sess_in", sess, proto,
                   request=b"GET /vars HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    assert "reused=r" in out, out
    if proto == "-tls1_2":  # s_client -reconnect does not wait for TLS 1.3's tickets
        out = s_client(s.port, "-reconnect", proto, request=None)
        assert out.count("Reused, TLSv1.2") == 5 and out.count("New, TLSv1.2") == 1, out


def test_resumption_across_reload(tmp_path, pki, sites):
    s = Site(tmp_path, [listen() + certs(pki["rsa"])])
    sites.append(s)
    sess = str(tmp_path / "sess.pem")
    assert not resume(s.port, sess, new=True)
    s.reload([listen() + certs(pki["rsa"]) + "  ssl_session_timeout 10m;\n"])
    assert resume(s.port, sess)  # the ticket secret outlives the configuration


def test_tickets_off_and_key_files(tmp_path, pki, sites):
    s = Site(tmp_path, [listen() + certs(pki["rsa"]) + "  ssl_session_tickets off;\n"])
    sites.append(s)
    sess = str(tmp_path / "sess.pem")
    resume(s.port, sess, new=True)
    assert not os.path.exists(sess) or not resume(s.port, sess)  # TLS 1.3: no ticket at all
    sess12 = str(tmp_path / "sess12.pem")
    resume(s.port, sess12, "-tls1_2", new=True)
    # no ticket, no session-ID cache (an empty session ID: nothing to save)
    assert not os.path.exists(sess12) or not resume(s.port, sess12, "-tls1_2")
    s.stop()
    key = tmp_path / "ticket.key"
    key.write_bytes(os.urandom(80))
    key48 = tmp_path / "ticket48.key"
    key48.write_bytes(os.urandom(48))
    conf = [listen() + certs(pki["rsa"]) + "  ssl_session_ticket_key %s;\n" % key]
    s = Site(tmp_path, conf)
    sites.append(s)
    resume(s.port, sess, new=True)
    s.stop()
    # a new process with the same key file resumes the old one's ticket (80-byte key), and a
    # 48-byte key that makes new tickets still accepts it as an older key
    s = Site(tmp_path, [listen() + certs(pki["rsa"]) + "  ssl_session_ticket_key %s;\n"
                        "  ssl_session_ticket_key %s;\n" % (key48, key)])
    sites.append(s)
    assert resume(s.port, sess)
    sess2 = str(tmp_path / "sess2.pem")
    resume(s.port, sess2, new=True)
    assert resume(s.port, sess2)


def mtls_site(tmp_path, pki, sites, mode):
    s = Site(tmp_path, [listen() + certs(pki["rsa"]) + VARS +
                        "  ssl_client_certificate %s;\n  ssl_verify_client %s;\n"
                        "  ssl_verify_depth 2;\n" % (pki["ca"].cert, mode)])
    sites.append(s)
    return s


def get_vars(s, *args):
    return s_client(s.port, *args,
                    request=b"GET /vars HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")


def test_mtls_on(tmp_path, pki, sites):
    s = mtls_site(tmp_path, pki, sites, "on")
    c = pki["client"]
    out = get_vars(s, "-cert", c.cert, "-key", c.key)
    assert "HTTP/1.1 200" in out and "verify=SUCCESS" in out, out
    assert "dn=CN=client one" in out, out
    serial = "%X" % c.serial
    serial = "0" * (len(serial) % 2) + serial  # whole bytes, as nginx's (i2a_ASN1_INTEGER)
    assert "serial=%s " % serial in out, out
    fp = subprocess.run(["openssl", "x509", "-in", c.leaf, "-noout", "-fingerprint", "-sha1"],
                        capture_output=True, text=True).stdout
    assert "fp=" + fp.split("=", 1)[1].strip().replace(":", "").lower() in out, out
    assert "Acceptable client certificate CA names" in out and "CN = spate test CA" in out
    out = get_vars(s)
    assert "HTTP/1.1 400" in out and "No required SSL certificate was sent" in out, out
    st = pki["stranger"]
    out = get_vars(s, "-cert", st.cert, "-key", st.key)
    assert "HTTP/1.1 400" in out and "The SSL certificate error" in out, out
    rc, out, err = curl(s.port, "/vars", "--cacert", pki["ca"].cert, "--cert", c.cert,
                        "--key", c.key)
    assert "verify=SUCCESS" in out, (out, err)


def test_mtls_optional(tmp_path, pki, sites):
    s = mtls_site(tmp_path, pki, sites, "optional")
    out = get_vars(s)
    assert "HTTP/1.1 200" in out and "verify=NONE" in out, out
    st = pki["stranger"]
    out = get_vars(s, "-cert", st.cert, "-key", st.key)
    assert "HTTP/1.1 400" in out and "The SSL certificate error" in out, out
    s.stop()
    s = mtls_site(tmp_path, pki, sites, "optional_no_ca")
    out = get_vars(s, "-cert", st.cert, "-key", st.key)
    assert "HTTP/1.1 200" in out and "verify=FAILED:" in out, out


def test_reload_new_certificate(tmp_path, pki, sites):
    s = Site(tmp_path, [listen() + certs(pki["a"])])
    sites.append(s)
    assert subject(s_client(s.port, request=None)) == "CN = a.test"
    ctx = ssl.create_default_context(cafile=pki["ca"].cert)
    ctx.check_hostname = False
    held = ctx.wrap_socket(socket.create_connection(("127.0.0.1", s.port), timeout=10))
    c = http.client.HTTPSConnection("localhost", s.port, timeout=10)
    c.sock = held
    c.request("GET", "/")
    assert c.getresponse().read() == b"hello over tls\n"
    s.reload([listen() + certs(pki["b"])])
    assert subject(s_client(s.port, request=None)) == "CN = b.test"  # new connections
    c.request("GET", "/")  # the open one goes on
    assert c.getresponse().read() == b"hello over tls\n"
    # a broken certificate: the reload fails, says why, and the running one stays
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate\n")
    s.reload([listen() + "  ssl_certificate %s;\n  ssl_certificate_key %s;\n"
              % (bad, pki["b"].key)], want="reload failed")
    assert "cannot load certificate" in s.log()
    assert subject(s_client(s.port, request=None)) == "CN = b.test"
    c.request("GET", "/")
    assert c.getresponse().read() == b"hello over tls\n"
    c.close()


def test_mtls_follows_the_host_server(tmp_path, pki, sites):
    """Verification on a server that is not the default: SNI asks for the certificate; a Host
    naming it on a connection negotiated for another name gets 421, as nginx."""
    s = Site(tmp_path, [
        listen(" default_server") + "  server_name a.test;\n" + certs(pki["a"]) + VARS,
        listen() + "  server_name b.test;\n" + certs(pki["b"]) + VARS +
        "  ssl_client_certificate %s;\n  ssl_verify_client on;\n" % pki["ca"].cert,
    ])
    sites.append(s)
    c = pki["client"]
    req_b = b"GET /vars HTTP/1.1\r\nHost: b.test\r\nConnection: close\r\n\r\n"
    out = s_client(s.port, "-servername", "b.test", "-cert", c.cert, "-key", c.key,
                   request=req_b)
    assert "HTTP/1.1 200" in out and "verify=SUCCESS" in out, out
    out = s_client(s.port, "-servername", "a.test", "-cert", c.cert, "-key", c.key,
                   request=req_b)
    assert "HTTP/1.1 421" in out, out
    out = s_client(s.port, "-noservername", "-cert", c.cert, "-key", c.key, request=req_b)
    assert "HTTP/1.1 400" in out and "No required SSL certificate was sent" in out, out
    out = s_client(s.port, "-servername", "a.test",
                   request=b"GET /vars HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
    assert "HTTP/1.1 200" in out and "verify=NONE" in out, out


def test_cipher_settings(tmp_path, pki, sites):
    """ssl_ciphers, ssl_dhparam, ssl_ecdh_curve, ssl_conf_command and ssl_protocols take
    effect in handshakes."""
    dh = tmp_path / "dh.pem"
    subprocess.run(["openssl", "genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt",
                    "dh_param:ffdhe2048", "-out", str(dh)], check=True, capture_output=True)
    s = Site(tmp_path, [listen() + certs(pki["rsa"]) +
                        "  ssl_ciphers DHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256;\n"
                        "  ssl_dhparam %s;\n  ssl_ecdh_curve secp384r1;\n"
                        "  ssl_conf_command Ciphersuites TLS_CHACHA20_POLY1305_SHA256;\n" % dh])
    sites.append(s)
    out = s_client(s.port, "-tls1_2", "-cipher", "DHE-RSA-AES256-GCM-SHA384", request=None)
    assert "Cipher is DHE-RSA-AES256-GCM-SHA384" in out and "Server Temp Key: DH" in out, out
    out = s_client(s.port, "-tls1_2", "-cipher", "ECDHE-RSA-AES256-GCM-SHA384", request=None)
    assert "Cipher is (NONE)" in out or "New, TLSv1.2" not in out, out  # not in ssl_ciphers
    out = s_client(s.port, "-tls1_3", request=None)
    assert "Cipher is TLS_CHACHA20_POLY1305_SHA256" in out, out
    assert "Server Temp Key: ECDH, secp384r1" in out, out
    s.stop()
    s = Site(tmp_path, [listen() + certs(pki["rsa"]) + "  ssl_protocols TLSv1.2;\n"])
    sites.append(s)
    assert "New, TLSv1.2" in s_client(s.port, request=None)
    assert "New, TLSv1.3" not in s_client(s.port, "-tls1_3", request=None)


def test_http2_over_alpn_has_the_variables(tmp_path, pki, sites):
    s = Site(tmp_path, [listen() + "  http2 on;\n" + certs(pki["rsa"]) + VARS])
    sites.append(s)
    r = subprocess.run(["curl", "-sS", "--http2", "--cacert", pki["ca"].cert, "--resolve",
                        "localhost:%d:127.0.0.1" % s.port, "-w", "%{http_version}",
                        "https://localhost:%d/vars" % s.port],
                       capture_output=True, text=True, timeout=30)
    assert r.stdout.endswith("\n2"), (r.stdout, r.stderr)
    assert "alpn=h2" in r.stdout and "proto=TLSv1.3" in r.stdout, r.stdout
    assert "sni=localhost" in r.stdout and "https=on" in r.stdout, r.stdout


def test_mtls_over_http2(tmp_path, pki, sites):
    s = Site(tmp_path, [listen() + "  http2 on;\n" + certs(pki["rsa"]) + VARS +
                        "  ssl_client_certificate %s;\n  ssl_verify_client on;\n"
                        % pki["ca"].cert])
    sites.append(s)
    c = pki["client"]
    base = ["curl", "-sS", "--http2", "--cacert", pki["ca"].cert, "--resolve",
            "localhost:%d:127.0.0.1" % s.port, "-w", " %{http_code} %{http_version}"]
    url = "https://localhost:%d/vars" % s.port
    r = subprocess.run(base + ["--cert", c.cert, "--key", c.key, url], capture_output=True,
                       text=True, timeout=30)
    assert r.stdout.endswith(" 200 2") and "verify=SUCCESS" in r.stdout, (r.stdout, r.stderr)
    r = subprocess.run(base + [url], capture_output=True, text=True, timeout=30)
    assert r.stdout.endswith(" 400 2"), (r.stdout, r.stderr)
    assert "No required SSL certificate was sent" in r.stdout, r.stdout


def chunk_left(got):
    """Whether more of a Connection: close response may come (its body is 15 bytes)."""
    return not got.endswith(b"hello over tls\n")


def test_handshake_across_a_reload(tmp_path, pki, sites):
    """A handshake half done when a reload frees its configuration finishes on the old
    contexts (they hold what the callbacks read): the client's Finished, held back until the
    reload is through, still gets its answer and its ticket; ASan checks the exit."""
    s = Site(tmp_path, [listen() + certs(pki["a"])])
    sites.append(s)
    ctx = ssl.create_default_context(cafile=pki["ca"].cert)
    ctx.check_hostname = False
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="a.test")
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=10)
    done = False
    while not done:
        try:
            obj.do_handshake()
            done = True
        except ssl.SSLWantReadError:
            pass
        if not done:
            if out.pending:
                sock.sendall(out.read())
            data = sock.recv(65536)
            assert data, "the server closed mid-handshake"
            inc.write(data)
    finished = out.read()  # the client's Finished: not sent yet
    assert finished
    assert obj.getpeercert()["subject"] == ((("commonName", "a.test"),),)
    s.reload([listen() + certs(pki["b"])])
    time.sleep(0.5)  # the workers take the new generation up and free the old one
    obj.write(b"GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
    sock.sendall(finished + out.read())
    got = b""
    while True:
        data = sock.recv(65536)
        if not data:
            break
        inc.write(data)
        try:
            while True:
                chunk = obj.read(65536)
                if not chunk:
                    break
                got += chunk
        except ssl.SSLWantReadError:
            pass
        except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
            break
        if not chunk_left(got):
            break
    sock.close()
    assert got.startswith(b"HTTP/1.1 200") and got.endswith(b"hello over tls\n"), got
    assert subject(s_client(s.port, request=None)) == "CN = b.test"
