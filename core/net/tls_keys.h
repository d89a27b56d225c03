/*
 * tls_keys.h - what the TLS transport learns from OpenSSL about a connection's keys (into its
 * struct tls_conn), for the two ways it can take the record layer over after the handshake:
 * kernel TLS (tls_ktls.c) and the in-place sealer (tls_seal.c).
 *
 * - the TLS 1.3 traffic secrets (SERVER_ / CLIENT_TRAFFIC_SECRET_0) from the key-log callback;
 * - the records written and read under the current keys, counted by the message callback (the
 *   sequence number the next record of each direction has);
 * - once the sealer owns the sending direction, the message callback also hands it what
 *   OpenSSL would still write on its own (a KeyUpdate, alerts, close_notify), whose records
 *   our BIO no longer sends (tls_bio.c).
 *
 * Single-threaded: the callbacks run inside OpenSSL calls on the connection's worker.
 */
#pragma once

#include <openssl/types.h>

/* Installs the key-log and message callbacks on ctx (every context the transport serves). */
void tls_keys_prepare_ctx(SSL_CTX *ctx);
