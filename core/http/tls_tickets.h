/*
 * tls_tickets.h - session ticket keys: nginx's key files, or keys that derive themselves.
 *
 * Without ssl_session_ticket_key, the key of each hour of the wall clock (an "epoch") is
 * derived from a secret the process draws once and keeps across reloads: every worker computes
 * the same keys on its own, with no lock and nothing shared that changes, and the keys rotate
 * by themselves, every hour. A ticket is made with the current epoch's key; its key name
 * carries the epoch (and a tag derived with the key), so opening one derives just that key.
 * It is accepted while its epoch is no older than ssl_session_timeout needs (then renewed with
 * the current key); the session inside expires at ssl_session_timeout anyway. A restart draws
 * a new secret: tickets from before it make full handshakes.
 *
 * With key files (48 or 80 bytes, as nginx: name, then the AES-128 and HMAC keys, or the
 * HMAC and AES-256 keys), the first file's key makes tickets and all of them are accepted.
 * Rotating them is the operator's: replace the files and reload.
 *
 * The keys hang off the SSL_CTX (ex_data, freed with it); the callback reads them.
 */
#pragma once

#include "core/base/compiler.h"
#include "core/http/tls_srv.h"

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TLS_TICKET_SECRET_LEN 32

struct tls_ticket_key {
    unsigned char name[16];
    unsigned char hmac[32];    /* hmac_len bytes used */
    unsigned char aes[32];     /* aes_len bytes used */
    uint8_t hmac_len, aes_len; /* 16 and 16 (a 48-byte file), or 32 and 32 */
};

/* The key of a file's n bytes (48 or 80). 0, or -EINVAL for another size. */
int tls_ticket_key_parse(const unsigned char *buf, size_t n, struct tls_ticket_key *out) MUST_CHECK;

#define TLS_TICKET_PERIOD_S 3600 /* derived keys rotate every hour */

/* The derived key of epoch `epoch` (AES-256, 32-byte HMAC key) from the secret: its name is
 * the epoch (8 bytes, big-endian), then 8 bytes of HMAC-SHA256(secret, label, epoch, 0). */
void tls_ticket_key_derive(const unsigned char secret[TLS_TICKET_SECRET_LEN], uint64_t epoch,
                           struct tls_ticket_key *out);

/* The epoch a derived key's name says it is of. */
uint64_t tls_ticket_name_epoch(const unsigned char name[16]);

/* The epoch of unix time now_s. */
static inline uint64_t tls_ticket_epoch(uint64_t now_s)
{
    return now_s / TLS_TICKET_PERIOD_S;
}

/* How many epochs back a ticket is still opened, for a session timeout. */
static inline uint64_t tls_ticket_window(uint32_t timeout_ms)
{
    return (timeout_ms / 1000 + TLS_TICKET_PERIOD_S - 1) / TLS_TICKET_PERIOD_S;
}

struct tls_tickets;

/* The keys for p (its ssl_session_ticket_key files, else derived keys rotating every
 * ssl_session_timeout), or NULL with "file:line: sentence" in err. */
struct tls_tickets *tls_tickets_new(const struct tls_ctx_params *p, char *err,
                                    size_t errlen) MUST_CHECK;

void tls_tickets_free(struct tls_tickets *t);

/* ctx takes t (freed with it) and makes and opens its tickets with it. 0, or -1 (t freed). */
int tls_tickets_attach(SSL_CTX *ctx, struct tls_tickets *t) MUST_CHECK;
