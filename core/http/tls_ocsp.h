/*
 * tls_ocsp.h - OCSP stapling from a file (ssl_stapling, ssl_stapling_file).
 *
 * The DER response is checked when the configuration is loaded: a successful response,
 * signed by the issuer of one of the context's certificates (or a responder it delegated to),
 * saying "good", and current; which certificates it answers for is kept. In a handshake whose
 * client asks for the status, the response goes out when the certificate chosen is one of
 * those and the response's next update is not past. Built on the main thread; the callback
 * reads only.
 */
#pragma once

#include "core/base/compiler.h"
#include "core/http/tls_srv.h"

#include <openssl/ssl.h>
#include <stddef.h>

struct tls_staple;

/* The response of p's ssl_stapling_file for ctx (its certificates loaded), or NULL + err. */
struct tls_staple *tls_staple_new(const struct tls_ctx_params *p, SSL_CTX *ctx, char *err,
                                  size_t errlen) MUST_CHECK;

void tls_staple_free(struct tls_staple *s);

/* ctx takes s (freed with it) and staples it. 0, or -1 (s freed). */
int tls_staple_attach(SSL_CTX *ctx, struct tls_staple *s) MUST_CHECK;
