/*
 * tls_ctx.h - one SSL_CTX from a server's ssl_* settings (tls_srv.h).
 *
 * tls_ctx_new makes a context: certificates and keys (RSA and ECDSA side by side, chains from
 * the PEM files), protocols, ciphers, groups, DH parameters, client verification, sessions and
 * tickets (tls_tickets.h), OCSP stapling (tls_ocsp.h), the SNI and ALPN callbacks (tls_sni.h),
 * then ssl_conf_command. Every file is read and checked there, so its errors name the
 * directive's file:line. The context carries its struct tls_info (tls_info.h).
 *
 * Main thread builds; handshakes on any worker read (tls_info is read-only then).
 */
#pragma once

#include "core/base/compiler.h"
#include "core/http/tls_info.h"
#include "core/http/tls_srv.h"

#include <openssl/ssl.h>
#include <stddef.h>

/* Once per process, before the first context (idempotent; main thread). 0, or -1 + err. */
int tls_ctx_process_init(char *err, size_t errlen) MUST_CHECK;

/* A new context (one reference, the caller's), or NULL with "file:line: sentence" in err. */
SSL_CTX *tls_ctx_new(const struct tls_ctx_params *p, char *err, size_t errlen) MUST_CHECK;

/* The context's info (NULL for a context tls_ctx_new did not make). */
struct tls_info *tls_info(const SSL_CTX *ctx);
