"""Certificates for the TLS tests, made with the openssl command (Debian's openssl package).

make_cert(dir, names, key='rsa'|'ec', ca=None) -> Cert: a certificate for the host names (or
IP addresses) in `names`, self-signed, or signed by `ca` (a Cert from make_ca); cert_path is
the leaf followed by the CA (a chain, as ssl_certificate takes it). make_ca(dir) -> Cert.
make_ocsp(dir, cert, ca, ...) -> path of a DER OCSP response for cert, signed by ca.
Shared by the TLS, HTTP/2 and transport tests.
"""
import collections
import ipaddress
import itertools
import os
import subprocess

Cert = collections.namedtuple("Cert", "cert key leaf name serial")

_serial = itertools.count(0x2000 + os.getpid() % 4096 * 16)


def _run(*args, cwd=None):
    subprocess.run(list(args), check=True, cwd=cwd, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE)


def _newkey(path, key):
    if key == "rsa":
        _run("openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
             "-out", path)
    elif key == "ec":
        _run("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-out", path)
    else:
        raise ValueError("key must be 'rsa' or 'ec'")


def _san(names):
    out = []
    for n in names:
        try:
            ipaddress.ip_address(n)
            out.append("IP:" + n)
        except ValueError:
            out.append("DNS:" + n)
    return ",".join(out)


def make_ca(dir, name="spate test CA", key="rsa", days=30):
    """A CA certificate (self-signed) and its key."""
    dir = str(dir)
    stem = os.path.join(dir, name.replace(" ", "_"))
    _newkey(stem + ".key", key)
    _run("openssl", "req", "-x509", "-new", "-key", stem + ".key", "-out", stem + ".pem",
         "-days", str(days), "-subj", "/CN=" + name,
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return Cert(stem + ".pem", stem + ".key", stem + ".pem", name, None)


def make_cert(dir, names, key="rsa", ca=None, days=30, client=False, stem=None, ocsp_uri=None):
    """A leaf certificate for names (the first is the CN). Returns Cert(cert, key, leaf, ...):
    cert is the chain file (leaf, then the CA when ca is given), leaf the leaf alone.
    ocsp_uri: an Authority Information Access OCSP URI in the certificate."""
    dir = str(dir)
    names = [names] if isinstance(names, str) else list(names)
    serial = next(_serial)
    stem = os.path.join(dir, stem or "%s_%s_%x" % (names[0].replace("*", "star"), key, serial))
    _newkey(stem + ".key", key)
    ext = stem + ".ext"
    with open(ext, "w") as f:
        f.write("basicConstraints=CA:FALSE\n")
        f.write("subjectAltName=%s\n" % _san(names))
        f.write("extendedKeyUsage=%s\n" % ("clientAuth" if client else "serverAuth"))
        if ocsp_uri:
            f.write("authorityInfoAccess=OCSP;URI:%s\n" % ocsp_uri)
    _run("openssl", "req", "-new", "-key", stem + ".key", "-out", stem + ".csr",
         "-subj", "/CN=" + names[0])
    if ca is None:
        _run("openssl", "x509", "-req", "-in", stem + ".csr", "-signkey", stem + ".key",
             "-out", stem + ".leaf.pem", "-days", str(days), "-set_serial", str(serial),
             "-extfile", ext)
    else:
        _run("openssl", "x509", "-req", "-in", stem + ".csr", "-CA", ca.cert, "-CAkey", ca.key,
             "-out", stem + ".leaf.pem", "-days", str(days), "-set_serial", str(serial),
             "-extfile", ext)
    with open(stem + ".pem", "wb") as out:
        with open(stem + ".leaf.pem", "rb") as f:
            out.write(f.read())
        if ca is not None:
            with open(ca.cert, "rb") as f:
                out.write(f.read())
    return Cert(stem + ".pem", stem + ".key", stem + ".leaf.pem", names[0], serial)


def make_ocsp(dir, cert, ca, status="good", days=1, out=None):
    """A DER OCSP response for cert (a Cert signed by ca), signed by ca: status 'good' or
    'revoked'; days < 0 gives one whose next update is days ago (expired)."""
    import datetime
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509 import ocsp

    def load(path):
        with open(path, "rb") as f:
            return f.read()

    leaf = x509.load_pem_x509_certificate(load(cert.leaf))
    issuer = x509.load_pem_x509_certificate(load(ca.cert))
    key = serialization.load_pem_private_key(load(ca.key), None)
    now = datetime.datetime.utcnow()
    if days >= 0:
        this, nxt = now - datetime.timedelta(minutes=1), now + datetime.timedelta(days=days)
    else:
        this, nxt = now + datetime.timedelta(days=days - 1), now + datetime.timedelta(days=days)
    good = status == "good"
    b = ocsp.OCSPResponseBuilder().add_response(
        cert=leaf, issuer=issuer, algorithm=hashes.SHA1(),
        cert_status=ocsp.OCSPCertStatus.GOOD if good else ocsp.OCSPCertStatus.REVOKED,
        this_update=this, next_update=nxt,
        revocation_time=None if good else now - datetime.timedelta(days=1),
        revocation_reason=None).responder_id(ocsp.OCSPResponderEncoding.HASH, issuer)
    resp = b.sign(key, hashes.SHA256())
    out = out or os.path.join(str(dir), "ocsp_%x.der" % cert.serial)
    with open(out, "wb") as f:
        f.write(resp.public_bytes(serialization.Encoding.DER))
    return out
