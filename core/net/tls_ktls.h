/*
 * tls_ktls.h - kernel TLS for the TLS transport: the probe, and the hand-over of a
 * connection's keys after its handshake (see tls_ktls.c).
 *
 * The probe runs once per process (the first call of any function here; tls.c's context
 * preparation makes it at startup, before the sandbox); the rest runs on the connection's
 * worker.
 */
#pragma once

#include "core/net/transport.h"

#include <linux/tls.h>
#include <openssl/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

struct tls_conn;

/* One direction's TLS_TX / TLS_RX argument, whatever the cipher (the kernel reads its header
 * first). */
union tls_ktls_info {
    struct tls_crypto_info base;
    struct tls12_crypto_info_aes_gcm_128 gcm128;
    struct tls12_crypto_info_aes_gcm_256 gcm256;
    struct tls12_crypto_info_chacha20_poly1305 chacha;
};

/* Whether the kernel takes TCP_ULP "tls"; why gets "available" or "not available (reason)". */
bool tls_ktls_probe(char *why, size_t len);

/* The same, without the sentence. */
bool tls_ktls_available(void);

/*
 * The keys of tc's connection for both directions, as the kernel takes them: from the TLS 1.3
 * traffic secrets (tc->tx_secret, rx_secret) or the TLS 1.2 master secret, with the record
 * sequence numbers tc->tx_records and rx_records. False: not a cipher the kernel has, or the
 * keys cannot be had. (Exposed for the unit test, which checks them against OpenSSL's records.)
 */
bool tls_ktls_crypto_info(const struct tls_conn *tc, union tls_ktls_info *tx, socklen_t *txlen,
                          union tls_ktls_info *rx, socklen_t *rxlen);

/*
 * After the handshake, at a point where nothing of ours is buffered either way (send buffer
 * empty and no send in flight, every received byte read), tries once to hand the keys to the
 * kernel. True: from now on the socket is plain (TLS_KTLS); false: user space goes on (or,
 * rarely, the connection failed and its error was raised).
 */
bool tls_ktls_switch(struct transport *t);
