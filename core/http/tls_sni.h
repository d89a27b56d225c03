/*
 * tls_sni.h - choosing a server's SSL_CTX by the client's server name (SNI), and ALPN.
 *
 * An address's context (the default server's) holds a table of the server names of the
 * address's servers that have a certificate, each with its server's context. The servername
 * callback switches the SSL to the context the name finds (exact, then the longest wildcard,
 * as Host routing does; route.h), with its verification settings; an unknown name keeps the
 * default server's. The ALPN callback then chooses h2 when that server has HTTP/2, else
 * http/1.1.
 *
 * Built on the main thread; the callbacks run in handshakes on any worker and only read.
 */
#pragma once

#include "core/base/compiler.h"
#include "core/http/tls_info.h"

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>

/* An empty table for about n servers. NULL: out of memory. */
struct tls_sni *tls_sni_new(unsigned n) MUST_CHECK;

/* Adds a server_name ("example.com", "*.example.com", ".example.com"; any case) whose
 * clients get ctx (a reference is taken). The first server with a name keeps it. 0 or -1. */
int tls_sni_add(struct tls_sni *s, const char *name, SSL_CTX *ctx) MUST_CHECK;

void tls_sni_free(struct tls_sni *s);

/* The address's context info takes s (freed with the context, by tls_ctx.c): its handshakes
 * choose by it. http2_all: a listen of the address says http2. */
void tls_sni_attach(struct tls_info *info, struct tls_sni *s, bool http2_all);

/* The context for a client's server name, or NULL (unknown: the caller's default). */
SSL_CTX *tls_sni_find(const struct tls_sni *s, const char *name, size_t len);

/* Installs the servername and ALPN callbacks on ctx, whose info is `info`. */
void tls_sni_callbacks(SSL_CTX *ctx, struct tls_info *info);
