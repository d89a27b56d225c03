/*
 * tls.h - the TLS transport: a second struct transport_ops beside the plain socket (plain.h).
 *
 * A TLS listener's connections get transport_tls_init with the listener's SSL_CTX (made by the
 * TLS configuration, core/http/tls_conf.c). The transport runs the handshake itself on every
 * arrival of ciphertext, raises the owner's `secured` event once when it completes, then data
 * events with plaintext; output is the same struct outq as on a plain socket, encrypted in
 * records of 16 KiB into a pooled per-connection buffer that one io_uring send sends. The
 * owner sees no difference apart from `secured`, alpn() and ssl() (see tls.c for the data
 * path, tls_ktls.c for the kernel TLS hand-over).
 *
 * Every SSL_CTX the configuration makes goes through tls_transport_prepare_ctx first: it sets
 * the modes and callbacks the transport relies on.
 *
 * Single-threaded: a connection's transport belongs to its worker; tls_transport_prepare_ctx
 * runs where the configuration is built (before the context is shared with the workers).
 */
#pragma once

#include "core/net/transport.h"

#include <openssl/types.h>
#include <stdbool.h>
#include <stddef.h>

extern const struct transport_ops transport_tls;

/*
 * Sets ctx up for the transport: partial writes and moving write buffers (records are written
 * into the connection's send buffer as room allows), renegotiation refused, and the message
 * and key-log callbacks that kernel TLS needs (record counts and traffic secrets). Call it on
 * every SSL_CTX before the first SSL_new from it.
 */
void tls_transport_prepare_ctx(SSL_CTX *ctx);

/* A transport_init_fn: t over the connected socket fd, a TLS server over arg (an SSL_CTX *). */
void transport_tls_init(struct transport *t, int fd, struct transport_env *env,
                        const struct transport_events *ev, void *arg);

/* Frees the worker's TLS buffers (env->tls) once its connections are gone. */
void tls_env_fini(struct transport_env *env);
