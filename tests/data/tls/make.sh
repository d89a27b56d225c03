#!/bin/sh
# Makes the TLS files the configuration rows' examples name (core/http/tls_conf.c) and
# test_roundtrip loads: a CA, an RSA certificate it signed (with the CA in the chain), an OCSP
# response for it, DH parameters and a ticket key. Valid for 100 years; run it again to renew.
# Test data only: these keys are public.
set -eu
cd "$(dirname "$0")"
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$t/ca.key" -out ca.pem -days 36500 \
    -subj "/CN=spate test CA" -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout rsa.key -out "$t/rsa.csr" -subj "/CN=localhost" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' >"$t/ext"
openssl x509 -req -in "$t/rsa.csr" -CA ca.pem -CAkey "$t/ca.key" -set_serial 0x1001 \
    -days 36500 -extfile "$t/ext" -out "$t/leaf.pem" 2>/dev/null
cat "$t/leaf.pem" ca.pem >rsa.pem
printf 'V\t21250101000000Z\t\t1001\tunknown\t/CN=localhost\n' >"$t/index.txt"
openssl ocsp -issuer ca.pem -cert "$t/leaf.pem" -reqout "$t/req.der" -no_nonce
openssl ocsp -index "$t/index.txt" -rsigner ca.pem -rkey "$t/ca.key" -CA ca.pem \
    -reqin "$t/req.der" -respout ocsp.der -ndays 36500 >/dev/null 2>&1
openssl genpkey -genparam -algorithm DH -pkeyopt dh_param:ffdhe2048 -out dhparam.pem 2>/dev/null
head -c 80 /dev/urandom >ticket.key
