/*
 * tls_info.h - what an SSL_CTX made by the TLS configuration knows about itself.
 *
 * Each context owns one (OpenSSL ex_data, freed with the context; tls_ctx.h): what the
 * handshake callbacks and the per-request checks need, copied out of the configuration, so a
 * connection whose SSL holds the context never reads a configuration a reload has freed. The
 * ticket keys and the stapled response hang off the context the same way (tls_tickets.h,
 * tls_ocsp.h). Written while the context is built (main thread), read-only afterwards.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct tls_sni;

struct tls_info {
    bool http2;     /* ALPN may choose h2 (the server has `http2 on`, or a listen says http2) */
    bool http2_all; /* on an address's context: every server there offers h2 (listen ... http2) */
    uint8_t verify; /* enum tls_verify */
    struct tls_sni *sni; /* an address's context only: its servers' names (tls_sni.h) */
};
