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

#include <openssl/types.h>
#include <stdbool.h>
#include <stddef.h>

/* Whether the kernel takes TCP_ULP "tls"; why gets "available" or "not available (reason)". */
bool tls_ktls_probe(char *why, size_t len);

/* The same, without the sentence. */
bool tls_ktls_available(void);

/* The message and key-log callbacks kernel TLS needs, on ctx (nothing when not available). */
void tls_ktls_prepare_ctx(SSL_CTX *ctx);

/*
 * After the handshake, at a point where nothing of ours is buffered either way (send buffer
 * empty and no send in flight, every received byte read), tries once to hand the keys to the
 * kernel. True: from now on the socket is plain (TLS_KTLS); false: user space goes on (or,
 * rarely, the connection failed and its error was raised).
 */
bool tls_ktls_switch(struct transport *t);
