/*
 * tls_seal.h - the TLS transport's own record layer for sending, TLS 1.3 after the handshake:
 * records are built and encrypted in place in the send buffer (see tls_seal.c).
 *
 * OpenSSL keeps the handshake and the whole receiving side; once tls_seal_start took the
 * sending side, tls.c's fill goes through tls_seal_fill instead of SSL_write, and what OpenSSL
 * still writes on its own reaches tls_seal_control through the message callback (tls_keys.c).
 *
 * Single-threaded: the connection's worker.
 */
#pragma once

#include "core/net/transport.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tls_conn;

/* Plaintext bytes in a full record of ours, and the record with its header, padding and tag:
 * 64-byte multiples both, so that file bytes read into consecutive records keep the
 * alignment of their file offsets (see tls_seal.c). */
#define TLS_SEAL_PLAIN 16320u
#define TLS_SEAL_STRIDE 16384u
/* Zero padding that makes a full record TLS_SEAL_STRIDE bytes (5 + plain + 1 + pad + 16). */
#define TLS_SEAL_PAD (TLS_SEAL_STRIDE - TLS_SEAL_PLAIN - 22u)

/*
 * After the handshake: takes the sending side over when the connection is TLS 1.3 with
 * AES-128-GCM, AES-256-GCM or ChaCha20-Poly1305 and full-size records (no max_fragment_length);
 * true if it did (TLS_SEALED). False leaves OpenSSL sending.
 */
bool tls_seal_start(struct transport *t);

/*
 * Seals from the head of the queue into the send buffer while a whole record fits (tls.c's
 * fill on a sealed connection). False: the connection failed (the error was raised).
 */
bool tls_seal_fill(struct transport *t);

/*
 * A handshake message or alert OpenSSL sent on a sealed connection (type 22 or 21, its
 * plaintext): sealed into the send buffer in its turn. A KeyUpdate moves our keys on after
 * its own record.
 */
void tls_seal_control(struct transport *t, uint8_t type, const void *msg, size_t len);

/*
 * Builds one record at rec whose first n plaintext bytes are already at rec + 5: the header,
 * content type, pad zero bytes, encryption in place and the tag. Its length, 0 on failure.
 * (Exposed for the unit test.)
 */
size_t tls_seal_record(struct tls_conn *tc, char *rec, size_t n, uint8_t type, size_t pad);

/* Frees the sealer's state, wiping the keys. */
void tls_seal_free(struct tls_conn *tc);
