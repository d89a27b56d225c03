/*
 * tls_kdf.h - TLS 1.3 key derivation for the parts of the transport that encrypt without
 * OpenSSL's record layer: kernel TLS's keys (tls_ktls.c) and the sealer's (tls_seal.c).
 *
 * Any thread: OpenSSL's KDF is fetched once per process.
 */
#pragma once

#include <openssl/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The handshake digest of ssl's cipher suite, or NULL before one is chosen. */
const EVP_MD *tls_kdf_digest(const SSL *ssl);

/* TLS 1.3's HKDF-Expand-Label(secret, label, "", n) into out. */
bool tls_kdf_expand(const EVP_MD *md, const uint8_t *secret, size_t slen, const char *label,
                    uint8_t *out, size_t n);
