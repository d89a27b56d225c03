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


def test_inherited_from_http_level(tmp_path, pki):
    text = "http {\n" + certs(pki["rsa"]) + server("") + "}\n"
    rc, err = check(tmp_path, text)
    assert rc == 0, err


def test_nginx_only_directives_accepted(tmp_path, pki):
    rc, err = check(tmp_path, server(certs(pki["rsa"]) + "  ssl_session_cache shared:SSL:10m;\n"
                                     "  ssl_buffer_size 4k;\n  ssl_stapling_verify on;\n"
                                     "  ssl_prefer_server_ciphers on;\n"))
    assert rc == 0, err


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
