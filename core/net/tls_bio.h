/*
 * tls_bio.h - the BIO under a TLS connection's SSL object: ciphertext in from the received
 * buffer, out into the pooled send buffer (tls_bio.c). Part of the TLS transport (tls.c).
 *
 * The BIO method is made once per process; the BIOs belong to the connection's worker.
 */
#pragma once

#include "core/net/transport.h"

#include <openssl/bio.h>

/* A BIO over t's TLS state (t->priv, a struct tls_conn); NULL when memory ran out. */
BIO *tls_bio_new(struct transport *t);
